"""Isolation cases for the followups routes (merged into tests/test_isolation.py's ROUTES)."""

ROUTES: dict = {}
