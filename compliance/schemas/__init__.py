"""JSON Schemas of waiver and attestation records (data; a package so installs ship them)."""
