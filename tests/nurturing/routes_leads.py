"""Isolation cases for the leads routes (merged into tests/test_isolation.py's ROUTES)."""

ROUTES: dict = {}
