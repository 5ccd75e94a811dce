"""medcom-bridge: Danish clinical correspondence across the move from OIOXML/EDIFACT to HL7 FHIR."""

__version__ = "0.2.0"
