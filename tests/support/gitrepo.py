"""Shared fixtures (filled in by the feature that needs them)."""
