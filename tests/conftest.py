"""Shared pytest configuration. Area-specific fixtures live in each area's conftest or plugin."""
