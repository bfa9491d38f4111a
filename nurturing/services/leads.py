"""Writes for the CRM core: leads, their assignment, stage and contact preferences, and interactions.

Each service validates, runs in one transaction, writes the audit log, and keeps the lead's denormalised
contact stamps (`first_contacted_at`, `last_contacted_at`, `last_inbound_at`) true, which the sweeps, lists and
analytics rely on instead of aggregating interactions.
"""

import datetime as dt
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from brokerages.models import Brokerage, Role, User
from brokerages.services import audit_record
from brokerages.values import clean_labels
from brokerages.webhooks import member_data, webhook_emit

from ..models import (
    CLOSED_STAGES,
    Channel,
    Direction,
    Enrollment,
    FollowUp,
    Interaction,
    Lead,
    Stage,
    StageChange,
    further_stage,
)
from ..permissions import lead_holder_set
from . import triggers

# Fields a person edits on the lead form or through the API (stage, assignment and contact preferences have
# their own services because each carries a rule).
EDITABLE_FIELDS = ("name", "email", "phone", "source", "priority", "budget_min", "budget_max", "areas",
                   "property_type", "timeline", "tags", "notes", "next_followup_date", "marketing_consent",
                   "satisfaction_score")
# Interactions that count as reaching the lead (a note is the agent talking to themself).
CONTACT_CHANNELS = (Channel.CALL, Channel.SMS, Channel.WHATSAPP, Channel.EMAIL, Channel.MEETING)


def _clean_values(data: dict) -> dict:
    values = dict(data)
    for name in ("name", "email", "phone", "notes"):
        if name in values and values[name] is not None:
            values[name] = str(values[name]).strip()
    if "email" in values:
        values["email"] = values["email"].lower()
    if "phone" in values:
        values["phone"] = normalise_phone(values["phone"])
    if "tags" in values:
        values["tags"] = clean_labels(values["tags"], field="tags")
    if "areas" in values:
        values["areas"] = clean_labels(values["areas"], field="areas", max_length=80, lower=False)
    return values


def normalise_phone(phone: str) -> str:
    """Keep the digits and a leading +, so that dedupe compares numbers rather than their punctuation."""
    phone = (phone or "").strip()
    digits = "".join(ch for ch in phone if ch.isdigit())
    if not digits:
        return ""
    if phone.startswith("00"):
        return "+" + digits[2:]
    return ("+" if phone.startswith("+") else "") + digits


def _check_agent(brokerage: Brokerage, agent: User | None) -> None:
    if agent is None:
        return
    if agent.brokerage_id != brokerage.pk or not agent.is_active:
        raise ValidationError({"assigned_agent": "Pick an active member of this brokerage."})
    if agent.role not in (Role.AGENT, Role.BROKERAGE_OWNER):
        raise ValidationError({"assigned_agent": "Leads go to agents (or an owner who sells)."})


def _full_clean(lead: Lead) -> None:
    lead.full_clean(exclude=["brokerage", "assigned_agent"], validate_unique=False)


def _money(value: Decimal | None) -> str | None:
    """An amount as stored (two decimals), whether it came from the database or from a caller."""
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def lead_event_data(lead: Lead) -> dict:
    """The lead as outbound calls carry it: webhook events (docs/webhooks.md) and the automations'
    `call_webhook`. Times and amounts are left to the JSON encoder (DjangoJSONEncoder)."""
    return {"id": lead.pk, "external_id": lead.external_id, "name": lead.name, "email": lead.email,
            "phone": lead.phone, "source": lead.source, "stage": lead.stage, "priority": lead.priority,
            "budget_min": _money(lead.budget_min), "budget_max": _money(lead.budget_max), "areas": lead.areas,
            "property_type": lead.property_type, "timeline": lead.timeline, "tags": lead.tags,
            "assigned_agent": member_data(lead.assigned_agent), "created_at": lead.created_at,
            "updated_at": lead.updated_at, "last_contacted_at": lead.last_contacted_at}


