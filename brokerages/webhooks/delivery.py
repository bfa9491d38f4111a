"""Delivering one webhook: sign, POST, record, and retry with backoff or give up.

A delivery is attempted by the Celery task `brokerages.tasks.webhook_deliver_task`, queued when the event's
transaction commits and again (with a countdown) after each failed attempt. Its row says where it stands:

- pending/retrying with `next_attempt_at`: when the next attempt may start. While an attempt is in flight the
  row holds a lease instead (`next_attempt_at` = now + timeout + LEASE_MARGIN), so a duplicate message, or the
  sweep, leaves it alone; a worker that dies mid-attempt leaves a lease that runs out.
- succeeded / failed: final. A final delivery is never sent again by a task; an owner may redeliver it, which
  makes a new delivery of the same event (same `event_id`).

`webhook_deliveries_sweep` (every minute, from Celery beat) re-queues deliveries that are overdue by more than
SWEEP_GRACE: their message was lost (a broker restart, a worker killed after taking it).

Every failed attempt counts against the endpoint; a success resets the count. At
`settings.WEBHOOKS_DISABLE_AFTER_FAILURES` failures in a row the endpoint is disabled, its waiting deliveries
fail, and the brokerage's owners get a notification. While it stays disabled that way, its events are still
stored, failed and unsent (`events.held`), so nothing is lost: once the receiver is back and an owner enables the
endpoint, `services.webhook_redeliver_failed` sends every event it missed.
"""

import datetime as dt
import hashlib
import hmac
import json
import time
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from .. import outbound
from ..models import Role, User, WebhookDelivery, WebhookEndpoint
from ..services import audit_record, notify
from .events import HELD_ERROR, PING, WAITING

USER_AGENT = "AgentExcellence-Webhooks/1"
# Added to the timeout to make an attempt's lease; also what the task's time limits add (brokerages.tasks).
LEASE_MARGIN = dt.timedelta(seconds=60)
# A due delivery untouched this long after its time lost its message; the sweep queues it again.
SWEEP_GRACE = dt.timedelta(minutes=2)
SWEEP_BATCH = 1000
# A task may start a moment before the time its row says (clocks of the worker and of the scheduling process).
CLOCK_SLACK = dt.timedelta(seconds=2)


def webhook_signature(secret: str, timestamp: int | str, body: bytes) -> str:
    """The hex HMAC-SHA256, keyed by the secret (as shown, `whsec_` included), of `<timestamp>.<body>`."""
    return hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def signature_header(endpoint: WebhookEndpoint, timestamp: int, body: bytes, now: dt.datetime) -> str:
    """`v1=<hex>` with the current secret, then `, v1=<hex>` with the previous one while it is still valid."""
    secrets = [endpoint.secret]
    if endpoint.previous_secret and endpoint.previous_secret_expires_at and endpoint.previous_secret_expires_at > now:
        secrets.append(endpoint.previous_secret)
    return ", ".join(f"v1={webhook_signature(secret, timestamp, body)}" for secret in secrets)


