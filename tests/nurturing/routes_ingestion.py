"""Isolation cases for the ingestion routes (merged into tests/test_isolation.py's ROUTES).

Owners and support staff import leads (manage_leads); owners run the lead webhook (manage_nurturing). The
webhook endpoint itself has no user: a sender proves itself with the body's signature. Its case is marked
SIGNED; the matrix's session-based tests do not apply to it, and tests/nurturing/test_ingestion_webhook.py
covers it (another brokerage's token or secret: 401/404 and nothing stored)."""

from brokerages.models import User
from nurturing.services.ingestion import import_upload_store
from nurturing.services.lead_webhook import lead_webhook_ensure

from ..conftest import Tenant
from ..isolation import MANAGERS, OWNER, SIGNED, Case

CSV = b"Full Name,E-mail\nLayla Haddad,layla@example.test\n"


def upload(tenant: Tenant, member: User) -> dict:
    return {"pk": import_upload_store(brokerage=tenant.brokerage, data=CSV)}


def webhook_token(tenant: Tenant, member: User) -> dict:
    webhook, _ = lead_webhook_ensure(brokerage=tenant.brokerage, actor=tenant.owner)
    return {"token": webhook.token}


ROUTES = {
    "nurturing:import": [Case(MANAGERS, ("GET", "POST"))],
    "nurturing:import_map": [Case(MANAGERS, ("GET", "POST"), objects=upload)],
    "nurturing:lead_webhook_settings": [Case(frozenset({OWNER}), ("GET", "POST"))],
    "nurturing:lead_webhook_rotate": [Case(frozenset({OWNER}), ("POST",))],
    "nurturing:lead_webhook": [Case(SIGNED, ("POST",), objects=webhook_token)],
    "api-nurturing-leads-import": [Case(MANAGERS, ("POST",), api=True)],
}
