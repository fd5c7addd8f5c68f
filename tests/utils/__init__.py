"""Helpers shared by tests (import as ``tests.utils.<module>``)."""
