"""Fixtures of the nurturing tests: the fake model server of the co-pilot tests (for the model-backed drafting
engine) and the in-memory SMS/WhatsApp backend."""

import pytest

from nurturing.messaging import LocmemBackend

from ..copilot.conftest import brokerage_on_fake_claude, fake  # noqa: F401  (fixture re-exported for these tests)


@pytest.fixture
def outbox(settings):
    """SMS and WhatsApp messages "sent" during the test."""
    settings.NURTURING_MESSAGE_BACKEND = "nurturing.messaging.LocmemBackend"
    LocmemBackend.outbox = []
    yield LocmemBackend.outbox
    LocmemBackend.outbox = []


@pytest.fixture
def claude(tenant, settings, fake):  # noqa: F811  (the fake server fixture above)
    """The tenant's brokerage set to Claude, whose API is the fake server."""
    brokerage_on_fake_claude(settings, fake, tenant.brokerage, tenant.owner)
    return tenant
