"""Shared pytest fixtures, loaded by tests/conftest.py as a plugin (see fixtures.py)."""
