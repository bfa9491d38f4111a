"""Isolation cases for the data rights pages and API routes: the data export and a lead's erasure are the
owners' (merged into tests/test_isolation.py's ROUTES)."""

from tests.factories import make_lead
from tests.isolation import OWNER, Case

from .helpers import build_export

OWNERS = frozenset({OWNER})


def ready_export(tenant, member) -> dict:
    return {"pk": build_export(tenant.owner, include_media=False).pk}


def lead(tenant, member) -> dict:
    return {"pk": make_lead(tenant.brokerage, agent=tenant.agent, name="Omar Khalil").pk}


ROUTES: dict = {
    "brokerages:data_exports": [Case(OWNERS)],
    "brokerages:data_export_create": [Case(OWNERS, ("POST",))],
    "brokerages:data_export_download": [Case(OWNERS, objects=ready_export)],
    "nurturing:lead_erase": [Case(OWNERS, ("GET", "POST"), objects=lead)],
    "api-brokerage-exports": [Case(OWNERS, ("GET", "POST"), api=True)],
    "api-brokerage-export-download": [Case(OWNERS, ("GET",), objects=ready_export, api=True)],
    "api-nurturing-lead-erase": [Case(OWNERS, ("POST",), objects=lead, api=True)],
}