@transaction.atomic
def lead_create(*, brokerage: Brokerage, actor: User | None, data: dict, assigned_agent: User | None = None,
                stage: str = Stage.NEW, external_id: str = "", run_automations: bool = True) -> Lead:
    """A new lead, held by `assigned_agent` (who gets the object permission). Runs the brokerage's
    `lead_created` automations unless told not to (imports run them themselves after their batch)."""
    _check_agent(brokerage, assigned_agent)
    lead = Lead(brokerage=brokerage, assigned_agent=assigned_agent, stage=stage, external_id=external_id,
                stage_changed_at=timezone.now(), furthest_stage=further_stage(Stage.NEW, stage))
    for name, value in _clean_values(data).items():
        if name not in EDITABLE_FIELDS and name not in ("created_at", "do_not_contact"):
            raise ValidationError({name: "Unknown lead field."})
        setattr(lead, name, value)
    _full_clean(lead)
    lead.save()
    StageChange.objects.create(brokerage=brokerage, lead=lead, from_stage="", to_stage=lead.stage,
                               changed_by=actor, changed_at=lead.created_at)
    lead_holder_set(lead, None, assigned_agent)
    audit_record(brokerage=brokerage, actor=actor, action="lead.created", resource=lead,
                 details={"source": lead.source})
    webhook_emit(brokerage=brokerage, event="lead.created", data=lambda: {"lead": lead_event_data(lead)})
    if run_automations:
        triggers.fire(trigger=triggers.LEAD_CREATED, lead=lead, actor=actor)
    return lead


@transaction.atomic
def lead_update(*, brokerage: Brokerage, actor: User | None, lead: Lead, data: dict) -> Lead:
    """Change the editable fields; a tag added fires the `tag_added` automations."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    values = _clean_values(data)
    unknown = set(values) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "Unknown lead field." for name in sorted(unknown)})
    old_tags = set(lead.tags)
    changed = {}
    for name, value in values.items():
        if getattr(lead, name) != value:
            changed[name] = [_plain(getattr(lead, name)), _plain(value)]
            setattr(lead, name, value)
    if not changed:
        return lead
    _full_clean(lead)
    lead.save()
    audit_record(brokerage=brokerage, actor=actor, action="lead.updated", resource=lead,
                 details={"changes": changed})
    webhook_emit(brokerage=brokerage, event="lead.updated",
                 data=lambda: {"lead": lead_event_data(lead), "changed": sorted(changed)})
    for tag in sorted(set(lead.tags) - old_tags):
        triggers.fire(trigger=triggers.TAG_ADDED, lead=lead, actor=actor, tag=tag)
    return lead


def _plain(value):
    """A value as the audit log's JSON stores it."""
    if isinstance(value, Decimal | dt.date):
        return str(value)
    return value


@transaction.atomic
def lead_assign(*, brokerage: Brokerage, actor: User | None, lead: Lead, agent: User | None) -> Lead:
    """Give the lead to `agent` (the object permission moves with it); open drafts follow the lead."""
    _check_agent(brokerage, agent)
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    previous = lead.assigned_agent
    if previous == agent:
        return lead
    lead.assigned_agent = agent
    lead.save(update_fields=["assigned_agent", "updated_at"])
    lead_holder_set(lead, previous, agent)
    FollowUp.objects.filter(lead=lead, status__in=[FollowUp.Status.DRAFT, FollowUp.Status.APPROVED]).update(
        agent=agent)
    audit_record(brokerage=brokerage, actor=actor, action="lead.assigned", resource=lead,
                 details={"changes": {"assigned_agent": [getattr(previous, "email", None),
                                                         getattr(agent, "email", None)]}})
    webhook_emit(brokerage=brokerage, event="lead.assigned",
                 data=lambda: {"lead": lead_event_data(lead), "previous_agent": member_data(previous)})
    return lead


def _close_open_work(lead: Lead, reason: str, *, drafts: bool = True) -> None:
    """Stop the lead's running enrolments and withdraw drafts nobody should send any more."""
    Enrollment.objects.filter(lead=lead, status__in=[Enrollment.Status.ACTIVE, Enrollment.Status.PAUSED]).update(
        status=Enrollment.Status.STOPPED, stop_reason=reason, next_due_at=None, updated_at=timezone.now())
    if drafts:
        FollowUp.objects.filter(lead=lead, status__in=[FollowUp.Status.DRAFT, FollowUp.Status.APPROVED]).update(
            status=FollowUp.Status.DISMISSED, dismiss_reason=reason, updated_at=timezone.now())


