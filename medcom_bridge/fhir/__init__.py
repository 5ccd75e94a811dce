"""FHIR CareCommunication and Acknowledgement: wire formats (codec), the bundle view (model), and the
validator, builder and renderer built on them."""
