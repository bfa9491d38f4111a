"""Celery tasks of the brokerages app (thin: re-fetch by id, call one service)."""

from celery import shared_task
from django.conf import settings
from django_scopes import scope, scopes_disabled

from .models import WebhookDelivery
from .selectors import brokerage_id_of
from .exports import tasks as _export_tasks  # noqa: F401  (registers the archive build with the worker)
from .webhooks import delivery

# A delivery's attempt is bounded by the outbound timeout (brokerages.outbound); the limits are the backstop
# that frees the worker should anything else hang (the soft one raises inside the task, the hard one kills it).
_LIMIT = settings.WEBHOOKS_TIMEOUT_SECONDS + delivery.LEASE_MARGIN.total_seconds() / 2


@shared_task(ignore_result=True, soft_time_limit=_LIMIT, time_limit=_LIMIT + 10)
def webhook_deliver_task(*, delivery_id: int) -> None:
    """One attempt at a webhook delivery, in its brokerage's scope, when it is due; a duplicate message, a
    final delivery or one deleted with its endpoint is left alone (`webhooks.webhook_deliver`)."""
    brokerage_id = brokerage_id_of(WebhookDelivery, delivery_id)
    if brokerage_id is None:
        return
    with scope(brokerage=brokerage_id):
        delivery.webhook_deliver(delivery_id=delivery_id)


@shared_task(ignore_result=True)
def webhook_deliveries_sweep_task() -> None:
    """Every minute (beat): queue again the deliveries whose message was lost (`webhook_deliveries_sweep`)."""
    with scopes_disabled():
        delivery.webhook_deliveries_sweep()
