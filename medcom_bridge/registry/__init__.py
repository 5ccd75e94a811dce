"""SOR, SOR-EDI and the EHMI endpoint register: import, lookups, routing decision, quality report.

Readers (bytes or binary file in, values out): `sor_xml.read_sor_xml`, `sor_edi.read_sor_edi_csv`,
`eer.read_eer`. `register.Register.build(...)` indexes them and implements `medcom_bridge.directory.Directory`;
`routing.decide` is use case R1; `quality.report` runs rules R01-R16 and `report_html.render` draws the page;
`shell.load_register` is the one place that opens register files. `synthetic.generate` makes national-size
test data with planted defects.
"""
