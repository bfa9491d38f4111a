"""Isolation cases for the ingestion routes (merged into tests/test_isolation.py's ROUTES)."""

ROUTES: dict = {}
