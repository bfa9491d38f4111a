"""Owners manage their webhook endpoints: register, change, delete, rotate the secret, disable and enable,
redeliver a delivery or every event the endpoint missed, send a test event. Each service validates, runs in
one transaction and writes the audit log (never a secret). The views and the API authorise
(`manage_brokerage`) and call these."""

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import transaction
from django.utils import timezone

from .. import outbound
from ..models import Brokerage, User, WebhookDelivery, WebhookEndpoint
from ..services import apply_changes, audit_record
from . import selectors
from .delivery import deliveries_stop
from .events import PING, WEBHOOK_EVENTS, event_payload, queue_deliveries

SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix that marks the value as a webhook secret, not one)
# After a rotation the previous secret signs too for this long, so receivers can switch without a gap.
ROTATION_OVERLAP = dt.timedelta(hours=24)
MAX_ENDPOINTS = 20
MAX_URL_CHARS = 500
MAX_DESCRIPTION_CHARS = 200
# Events one "redeliver the failed" sends again: each is a queued task, so a long outage is replayed in turns.
REDELIVER_BATCH = 500
UPDATABLE_FIELDS = ("url", "description", "events")


def _new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def clean_url(url) -> str:
    """An http(s) address a delivery may go to, or ValidationError on `url` saying what to change.

    https is required unless DEBUG or WEBHOOKS_ALLOW_PRIVATE_TARGETS is on (deliveries carry clients' details).
    A private or local address, given or resolved, is refused. A name DNS does not know yet is accepted: it is
    resolved and checked again at every delivery.
    """
    url = str(url or "").strip()
    if not url:
        raise ValidationError({"url": "Give the receiver's address, e.g. https://crm.example.com/hooks/aep."})
    if len(url) > MAX_URL_CHARS:
        raise ValidationError({"url": f"Keep the address under {MAX_URL_CHARS} characters."})
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValidationError({"url": "Give a full http:// or https:// address, e.g. "
                                      "https://crm.example.com/hooks/aep."}) from None
    parts = urlsplit(url)
    if parts.username or parts.password:
        raise ValidationError({"url": "Leave user names and passwords out of the address: the signature proves "
                                      "each delivery is ours."})
    if parts.scheme != "https" and not (settings.DEBUG or settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS):
        raise ValidationError({"url": "Use an https:// address: deliveries carry your clients' details."})
    try:
        outbound.resolve(url)
    except outbound.UnresolvableHost:
        pass
    except outbound.RefusedTarget as error:
        raise ValidationError({"url": f"This address cannot receive webhooks: {error}. Use the receiver's public "
                                      "address."}) from None
    return url


def clean_events(events) -> list[str]:
    """The subscribed event names in catalogue order, or ValidationError on `events` naming the unknown ones."""
    if isinstance(events, str) or not isinstance(events, list | tuple) or not all(
            isinstance(name, str) for name in events):
        raise ValidationError({"events": "Give a list of event names, e.g. [\"lead.created\"]."})
    unknown = sorted({name for name in events if name not in WEBHOOK_EVENTS})
    if unknown:
        raise ValidationError({"events": f"Unknown event{'s' if len(unknown) > 1 else ''}: {', '.join(unknown)}. "
                                         f"Known events: {', '.join(WEBHOOK_EVENTS)}."})
    if not events:
        raise ValidationError({"events": "Pick at least one event."})
    return [name for name in WEBHOOK_EVENTS if name in events]


def clean_description(description) -> str:
    description = " ".join(str(description or "").split())
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise ValidationError({"description": f"Keep the description under {MAX_DESCRIPTION_CHARS} characters."})
    return description


_CLEANERS = {"url": clean_url, "events": clean_events, "description": clean_description}


def _cleaned(data: dict) -> dict:
    """Every field of `data` cleaned; all problems raised together, so a person fixes them in one go."""
    values, errors = {}, {}
    for name, value in data.items():
        try:
            values[name] = _CLEANERS[name](value)
        except ValidationError as error:
            errors.update(error.message_dict)
    if errors:
        raise ValidationError(errors)
    return values


