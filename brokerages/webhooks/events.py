"""The events other systems can subscribe to, and their emission.

A service that does something an integrator cares about calls `webhook_emit` inside its transaction. One
delivery row per active endpoint subscribed to the event is written there, and its Celery task is queued with
`delay_on_commit`: a transaction that rolls back leaves neither a row nor a message, so receivers never hear of
what did not happen. An endpoint disabled after repeated failures gets its row too, stored failed and not sent
(`held`), so that the events it misses can be redelivered once it is enabled again. An event nobody
subscribed to costs one indexed query (the brokerage's endpoints) and builds no payload: `data` may be a
function, called only when some endpoint listens.
"""

import json
import uuid
from collections.abc import Callable, Iterable

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db.models import Q
from django.utils import timezone

from ..models import Brokerage, User, WebhookDelivery, WebhookEndpoint

WEBHOOK_EVENTS: dict[str, str] = {
    "lead.created": "A lead was added: typed in, imported from a CSV file, posted to the lead webhook or created "
                    "through the API.",
    "lead.updated": "A lead's details changed (contact details, budget, areas, tags, notes…); `changed` names the "
                    "fields.",
    "lead.stage_changed": "A lead moved to another stage of the pipeline (`from_stage` → `to_stage`).",
    "lead.assigned": "A lead was given to another agent, or unassigned.",
    "followup.created": "A follow-up was drafted (by an agent, an automation or the nurture sweep) and waits for "
                        "review.",
    "followup.sent": "A follow-up went out (e-mail, SMS, WhatsApp) or its call was made.",
    "coaching.alert": "Live coaching alerted an agent during a conversation, or the conversation's review found "
                      "something to work on.",
    "coaching.escalation": "A coaching alert was escalated to the brokerage's managers (critical coaching "
                           "intensity, high or critical finding).",
    "report.generated": "A branded PDF report was produced: downloaded, e-mailed as the weekly report, or created "
                        "by the assistant.",
}
# The test event an owner sends from the endpoint's page: never subscribed to, tried once.
PING = "ping"
WAITING = (WebhookDelivery.Status.PENDING, WebhookDelivery.Status.RETRYING)
# Why the deliveries of an endpoint disabled after repeated failures were not sent (stopped or held).
HELD_ERROR = "Not sent: the endpoint was disabled after repeated failures."

EventData = dict | Callable[[], dict]


def held() -> Q:
    """Endpoints disabled after repeated failures, rather than by an owner: they keep their events. Enabling an
    endpoint resets its failure count, and an owner's disable leaves the count below the threshold."""
    return Q(is_active=False, consecutive_failures__gte=settings.WEBHOOKS_DISABLE_AFTER_FAILURES)


def member_data(user: User | None) -> dict | None:
    """A member as event data names them: id, name and e-mail (None for nobody)."""
    if user is None:
        return None
    return {"id": user.pk, "name": user.display_name, "email": user.email}


def _json_safe(data: dict) -> dict:
    """The data as JSON has it: decimals as strings, datetimes as ISO 8601, UUIDs as strings."""
    return json.loads(json.dumps(data, cls=DjangoJSONEncoder))


def event_payload(*, brokerage: Brokerage, event: str, event_id: uuid.UUID, data: dict) -> dict:
    """The body every delivery carries (docs/webhooks.md): the event's id, name and time, the brokerage, data."""
    return {"id": str(event_id), "event": event, "created_at": timezone.now().isoformat(),
            "brokerage": {"id": brokerage.pk, "name": brokerage.name}, "data": _json_safe(data)}


def webhook_emit(*, brokerage: Brokerage | int, event: str, data: EventData) -> list[WebhookDelivery]:
    """Send `event` to the brokerage's active endpoints subscribed to it, once the caller's transaction commits.

    Before: `event` is in WEBHOOK_EVENTS (ValueError otherwise: a programming error). `brokerage` may be an id
    when the caller has not loaded it. After: one pending WebhookDelivery per subscribed active endpoint, each
    queued for delivery on commit, and one failed, unsent delivery per subscribed endpoint disabled after
    repeated failures, all sharing the event's id. Returns the deliveries that will be sent (none when nobody
    listens, or only held endpoints do).
    """
    return webhook_emit_many(brokerage=brokerage, events=[(event, data)])


def webhook_emit_many(*, brokerage: Brokerage | int, events: Iterable[tuple[str, EventData]],
                      ) -> list[WebhookDelivery]:
    """`webhook_emit` for several events of one brokerage (a batch of drafts, an alert and its escalation):
    one query for the endpoints and one INSERT for every delivery."""
    events = list(events)
    unknown = sorted({name for name, _ in events if name not in WEBHOOK_EVENTS})
    if unknown:
        raise ValueError(f"Unknown webhook event(s): {', '.join(unknown)}")
    if not events:
        return []
    brokerage_id = brokerage if isinstance(brokerage, int) else brokerage.pk
    endpoints = list(WebhookEndpoint.objects.filter(Q(is_active=True) | held(), brokerage_id=brokerage_id)
                     .values_list("pk", "events", "is_active"))
    listening = [(name, data, [(pk, active) for pk, names, active in endpoints if name in names])
                 for name, data in events]
    listening = [item for item in listening if item[2]]
    if not listening:
        return []
    if isinstance(brokerage, int):
        brokerage = Brokerage.objects.only("pk", "name").get(pk=brokerage_id)
    now = timezone.now()
    deliveries = []
    for name, data, receivers in listening:
        event_id = uuid.uuid4()
        payload = event_payload(brokerage=brokerage, event=name, event_id=event_id,
                                data=data() if callable(data) else data)
        deliveries += [WebhookDelivery(brokerage_id=brokerage_id, endpoint_id=pk, event=name, event_id=event_id,
                                       payload=payload, created_at=now,
                                       **({"next_attempt_at": now} if active else
                                          {"status": WebhookDelivery.Status.FAILED, "error": HELD_ERROR}))
                       for pk, active in receivers]
    return [delivery for delivery in queue_deliveries(deliveries) if delivery.status in WAITING]


def queue_deliveries(deliveries: list[WebhookDelivery]) -> list[WebhookDelivery]:
    """Store new deliveries and queue the task of each waiting one for when the transaction commits."""
    from ..tasks import webhook_deliver_task  # the task module imports the services

    created = WebhookDelivery.objects.bulk_create(deliveries)
    for delivery in created:
        if delivery.status in WAITING:
            webhook_deliver_task.delay_on_commit(delivery_id=delivery.pk)
    return created