@transaction.atomic
def lead_change_stage(*, brokerage: Brokerage, actor: User | None, lead: Lead, stage: str, note: str = "",
                      lost_reason: str = "", sale_price: Decimal | None = None, commission: Decimal | None = None,
                      satisfaction_score: int | None = None) -> Lead:
    """Move the lead to `stage` and record the change. Lost needs a reason; won may carry the sale price,
    commission and satisfaction. Closing a lead stops its sequences and withdraws its drafts."""
    if stage not in Stage.values:
        raise ValidationError({"stage": f"Unknown stage “{stage}”."})
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    if stage == lead.stage:
        return lead
    if stage == Stage.LOST and not (lost_reason or "").strip():
        raise ValidationError({"lost_reason": "Say why the lead was lost; it feeds the lost-reason report."})
    if stage != Stage.WON and (sale_price is not None or commission is not None):
        raise ValidationError({"sale_price": "A sale price and commission belong to a won lead."})
    previous = lead.stage
    now = timezone.now()
    lead.stage, lead.stage_changed_at = stage, now
    lead.furthest_stage = further_stage(lead.furthest_stage, stage)
    if stage == Stage.LOST:
        lead.lost_reason = lost_reason.strip()[:255]
    if stage == Stage.WON:
        lead.lost_reason = ""
        for name, value in (("sale_price", sale_price), ("commission", commission),
                            ("satisfaction_score", satisfaction_score)):
            if value is not None:
                setattr(lead, name, value)
    _full_clean(lead)
    lead.save()
    StageChange.objects.create(brokerage=brokerage, lead=lead, from_stage=previous, to_stage=stage,
                               changed_by=actor, changed_at=now, note=note.strip()[:255])
    if stage in CLOSED_STAGES:
        _close_open_work(lead, f"Lead {Stage(stage).label.lower()}")
    audit_record(brokerage=brokerage, actor=actor, action="lead.stage_changed", resource=lead,
                 details={"changes": {"stage": [previous, stage]}})
    webhook_emit(brokerage=brokerage, event="lead.stage_changed", data=lambda: {
        "lead": lead_event_data(lead), "from_stage": previous, "to_stage": stage, "note": note.strip()[:255],
        "lost_reason": lead.lost_reason, "sale_price": _money(lead.sale_price), "commission": _money(lead.commission)})
    triggers.fire(trigger=triggers.STAGE_CHANGED, lead=lead, actor=actor, from_stage=previous)
    return lead


@transaction.atomic
def lead_set_contact_preferences(*, brokerage: Brokerage, actor: User | None, lead: Lead, do_not_contact: bool,
                                 marketing_consent: bool | None = None) -> Lead:
    """Record the lead's wishes. Opting out stops every sequence and withdraws every draft at once."""
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    changes = {}
    if lead.do_not_contact != do_not_contact:
        changes["do_not_contact"] = [lead.do_not_contact, do_not_contact]
        lead.do_not_contact = do_not_contact
    if marketing_consent is not None and lead.marketing_consent != marketing_consent:
        changes["marketing_consent"] = [lead.marketing_consent, marketing_consent]
        lead.marketing_consent = marketing_consent
    if not changes:
        return lead
    lead.save()
    if lead.do_not_contact:
        _close_open_work(lead, "Lead opted out")
    audit_record(brokerage=brokerage, actor=actor, action="lead.contact_preferences", resource=lead,
                 details={"changes": changes})
    return lead