@transaction.atomic
def webhook_endpoint_create(*, brokerage: Brokerage, actor: User, url: str, events: list[str],
                            description: str = "") -> tuple[WebhookEndpoint, str]:
    """Register a receiver for some events. Returns the endpoint and its signing secret (`whsec_…`), which
    the caller shows once. At most MAX_ENDPOINTS per brokerage; invalid fields raise ValidationError."""
    values = _cleaned({"url": url, "events": events, "description": description})
    if WebhookEndpoint.objects.filter(brokerage=brokerage).count() >= MAX_ENDPOINTS:
        raise ValidationError(f"A brokerage has at most {MAX_ENDPOINTS} webhook endpoints; delete one you no "
                              "longer use first.")
    secret = _new_secret()
    endpoint = WebhookEndpoint(brokerage=brokerage, secret=secret, created_by=actor, **values)
    endpoint.full_clean(exclude=["brokerage", "created_by"])
    endpoint.save()
    audit_record(brokerage=brokerage, actor=actor, action="webhook.endpoint_created", resource=endpoint,
                 details={"url": endpoint.url, "events": endpoint.events})
    return endpoint, secret


def _locked(brokerage: Brokerage, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk, brokerage=brokerage)


@transaction.atomic
def webhook_endpoint_update(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint,
                            data: dict) -> WebhookEndpoint:
    """Change the address, description or events named in `data`, and enable or disable the endpoint with
    `is_active` (as `webhook_endpoint_enable`/`_disable` do); other fields raise ValidationError. All or nothing."""
    unknown = sorted(set(data) - {*UPDATABLE_FIELDS, "is_active"})
    if unknown:
        raise ValidationError({name: "This field cannot be changed here." for name in unknown})
    values = _cleaned({name: value for name, value in data.items() if name != "is_active"})
    endpoint = _locked(brokerage, endpoint)
    changed = apply_changes(endpoint, UPDATABLE_FIELDS, values)
    if changed:
        endpoint.full_clean(exclude=["brokerage", "created_by"])
        endpoint.save()
        audit_record(brokerage=brokerage, actor=actor, action="webhook.endpoint_updated", resource=endpoint,
                     details={"changes": changed})
    if "is_active" in data:
        switch = webhook_endpoint_enable if data["is_active"] else webhook_endpoint_disable
        endpoint = switch(brokerage=brokerage, actor=actor, endpoint=endpoint)
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint) -> None:
    """Remove the endpoint and its delivery log; nothing more is sent to it."""
    endpoint = _locked(brokerage, endpoint)
    details = {"url": endpoint.url, "events": endpoint.events}
    audit_record(brokerage=brokerage, actor=actor, action="webhook.endpoint_deleted", resource=endpoint,
                 details=details)
    endpoint.delete()


@transaction.atomic
def webhook_endpoint_rotate_secret(*, brokerage: Brokerage, actor: User,
                                   endpoint: WebhookEndpoint) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (returned, to show once); the one it replaces still signs for ROTATION_OVERLAP.
    Rotating again within the overlap drops the oldest secret at once."""
    endpoint = _locked(brokerage, endpoint)
    secret = _new_secret()
    expires = timezone.now() + ROTATION_OVERLAP
    endpoint.previous_secret, endpoint.previous_secret_expires_at = endpoint.secret, expires
    endpoint.secret = secret
    endpoint.save(update_fields=["secret", "previous_secret", "previous_secret_expires_at", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="webhook.secret_rotated", resource=endpoint,
                 details={"url": endpoint.url, "previous_secret_valid_until": expires.isoformat()})
    return endpoint, secret


@transaction.atomic
def webhook_endpoint_enable(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Deliver to the endpoint again, its failure count reset. Deliveries that failed or were held meanwhile
    stay failed until an owner redelivers them (`webhook_redeliver_failed`, or one by one)."""
    endpoint = _locked(brokerage, endpoint)
    if not endpoint.is_active:
        reason = endpoint.disabled_reason
        endpoint.is_active, endpoint.consecutive_failures, endpoint.disabled_reason = True, 0, ""
        endpoint.save(update_fields=["is_active", "consecutive_failures", "disabled_reason", "updated_at"])
        audit_record(brokerage=brokerage, actor=actor, action="webhook.endpoint_enabled", resource=endpoint,
                     details={"url": endpoint.url, "was": reason})
    return endpoint


