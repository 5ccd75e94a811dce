"""The imperative shell around the pure packages: reading register and message files, clocks and new ids.

`fhir/`, `oioxml/`, `envelope/`, `convert/` and `registry/` take bytes and values only; what touches the file
system or the clock for them lives here, used by the command line (`medcom_bridge.cli`), the hub and the web layer.
"""