@transaction.atomic
def interaction_log(*, brokerage: Brokerage, actor: User | None, lead: Lead, channel: str, summary: str,
                    direction: str = Direction.OUTBOUND, occurred_at: dt.datetime | None = None) -> Interaction:
    """Record a touch with the lead and keep its contact stamps true.

    - Reaching a new lead stamps its first contact (the speed-to-lead figure) and moves it to contacted.
    - Any contact withdraws the forgotten-lead/inactive-client drafts: the lead is no longer forgotten.
    - A reply from the lead stops its sequences (people who answer get a person, not the next step) and fires
      the `inbound_message` automations.
    """
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": "Say what happened in a few words."})
    if channel not in Channel.values:
        raise ValidationError({"channel": f"Unknown channel “{channel}”."})
    if direction not in Direction.values:
        raise ValidationError({"direction": f"Unknown direction “{direction}”."})
    now = timezone.now()
    occurred_at = occurred_at or now
    if occurred_at > now + dt.timedelta(minutes=5):
        raise ValidationError({"occurred_at": "An interaction cannot happen in the future."})
    lead = Lead.objects.select_for_update().get(pk=lead.pk, brokerage=brokerage)
    if lead.do_not_contact and direction == Direction.OUTBOUND and channel != Channel.NOTE:
        raise ValidationError("This lead asked not to be contacted; record their change of mind first.")
    interaction = Interaction(brokerage=brokerage, lead=lead, agent=actor if getattr(actor, "pk", None) else None,
                              channel=channel, direction=direction, occurred_at=occurred_at, summary=summary[:5000])
    interaction.full_clean(exclude=["brokerage", "lead", "agent"])
    interaction.save()
    is_contact = channel in CONTACT_CHANNELS and direction != Direction.INTERNAL
    if is_contact:
        if lead.first_contacted_at is None and direction == Direction.OUTBOUND:
            lead.first_contacted_at = occurred_at
        if lead.last_contacted_at is None or occurred_at > lead.last_contacted_at:
            lead.last_contacted_at = occurred_at
        if direction == Direction.INBOUND and (lead.last_inbound_at is None or occurred_at > lead.last_inbound_at):
            lead.last_inbound_at = occurred_at
        lead.escalated_at = None
        lead.save(update_fields=["first_contacted_at", "last_contacted_at", "last_inbound_at", "escalated_at",
                                 "updated_at"])
        FollowUp.objects.filter(
            lead=lead, status=FollowUp.Status.DRAFT,
            reason__in=[FollowUp.Reason.FORGOTTEN_LEAD, FollowUp.Reason.INACTIVE_CLIENT],
        ).update(status=FollowUp.Status.DISMISSED, dismiss_reason="The lead was contacted", updated_at=now)
    audit_record(brokerage=brokerage, actor=actor, action="lead.interaction_logged", resource=lead,
                 details={"channel": channel, "direction": direction})
    if is_contact and direction == Direction.OUTBOUND and lead.stage == Stage.NEW:
        lead_change_stage(brokerage=brokerage, actor=actor, lead=lead, stage=Stage.CONTACTED, note="First contact")
    if is_contact and direction == Direction.INBOUND:
        _close_open_work(lead, "The lead replied", drafts=False)
        triggers.fire(trigger=triggers.INBOUND_MESSAGE, lead=lead, actor=actor)
    return interaction


@transaction.atomic
def interaction_update(*, brokerage: Brokerage, actor: User | None, interaction: Interaction,
                       summary: str) -> Interaction:
    """Correct what an interaction says (when and how it happened stay as logged)."""
    summary = (summary or "").strip()
    if not summary:
        raise ValidationError({"summary": "Say what happened in a few words."})
    interaction = Interaction.objects.select_for_update().get(pk=interaction.pk, brokerage=brokerage)
    if interaction.summary != summary:
        interaction.summary = summary[:5000]
        interaction.save(update_fields=["summary"])
        audit_record(brokerage=brokerage, actor=actor, action="lead.interaction_updated", resource=interaction,
                     details={"lead": interaction.lead_id})
    return interaction


@transaction.atomic
def interaction_delete(*, brokerage: Brokerage, actor: User | None, interaction: Interaction) -> None:
    """Remove an interaction logged by mistake; the lead's contact stamps are recomputed from what is left."""
    lead = Lead.objects.select_for_update().get(pk=interaction.lead_id, brokerage=brokerage)
    details = {"lead": lead.pk, "channel": interaction.channel, "occurred_at": interaction.occurred_at.isoformat()}
    interaction.delete()
    lead_contacts_restamp(lead=lead)
    audit_record(brokerage=brokerage, actor=actor, action="lead.interaction_deleted", resource=lead,
                 details=details)


def lead_contacts_restamp(*, lead: Lead) -> Lead:
    """Recompute the lead's contact stamps from its interactions (after a deletion, or history loaded in bulk)."""
    contacts = Interaction.objects.filter(lead=lead, channel__in=CONTACT_CHANNELS).exclude(
        direction=Direction.INTERNAL).order_by("occurred_at")
    first_outbound = contacts.filter(direction=Direction.OUTBOUND).first()
    last = contacts.last()
    last_inbound = contacts.filter(direction=Direction.INBOUND).last()
    lead.first_contacted_at = first_outbound.occurred_at if first_outbound else None
    lead.last_contacted_at = last.occurred_at if last else None
    lead.last_inbound_at = last_inbound.occurred_at if last_inbound else None
    lead.save(update_fields=["first_contacted_at", "last_contacted_at", "last_inbound_at", "updated_at"])
    return lead
