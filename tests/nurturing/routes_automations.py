"""Isolation cases for the automations routes (merged into tests/test_isolation.py's ROUTES)."""

ROUTES: dict = {}
