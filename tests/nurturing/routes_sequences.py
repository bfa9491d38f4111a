"""Isolation cases for the sequences routes (merged into tests/test_isolation.py's ROUTES)."""

ROUTES: dict = {}
