"""Reads of webhook endpoints and deliveries. Each takes the tenant explicitly; another brokerage's object
answers 404."""

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from ..models import Brokerage, WebhookDelivery, WebhookEndpoint
from .events import PING


def webhook_endpoints(brokerage: Brokerage) -> QuerySet[WebhookEndpoint]:
    """The brokerage's endpoints, newest first, each with `last_delivery_at` and `last_status` (read through
    the deliveries' endpoint/time index, one row per endpoint)."""
    last = WebhookDelivery.objects.filter(endpoint=OuterRef("pk")).order_by("-created_at", "-pk")
    return WebhookEndpoint.objects.filter(brokerage=brokerage).annotate(
        last_delivery_at=Subquery(last.values("created_at")[:1]), last_status=Subquery(last.values("status")[:1]))


def webhook_endpoint_get(brokerage: Brokerage, pk: int) -> WebhookEndpoint:
    return get_object_or_404(WebhookEndpoint, pk=pk, brokerage=brokerage)


def webhook_deliveries(brokerage: Brokerage, endpoint: WebhookEndpoint, *, status: str = "",
                       event: str = "") -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first, narrowed by status and event name."""
    found = WebhookDelivery.objects.filter(brokerage=brokerage, endpoint=endpoint)
    if status:
        found = found.filter(status=status)
    if event:
        found = found.filter(event=event)
    return found.order_by("-created_at", "-pk")


def webhook_delivery_get(brokerage: Brokerage, pk: int) -> WebhookDelivery:
    return get_object_or_404(WebhookDelivery.objects.select_related("endpoint"), pk=pk, brokerage=brokerage)


def webhook_failed_events(brokerage: Brokerage, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The events the endpoint never received, one delivery each (the last that failed), oldest first: every
    delivery of the event to the endpoint failed or was held while it was disabled, and none is waiting. Test
    events are left out."""
    tried = WebhookDelivery.objects.filter(endpoint=endpoint, event_id=OuterRef("event_id"))
    failed = WebhookDelivery.Status.FAILED
    return (WebhookDelivery.objects.filter(brokerage=brokerage, endpoint=endpoint, status=failed)
            .exclude(event=PING)
            .exclude(Exists(tried.exclude(status=failed)))
            .exclude(Exists(tried.filter(pk__gt=OuterRef("pk"))))
            .order_by("created_at", "pk"))
