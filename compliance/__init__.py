"""Compliance: standards catalogues (``compliance.catalogue``), scoring (``compliance.scoring``)."""
