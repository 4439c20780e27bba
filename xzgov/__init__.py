"""xzgov: the Xizang digital-government cloud framework (register, stacks, hardening, compliance)."""

__version__ = "0.1.0"
