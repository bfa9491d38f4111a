"""Reads of webhook endpoints and deliveries. Each takes the tenant explicitly; another brokerage's object
answers 404."""

from django.db.models import OuterRef, QuerySet, Subquery
from django.shortcuts import get_object_or_404

from ..models import Brokerage, WebhookDelivery, WebhookEndpoint


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