def delivery_body(payload: dict) -> bytes:
    """The bytes sent (and signed): compact JSON with sorted keys, ASCII only."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def max_attempts(event: str) -> int:
    return 1 if event == PING else len(settings.WEBHOOKS_RETRY_DELAYS) + 1


@dataclass(frozen=True)
class _Outcome:
    ok: bool
    status: int | None
    latency_ms: int | None
    excerpt: str
    error: str


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """Make one attempt at the delivery, if it is due, and record what happened.

    Before: any state (the task may be a duplicate). After: a waiting, due delivery was attempted once — no
    database lock is held while the receiver is called — and is succeeded, retrying (with `next_attempt_at` and
    a queued task) or failed (attempts used up, or its endpoint disabled). Returns the delivery attempted, or
    None when there was nothing to do (final, not due, in flight elsewhere, gone).
    """
    claimed = _claim(delivery_id)
    if claimed is None:
        return None
    delivery, endpoint = claimed
    body = delivery_body(delivery.payload)
    timestamp = int(time.time())
    headers = {"User-Agent": USER_AGENT, "X-AEP-Event": delivery.event, "X-AEP-Delivery": str(delivery.event_id),
               "X-AEP-Timestamp": str(timestamp),
               "X-AEP-Signature": signature_header(endpoint, timestamp, body, timezone.now())}
    try:
        answer = outbound.post(endpoint.url, body, headers=headers)
    except outbound.OutboundError as error:
        outcome = _Outcome(False, None, error.latency_ms, "", str(error))
    else:
        outcome = _Outcome(answer.ok, answer.status, answer.latency_ms, answer.excerpt, answer.failure)
    return _record(delivery, outcome)


def _claim(delivery_id: int) -> tuple[WebhookDelivery, WebhookEndpoint] | None:
    now = timezone.now()
    with transaction.atomic():
        delivery = (WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
                    .select_related("endpoint").filter(pk=delivery_id).first())
        if delivery is None or delivery.status not in WAITING:
            return None
        if delivery.next_attempt_at is not None and delivery.next_attempt_at > now + CLOCK_SLACK:
            return None
        endpoint = delivery.endpoint
        if not endpoint.is_active and delivery.event != PING:
            _finish(delivery, WebhookDelivery.Status.FAILED, error="Not sent: the endpoint is disabled.")
            return None
        delivery.attempts += 1
        delivery.next_attempt_at = now + dt.timedelta(seconds=settings.WEBHOOKS_TIMEOUT_SECONDS) + LEASE_MARGIN
        delivery.save(update_fields=["attempts", "next_attempt_at"])
    return delivery, endpoint


def _finish(delivery: WebhookDelivery, status: str, *, error: str = "") -> None:
    delivery.status, delivery.next_attempt_at, delivery.error = status, None, error[:300]
    delivery.save(update_fields=["status", "next_attempt_at", "error"])


def _record(delivery: WebhookDelivery, outcome: _Outcome) -> WebhookDelivery | None:
    from ..tasks import webhook_deliver_task  # the task module imports this one

    now = timezone.now()
    with transaction.atomic():
        # Endpoint first, then delivery: the order every writer of both follows.
        endpoint = WebhookEndpoint.objects.select_for_update().filter(pk=delivery.endpoint_id).first()
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery.pk).first()
        if endpoint is None or delivery is None:
            return None  # deleted with its endpoint while the attempt was in flight
        delivery.response_status, delivery.latency_ms = outcome.status, outcome.latency_ms
        delivery.response_excerpt, delivery.error = outcome.excerpt, outcome.error[:300]
        disable = False
        if outcome.ok:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.SUCCEEDED, now, None)
            if endpoint.consecutive_failures:
                endpoint.consecutive_failures = 0
                endpoint.save(update_fields=["consecutive_failures"])
        else:
            if delivery.event != PING:
                endpoint.consecutive_failures += 1
                endpoint.save(update_fields=["consecutive_failures"])
                disable = (endpoint.is_active
                           and endpoint.consecutive_failures >= settings.WEBHOOKS_DISABLE_AFTER_FAILURES)
            if not disable and endpoint.is_active and delivery.attempts < max_attempts(delivery.event):
                wait = settings.WEBHOOKS_RETRY_DELAYS[delivery.attempts - 1]
                delivery.status = WebhookDelivery.Status.RETRYING
                delivery.next_attempt_at = now + dt.timedelta(seconds=wait)
                webhook_deliver_task.apply_async_on_commit(kwargs={"delivery_id": delivery.pk}, countdown=wait)
            else:
                delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        delivery.save()
        if disable:
            _disable_after_failures(endpoint, outcome.error)
    return delivery


def deliveries_stop(endpoint: WebhookEndpoint, reason: str) -> int:
    """Fail the endpoint's waiting deliveries (it was disabled); returns how many. Call it holding the
    endpoint's lock. A row another transaction holds at that moment (an attempt being claimed) is skipped: the
    attempt's outcome is recorded, and it is not retried for a disabled endpoint."""
    waiting = list(WebhookDelivery.objects.select_for_update(skip_locked=True)
                   .filter(endpoint=endpoint, status__in=WAITING).values_list("pk", flat=True))
    return WebhookDelivery.objects.filter(pk__in=waiting).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, error=reason[:300])


def _disable_after_failures(endpoint: WebhookEndpoint, last_error: str) -> None:
    failures = endpoint.consecutive_failures
    endpoint.is_active = False
    endpoint.disabled_reason = (f"Disabled automatically after {failures} failed deliveries in a row "
                                f"(last: {last_error}).")[:300]
    endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
    stopped = deliveries_stop(endpoint, HELD_ERROR)
    audit_record(brokerage=endpoint.brokerage, actor=None, action="webhook.endpoint_disabled", resource=endpoint,
                 details={"url": endpoint.url, "failures": failures, "last_error": last_error,
                          "deliveries_stopped": stopped})
    owners = User.objects.filter(brokerage_id=endpoint.brokerage_id, role=Role.BROKERAGE_OWNER, is_active=True)
    url = reverse("brokerages:webhook", args=[endpoint.pk])
    for owner in owners:
        notify(brokerage=endpoint.brokerage, recipient=owner, kind="webhook_disabled", url=url,
               key=f"webhook-disabled-{endpoint.pk}-{timezone.now():%Y%m%d%H%M%S}",
               message=f"The webhook endpoint {endpoint.url} was disabled after {failures} failed deliveries in a "
                       f"row. Its events are kept: fix the receiver, enable the endpoint again, then redeliver "
                       f"the failed deliveries.")


def webhook_deliveries_sweep(*, now: dt.datetime | None = None) -> int:
    """Queue again the waiting deliveries overdue by more than SWEEP_GRACE (at most SWEEP_BATCH a run).

    Their `next_attempt_at` moves to now, so the next sweeps leave them alone for another SWEEP_GRACE even if
    the queue is slow; rows another sweep holds are skipped. Runs across brokerages (call it unscoped).
    Returns how many were queued.
    """
    from ..tasks import webhook_deliver_task  # the task module imports this one

    now = now or timezone.now()
    with transaction.atomic():
        due = list(WebhookDelivery.objects.select_for_update(skip_locked=True)
                   .filter(status__in=WAITING, next_attempt_at__lte=now - SWEEP_GRACE)
                   .order_by("next_attempt_at").values_list("pk", flat=True)[:SWEEP_BATCH])
        WebhookDelivery.objects.filter(pk__in=due).update(next_attempt_at=now)
        for pk in due:
            webhook_deliver_task.delay_on_commit(delivery_id=pk)
    return len(due)
