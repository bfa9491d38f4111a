"""Celery tasks of the nurturing engine (thin: re-fetch by id, call one service). Celery's autodiscovery imports
this package, so every task module is imported here."""
from . import automations  # noqa: F401
from . import sweeps  # noqa: F401
