"""Report schemas: own JSON report schema, vendored SARIF 2.1.0 and OSCAL 1.2.3 (see README.md)."""