@transaction.atomic
def webhook_endpoint_disable(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint) -> WebhookEndpoint:
    """Stop delivering to the endpoint: no new deliveries, and the waiting ones fail."""
    endpoint = _locked(brokerage, endpoint)
    if endpoint.is_active:
        endpoint.is_active = False
        endpoint.disabled_reason = f"Disabled by {actor.display_name}."[:300]
        endpoint.save(update_fields=["is_active", "disabled_reason", "updated_at"])
        stopped = deliveries_stop(endpoint, "Not sent: the endpoint was disabled.")
        audit_record(brokerage=brokerage, actor=actor, action="webhook.endpoint_disabled", resource=endpoint,
                     details={"url": endpoint.url, "deliveries_stopped": stopped})
    return endpoint


@transaction.atomic
def webhook_redeliver(*, brokerage: Brokerage, actor: User, delivery: WebhookDelivery) -> WebhookDelivery:
    """Send a delivery's event to its endpoint again, as a new delivery with the same `event_id` and payload
    (receivers drop duplicates by it). The endpoint must be enabled."""
    endpoint = _locked(brokerage, delivery.endpoint)
    if not endpoint.is_active:
        raise ValidationError("This endpoint is disabled; enable it before redelivering.")
    again = WebhookDelivery(brokerage=brokerage, endpoint=endpoint, event=delivery.event,
                            event_id=delivery.event_id, payload=delivery.payload, redelivery_of=delivery,
                            next_attempt_at=timezone.now())
    [again] = queue_deliveries([again])
    audit_record(brokerage=brokerage, actor=actor, action="webhook.redelivered", resource=again,
                 details={"url": endpoint.url, "event": delivery.event, "event_id": str(delivery.event_id),
                          "redelivery_of": delivery.pk})
    return again


@dataclass(frozen=True)
class Redelivery:
    queued: int  # events sent again by this call
    remaining: int  # events still never received, for the next call


@transaction.atomic
def webhook_redeliver_failed(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint) -> Redelivery:
    """Send again, oldest first, every event the endpoint never received: its deliveries failed, or were held
    while it was disabled after repeated failures (`selectors.webhook_failed_events`). Each goes as a new
    delivery of the same event (same `event_id` and payload), at most REDELIVER_BATCH per call.

    The endpoint must be enabled. Safe to repeat: an event with a delivery waiting or delivered is not sent
    again, and two owners at once take turns on the endpoint's lock.
    """
    endpoint = _locked(brokerage, endpoint)
    if not endpoint.is_active:
        raise ValidationError("This endpoint is disabled; enable it before redelivering.")
    failed = selectors.webhook_failed_events(brokerage, endpoint)
    now = timezone.now()
    again = queue_deliveries([
        WebhookDelivery(brokerage=brokerage, endpoint=endpoint, event=delivery.event, event_id=delivery.event_id,
                        payload=delivery.payload, redelivery_of=delivery, next_attempt_at=now, created_at=now)
        for delivery in failed[:REDELIVER_BATCH]])
    result = Redelivery(queued=len(again), remaining=failed.count())
    if again:
        audit_record(brokerage=brokerage, actor=actor, action="webhook.failed_redelivered", resource=endpoint,
                     details={"url": endpoint.url, "queued": result.queued, "remaining": result.remaining})
    return result


@transaction.atomic
def webhook_ping(*, brokerage: Brokerage, actor: User, endpoint: WebhookEndpoint) -> WebhookDelivery:
    """Send the test event `ping` to the endpoint, once, whatever it subscribes to and even while it is
    disabled (to check a fixed receiver before enabling it). Its outcome does not count towards disabling."""
    event_id = uuid.uuid4()
    payload = event_payload(brokerage=brokerage, event=PING, event_id=event_id, data={
        "endpoint_id": endpoint.pk, "message": f"A test event from {brokerage.name}: this endpoint is reachable."})
    ping = WebhookDelivery(brokerage=brokerage, endpoint=endpoint, event=PING, event_id=event_id, payload=payload,
                           next_attempt_at=timezone.now())
    [ping] = queue_deliveries([ping])
    audit_record(brokerage=brokerage, actor=actor, action="webhook.ping_sent", resource=endpoint,
                 details={"url": endpoint.url})
    return ping
