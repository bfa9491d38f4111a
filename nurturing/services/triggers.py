"""The events that workflow automations listen for. Services fire them after their own write, inside the same
transaction, so an automation's effects commit (or roll back) with the event that caused them."""

from brokerages.models import User

from ..models import Lead

LEAD_CREATED = "lead_created"
STAGE_CHANGED = "stage_changed"
IDLE = "idle"
TAG_ADDED = "tag_added"
INBOUND_MESSAGE = "inbound_message"

TRIGGERS = (
    (LEAD_CREATED, "A lead is created"),
    (STAGE_CHANGED, "A lead changes stage"),
    (IDLE, "A lead is idle for N days"),
    (TAG_ADDED, "A tag is added"),
    (INBOUND_MESSAGE, "The lead sends a message"),
)


def fire(*, trigger: str, lead: Lead, actor: User | None, **context) -> None:
    from .automations import automations_run

    automations_run(trigger=trigger, lead=lead, actor=actor, context=context)
