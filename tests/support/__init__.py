"""Fixtures and helpers shared by the test modules; loaded as pytest plugins by conftest."""
