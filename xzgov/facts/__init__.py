"""Fact extractors per enforcement point: ``manifest`` (register), ``resources`` (planned objects), ``host`` (SSH)."""
