"""The core layer: errors, YAML with positions, schemas, the typed model, the register and the inventory.

Imports nothing of the project but itself; every other layer builds on it (``docs/architecture.md``).
"""
