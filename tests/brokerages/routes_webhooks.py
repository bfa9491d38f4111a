"""Isolation cases of the outbound webhooks: pages and API are the owners' (`manage_brokerage`); another
brokerage's endpoint or delivery answers 404, whatever the caller's role."""

import uuid

from brokerages.models import WebhookDelivery, WebhookEndpoint
from tests.isolation import OWNER, Case

OWNERS = frozenset({OWNER})


def make_endpoint(tenant) -> WebhookEndpoint:
    return WebhookEndpoint.objects.create(brokerage=tenant.brokerage, url="https://hooks.example.com/aep",
                                          events=["lead.created"], secret="whsec_isolation", created_by=tenant.owner)


def endpoint(tenant, member) -> dict:
    return {"pk": make_endpoint(tenant).pk}


def delivery(tenant, member) -> dict:
    made = WebhookDelivery.objects.create(brokerage=tenant.brokerage, endpoint=make_endpoint(tenant),
                                          event="lead.created", event_id=uuid.uuid4(), payload={"id": "x"},
                                          status=WebhookDelivery.Status.SUCCEEDED)
    return {"pk": made.pk}


ROUTES: dict = {
    "brokerages:webhooks": [Case(OWNERS, ("GET", "POST"))],
    "brokerages:webhook": [Case(OWNERS, ("GET", "POST"), objects=endpoint)],
    "brokerages:webhook_rotate": [Case(OWNERS, ("POST",), objects=endpoint)],
    "brokerages:webhook_active": [Case(OWNERS, ("POST",), objects=endpoint, data={"active": "0"})],
    "brokerages:webhook_ping": [Case(OWNERS, ("POST",), objects=endpoint)],
    "brokerages:webhook_delete": [Case(OWNERS, ("POST",), objects=endpoint)],
    "brokerages:webhook_redeliver": [Case(OWNERS, ("POST",), objects=delivery)],
    "brokerages:webhook_redeliver_failed": [Case(OWNERS, ("POST",), objects=endpoint)],
    "api-brokerage-webhooks": [Case(OWNERS, ("GET", "POST"), api=True)],
    "api-brokerage-webhook": [Case(OWNERS, ("GET", "PATCH", "DELETE"), objects=endpoint, api=True)],
    "api-brokerage-webhook-rotate-secret": [Case(OWNERS, ("POST",), objects=endpoint, api=True)],
    "api-brokerage-webhook-ping": [Case(OWNERS, ("POST",), objects=endpoint, api=True)],
    "api-brokerage-webhook-deliveries": [Case(OWNERS, ("GET",), objects=endpoint, api=True)],
    "api-brokerage-webhook-redeliver": [Case(OWNERS, ("POST",), objects=delivery, api=True)],
    "api-brokerage-webhook-redeliver-failed": [Case(OWNERS, ("POST",), objects=endpoint, api=True)],
    "api-brokerage-webhook-events": [Case(OWNERS, ("GET",), api=True)],
}
