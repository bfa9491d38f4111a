"""Data rights on the brokerage's own records: removing erased personal data from the audit log, notifications
and webhook deliveries (`nurturing.services.erasure` names what to remove), and pruning the webhook delivery log
past its retention period (`coaching.services.retention` runs it nightly).

The audit log is append-only everywhere else. Here, and only here, an entry's `details` are rewritten, because
the right to erasure covers the copies of a person's data the log holds; who did what to which record, and
when, is kept, and the rewrite is itself logged by the caller.
"""

import datetime as dt
import re
from collections.abc import Iterable

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .models import AuditLog, Brokerage, Notification, WebhookDelivery
from .selectors import setting_value

# What replaces erased personal data wherever it was copied.
ERASED = "[erased]"
PRUNE_BATCH = 1000


def _pattern(values: Iterable[str]) -> re.Pattern | None:
    needles = sorted({value.strip() for value in values if value and value.strip()}, key=len, reverse=True)
    if not needles:
        return None
    # Whole words only: erasing "Ali" leaves "Alice" alone.
    return re.compile("|".join(rf"(?<!\w){re.escape(needle)}(?!\w)" for needle in needles), re.IGNORECASE)


def scrub(value, values: Iterable[str], replacement: str = ERASED):
    """`value` (text, or JSON made of dicts, lists and text) with every occurrence of `values` replaced."""
    pattern = values if isinstance(values, re.Pattern) else _pattern(values)
    if pattern is None:
        return value
    if isinstance(value, str):
        return pattern.sub(replacement, value)
    if isinstance(value, dict):
        return {key: scrub(item, pattern, replacement) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, pattern, replacement) for item in value]
    return value


def audit_entries_redact(*, brokerage: Brokerage, entries: Q, values: Iterable[str],
                         fields: Iterable[str] = ()) -> int:
    """Rewrite the details of the brokerage's audit entries matching `entries`: the recorded changes of `fields`
    become ERASED, and `values` are scrubbed from everything else. Returns how many entries changed."""
    pattern, fields = _pattern(values), set(fields)
    changed = 0
    # The base manager's queryset is a plain one: the append-only guard is on the default manager.
    for pk, details in AuditLog._base_manager.filter(entries, brokerage=brokerage).values_list("pk", "details"):
        redacted = scrub(details, pattern) if pattern else dict(details)
        if isinstance(redacted.get("changes"), dict):
            redacted["changes"] = {name: [ERASED, ERASED] if name in fields else pair
                                   for name, pair in redacted["changes"].items()}
        if redacted != details:
            AuditLog._base_manager.filter(pk=pk).update(details=redacted)
            changed += 1
    return changed


def notifications_redact(*, brokerage: Brokerage, values: Iterable[str], replacement: str = ERASED,
                         url: str | None = None) -> int:
    """Scrub `values` from the text of the brokerage's in-app notifications (only those linking to `url`, when
    given); returns how many changed."""
    values = [value.strip() for value in values if value and value.strip()]
    pattern = _pattern(values)
    if pattern is None:
        return 0
    mentions = Q()
    for value in values:
        mentions |= Q(message__icontains=value)
    found = Notification.objects.filter(mentions, brokerage=brokerage)
    if url is not None:
        found = found.filter(url=url)
    changed = []
    for notification in found.only("pk", "message"):
        message = scrub(notification.message, pattern, replacement)[:500]
        if message != notification.message:
            notification.message = message
            changed.append(notification)
    Notification.objects.bulk_update(changed, ["message"])
    return len(changed)


def webhook_deliveries_redact(*, brokerage: Brokerage, deliveries: Q, reason: str) -> int:
    """Replace the event data of the brokerage's deliveries matching `deliveries` with a note of `reason`; those
    not sent yet are failed with the reason, so they never leave. Returns how many were redacted."""
    matched = WebhookDelivery.objects.filter(deliveries, brokerage=brokerage)
    matched.filter(status__in=[WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING]).update(
        status=WebhookDelivery.Status.FAILED, next_attempt_at=None, error=reason[:300])
    redacted = []
    for delivery in matched.only("pk", "payload"):
        delivery.payload = {**delivery.payload, "data": {"redacted": reason}}
        redacted.append(delivery)
    WebhookDelivery.objects.bulk_update(redacted, ["payload"])
    return len(redacted)


def webhook_deliveries_prune(*, brokerage: Brokerage, now: dt.datetime | None = None) -> int:
    """Delete the brokerage's finished webhook deliveries (delivered or failed) older than its
    `webhook_delivery_retention_days` (0 keeps them); deliveries still to be tried are never pruned.
    Returns how many were deleted."""
    days = setting_value(brokerage, "webhook_delivery_retention_days")
    if not days:
        return 0
    cutoff = (now or timezone.now()) - dt.timedelta(days=days)
    old = WebhookDelivery.objects.filter(brokerage=brokerage, created_at__lt=cutoff, status__in=[
        WebhookDelivery.Status.SUCCEEDED, WebhookDelivery.Status.FAILED])
    deleted = 0
    # In batches: a busy brokerage's first prune may remove hundreds of thousands of rows.
    while batch := list(old.values_list("pk", flat=True)[:PRUNE_BATCH]):
        with transaction.atomic():
            deleted += WebhookDelivery.objects.filter(pk__in=batch).delete()[0]
    return deleted
