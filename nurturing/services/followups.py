"""Writes for follow-ups: drafting them (in bulk for the sweeps, one at a time for people and automations),
editing, approving and sending, calls, dismissing, sending what waited for quiet hours, and redrafting with the
model engine. Also marking a member's notifications read.

A follow-up is open while it is a draft or approved; a failed send can be fixed and sent again. What goes
out is what was approved: editing an approved or failed follow-up makes it a draft again. Sending is at most
once: the row is claimed (status sent) before the message leaves, so two clicks, or a click and the
quiet-hours sender, never send it twice; a message that fails is recorded as failed with the reason.
A sent follow-up becomes an outbound interaction through `interaction_log`, which keeps the lead's contact
stamps (so the lead leaves the forgotten list).
"""

import datetime as dt
import smtplib
from collections import Counter
from email.utils import formataddr, parseaddr

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, connection, models, transaction
from django.db.models import Max
from django.template.loader import render_to_string
from django.utils import timezone

from brokerages.models import Brokerage, Notification, User
from brokerages.selectors import settings_values
from brokerages.services import audit_record
from brokerages.webhooks import member_data, webhook_emit, webhook_emit_many
from copilot.llm import provider_name_for

from ..drafting import (
    LOCAL_ENGINE,
    SMS_LIMIT,
    Draft,
    DraftRequest,
    LeadHistory,
    channel_for,
    draft_followup,
    draft_many,
)
from ..messaging import MessageError, OutgoingMessage, send_message
from ..models import SEND_CHANNELS, Channel, FollowUp, Lead, NurturingSequence, Priority
from ..schedule import BrokerageClock
from ..selectors.followups import recent_touches
from .leads import interaction_log

OPEN = (FollowUp.Status.DRAFT, FollowUp.Status.APPROVED)
# What a person can still act on: open follow-ups, and failed sends (fix and retry, or dismiss).
WORKABLE = (*OPEN, FollowUp.Status.FAILED)
EDITABLE_FIELDS = ("subject", "content", "channel", "suggested_send_date")
SMS_MAX = SMS_LIMIT * 2
TEMPLATE_ENGINE = "template"  # a sequence step's own text, rendered with merge fields
# The quiet-hours sender works through at most this many messages per run; the rest go on the next run.
SEND_BATCH = 500


def suggested_send_date(lead: Lead, today: dt.date) -> dt.date:
    """The lead's own next follow-up date when it is still ahead, else today (the seed's suggested_send_date)."""
    planned = lead.next_followup_date
    return planned if planned and planned > today else today


def followup_event_data(followup: FollowUp) -> dict:
    """A follow-up as webhook events carry it (docs/webhooks.md), with its lead and agent."""
    lead = followup.lead
    return {"followup": {"id": followup.pk, "reason": followup.reason, "channel": followup.channel,
                         "status": followup.status, "priority": followup.priority, "subject": followup.subject,
                         "content": followup.content, "suggested_send_date": followup.suggested_send_date,
                         "sent_at": followup.sent_at, "sequence_id": followup.sequence_id,
                         "step_index": followup.step_index, "engine": followup.engine,
                         "created_at": followup.created_at},
            "lead": {"id": lead.pk, "external_id": lead.external_id, "name": lead.name, "stage": lead.stage},
            "agent": member_data(followup.agent)}


def followup_build(*, lead: Lead, reason: str, draft: Draft, send_date: dt.date, priority: str | None = None,
                   sequence: NurturingSequence | None = None, step_index: int | None = None) -> FollowUp:
    """An unsaved follow-up for the lead's agent from a draft (saved by `followups_create_bulk` or
    `followup_create`)."""
    followup = FollowUp(brokerage_id=lead.brokerage_id, lead=lead, agent=lead.assigned_agent, reason=reason,
                        channel=draft.channel, subject=draft.subject[:255], content=draft.content,
                        suggested_send_date=send_date, priority=priority or lead.priority, engine=draft.engine,
                        degraded=draft.degraded, step_index=step_index)
    if sequence is not None:
        followup.sequence = sequence
    return followup


@transaction.atomic
def followups_create_bulk(*, brokerage: Brokerage, items: list[FollowUp]) -> list[FollowUp]:
    """Insert many drafts at once and return the ones that were created, re-read with their lead and agent.

    Before: the items are unsaved follow-ups of this brokerage's leads (lead loaded). After: every item whose
    lead may be contacted and that does not collide with an open draft for the same lead and reason (or the
    same sequence step) is stored; the database's unique constraints drop the others, so two sweeps running
    at once never duplicate a draft. Items of leads who opted out are never stored.

    Returns the stored items, with their ids: the rows inserted from this call on are read back (ids and keys
    only; the items already hold their lead and agent) and matched to the items by lead, reason and sequence
    step. Had someone else drafted the same key in the same instant, that row would be matched instead; the
    sweep holds a per-brokerage lock, so another sweep's never is.
    """
    items = [item for item in items if item.brokerage_id == brokerage.pk and not item.lead.do_not_contact]
    if not items:
        return []
    marker = FollowUp.objects.filter(brokerage=brokerage).aggregate(last=Max("pk"))["last"] or 0
    _insert_ignoring_conflicts(items)
    by_key = {(item.lead_id, item.reason, item.sequence_id, item.step_index): item for item in items}
    created = []
    for pk, *key in FollowUp.objects.filter(brokerage=brokerage, pk__gt=marker).order_by("pk").values_list(
            "pk", "lead_id", "reason", "sequence_id", "step_index"):
        item = by_key.get(tuple(key))
        if item is not None:
            item.pk, item._state.adding, item._state.db = pk, False, FollowUp.objects.db
            created.append(item)
    if created:
        audit_record(brokerage=brokerage, actor=None, action="nurturing.followups_drafted", resource_type="followup",
                     details={"count": len(created), "reasons": dict(Counter(item.reason for item in created))})
        webhook_emit_many(brokerage=brokerage, events=[
            ("followup.created", lambda item=item: followup_event_data(item)) for item in created])
    return created


def _insert_ignoring_conflicts(items: list[FollowUp]) -> None:
    """What `bulk_create(items, ignore_conflicts=True)` does, in one statement on either database: PostgreSQL
    gets the INSERT … SELECT FROM UNNEST … ON CONFLICT DO NOTHING that Django builds, SQLite one executemany of
    INSERT … ON CONFLICT DO NOTHING. Written out because Django prepares every value of every row in Python,
    which was more than half of a sweep's insert time (2,200 drafts: 45 ms instead of 105 ms on PostgreSQL,
    30 ms instead of 150 ms in 45 statements on SQLite), and a sweep writes tens of thousands."""
    now = timezone.now()
    for item in items:
        item.created_at = item.updated_at = now
    fields = [field for field in FollowUp._meta.concrete_fields if not field.primary_key]
    quote = connection.ops.quote_name
    table, columns = quote(FollowUp._meta.db_table), ", ".join(quote(field.column) for field in fields)
    adapters = [_adapter(field) for field in fields]
    with connection.cursor() as cursor:
        # Identifiers and types come from the model, never from input; the values are parameters.
        if connection.vendor == "postgresql":
            arrays = ", ".join(f"%s::{field.db_type(connection)}[]" for field in fields)
            cursor.execute(f"INSERT INTO {table} ({columns}) SELECT * FROM UNNEST({arrays}) "  # noqa: S608
                           "ON CONFLICT DO NOTHING",
                           [[_adapted(adapt, getattr(item, field.attname)) for item in items]
                            for field, adapt in zip(fields, adapters, strict=True)])
        else:
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * len(fields))}) "  # noqa: S608
                               "ON CONFLICT DO NOTHING",
                               [[_adapted(adapt, getattr(item, field.attname))
                                 for field, adapt in zip(fields, adapters, strict=True)] for item in items])


def _adapter(field):
    """How a value of the field goes to the driver: choice values (str-based Enum members) as plain strings;
    SQLite's dates and times as Django stores them (text, in UTC); everything else as it is."""
    if isinstance(field, models.CharField | models.TextField):
        return str
    if connection.vendor == "postgresql":
        return None
    if isinstance(field, models.DateTimeField):
        return connection.ops.adapt_datetimefield_value
    if isinstance(field, models.DateField):
        return connection.ops.adapt_datefield_value
    return None


def _adapted(adapt, value):
    return value if adapt is None or value is None else adapt(value)


def followup_create(*, brokerage: Brokerage, actor: User | None, lead: Lead, reason: str, channel: str | None = None,
                    instruction: str = "", priority: str | None = None) -> FollowUp | None:
    """Draft one follow-up for the lead (a person's "draft a follow-up", or an automation's action) with the
    brokerage's AI engine; `instruction` says what it should be about.

    Returns None when the lead already has an open draft for this reason. Raises ValidationError when the
    lead opted out, has no phone or e-mail to reach, or the reason, channel or priority is unknown.
    """
    if reason not in FollowUp.Reason.values or reason == FollowUp.Reason.SEQUENCE_STEP:
        raise ValidationError({"reason": "Sequence steps are drafted by the sweep; choose another reason."})
    if channel and channel not in SEND_CHANNELS:
        raise ValidationError({"channel": f"Channel must be one of {', '.join(SEND_CHANNELS)}."})
    if priority and priority not in Priority.values:
        raise ValidationError({"priority": f"Priority must be one of {', '.join(Priority.values)}."})
    lead = Lead.objects.select_related("assigned_agent", "brokerage").get(pk=lead.pk, brokerage=brokerage)
    if lead.do_not_contact:
        raise ValidationError(f"{lead.name} asked not to be contacted, so no follow-up is drafted.")
    open_drafts = FollowUp.objects.filter(lead=lead, reason=reason, status__in=OPEN, sequence__isnull=True)
    if open_drafts.exists():
        return None
    now = timezone.now()
    touches = recent_touches(brokerage, Lead.objects.filter(pk=lead.pk)).get(lead.pk, [])
    history = LeadHistory.of(lead, touches, now)
    channel = channel or channel_for(lead, reason, history)
    if not channel:
        raise ValidationError(f"{lead.name} has neither a phone number nor an e-mail address; add one first.")
    draft = draft_followup(DraftRequest(lead, reason, channel, history, instruction.strip()),
                           engine=provider_name_for(brokerage))
    today = BrokerageClock.of(settings_values(brokerage)).today(now)
    followup = followup_build(lead=lead, reason=reason, draft=draft, send_date=suggested_send_date(lead, today),
                              priority=priority)
    try:
        with transaction.atomic():
            followup.save()
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_created", resource=followup,
                         details={"lead": lead.pk, "reason": reason, "channel": channel, "engine": draft.engine,
                                  "degraded": draft.degraded})
            webhook_emit(brokerage=brokerage, event="followup.created", data=lambda: followup_event_data(followup))
    except IntegrityError:  # a sweep drafted the same lead and reason meanwhile
        return None
    return followup


def _locked(brokerage: Brokerage, followup: FollowUp) -> FollowUp:
    return FollowUp.objects.select_for_update(of=("self",)).select_related(
        "lead", "lead__assigned_agent", "lead__brokerage", "agent").get(pk=followup.pk, brokerage=brokerage)


def _refuse_closed(followup: FollowUp) -> None:
    if followup.status not in WORKABLE:
        raise ValidationError(f"This follow-up is already {followup.get_status_display().lower()}; nothing more "
                              "can be done with it.")


def _check_message(channel: str, subject: str, content: str) -> None:
    if channel not in SEND_CHANNELS:
        raise ValidationError({"channel": f"Channel must be one of {', '.join(SEND_CHANNELS)}."})
    if not content:
        raise ValidationError({"content": "The message is empty."})
    if len(content) > 5000:
        raise ValidationError({"content": "Keep the message under 5,000 characters."})
    if channel == Channel.EMAIL and not subject:
        raise ValidationError({"subject": "Give the e-mail a subject."})
    if channel == Channel.SMS and len(content) > SMS_MAX:
        raise ValidationError({"content": f"An SMS is at most {SMS_MAX} characters; this one has {len(content)}."})


@transaction.atomic
def followup_edit(*, brokerage: Brokerage, actor: User | None, followup: FollowUp, data: dict) -> FollowUp:
    """Change the subject, content, channel or suggested date of a follow-up that has not gone out.

    An approved or failed follow-up becomes a draft again, so what is sent is always what was approved last.
    A new suggested date cannot be in the past (the brokerage's today).
    """
    unknown = set(data) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    followup = _locked(brokerage, followup)
    _refuse_closed(followup)
    values = {}
    for name in ("subject", "content"):
        if name in data:
            values[name] = str(data[name] or "").strip()
    if "subject" in values:
        values["subject"] = " ".join(values["subject"].split())[:255]
    if "channel" in data:
        values["channel"] = data["channel"]
    if "suggested_send_date" in data:
        date = data["suggested_send_date"]
        if not isinstance(date, dt.date):
            raise ValidationError({"suggested_send_date": "Give a date such as 2025-03-31."})
        today = BrokerageClock.of(settings_values(brokerage)).today(timezone.now())
        if date != followup.suggested_send_date and date < today:
            raise ValidationError({"suggested_send_date": "Pick today or a later day."})
        values["suggested_send_date"] = date
    changed = sorted(name for name, value in values.items() if getattr(followup, name) != value)
    if not changed:
        return followup
    for name in changed:
        setattr(followup, name, values[name])
    _check_message(followup.channel, followup.subject, followup.content)
    previous = followup.status
    followup.status, followup.send_after, followup.error = FollowUp.Status.DRAFT, None, ""
    followup.save()
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_edited", resource=followup,
                 details={"lead": followup.lead_id, "fields": changed, "status": [previous, followup.status]})
    return followup


def _check_sendable(followup: FollowUp) -> None:
    _refuse_closed(followup)
    lead = followup.lead
    if lead.do_not_contact:
        raise ValidationError(f"{lead.name} asked not to be contacted; this follow-up cannot go out.")
    if followup.channel == Channel.EMAIL and not lead.email:
        raise ValidationError({"channel": f"{lead.name} has no e-mail address. Add one on the lead, or switch the "
                                          "follow-up to another channel."})
    if followup.channel != Channel.EMAIL and not lead.phone:
        raise ValidationError({"channel": f"{lead.name} has no phone number. Add one on the lead, or switch the "
                                          "follow-up to e-mail."})
    _check_message(followup.channel, followup.subject, followup.content)


def followup_approve_send(*, brokerage: Brokerage, actor: User | None, followup: FollowUp,
                          now: dt.datetime | None = None) -> FollowUp:
    """Approve a follow-up: send it now, or when the brokerage's quiet hours end; a call goes on the agent's
    list of calls to make (the agent marks it called with `followup_mark_called`).

    Before: the follow-up is open or failed, its lead may be contacted and has the channel's address, the
    message is complete — ValidationError otherwise. After: sent with its interaction; or approved with
    `send_after` (quiet hours), sent later by `followups_send_due`; or failed with the error (send again).
    """
    now = now or timezone.now()
    with transaction.atomic():
        followup = _locked(brokerage, followup)
        _check_sendable(followup)
        followup.error = ""
        if followup.channel == Channel.CALL:
            followup.status, followup.send_after = FollowUp.Status.APPROVED, None
            followup.save(update_fields=["status", "send_after", "error", "updated_at"])
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_approved", resource=followup,
                         details={"lead": followup.lead_id, "channel": followup.channel})
            return followup
        send_at = BrokerageClock.of(settings_values(brokerage)).next_allowed_send(now)
        if send_at > now:
            followup.status, followup.send_after = FollowUp.Status.APPROVED, send_at
            followup.save(update_fields=["status", "send_after", "error", "updated_at"])
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_approved", resource=followup,
                         details={"lead": followup.lead_id, "channel": followup.channel,
                                  "send_after": send_at.isoformat()})
            return followup
        followup.status, followup.sent_at, followup.send_after = FollowUp.Status.SENT, now, None
        followup.save(update_fields=["status", "sent_at", "send_after", "error", "updated_at"])
    return _deliver(brokerage=brokerage, actor=actor, followup=followup)


def _sender_name(followup: FollowUp) -> str:
    brokerage = followup.lead.brokerage
    return f"{followup.agent.display_name} at {brokerage.name}" if followup.agent else brokerage.name


def _absolute(url: str) -> str:
    """A URL a mail client can load: media URLs need the site's public address (settings.PUBLIC_BASE_URL)."""
    if not url or url.startswith(("http://", "https://")):
        return url
    base = settings.PUBLIC_BASE_URL
    return f"{base.rstrip('/')}{url}" if base else ""


def _send_email(followup: FollowUp) -> None:
    lead, brokerage, agent = followup.lead, followup.lead.brokerage, followup.agent
    sender = formataddr((_sender_name(followup), parseaddr(settings.DEFAULT_FROM_EMAIL)[1]))
    reply_to = [agent.email] if agent else ([brokerage.email] if brokerage.email else [])
    footer = " · ".join(part for part in (brokerage.name, brokerage.phone, brokerage.website) if part)
    text = f"{followup.content}\n\n--\n{footer}\n"
    html = render_to_string("nurturing/followup_email.html", {
        "brokerage": brokerage, "followup": followup, "footer": footer,
        "paragraphs": [part.strip() for part in followup.content.split("\n\n") if part.strip()],
        "logo_url": _absolute(brokerage.logo_url)})
    message = EmailMultiAlternatives(followup.subject, text, sender, [lead.email], reply_to=reply_to)
    message.attach_alternative(html, "text/html")
    message.send()


def _summary(followup: FollowUp) -> str:
    heading = f"{followup.get_reason_display()} follow-up sent by {followup.get_channel_display()}"
    body = f"{followup.subject}: {followup.content}" if followup.subject else followup.content
    return f"{heading}. {body}"[:2000]


def _deliver(*, brokerage: Brokerage, actor: User | None, followup: FollowUp) -> FollowUp:
    """Send a claimed follow-up (status sent), then record it as an interaction; a send that fails turns it
    into a failed follow-up with the reason."""
    try:
        if followup.channel == Channel.EMAIL:
            _send_email(followup)
        else:
            send_message(OutgoingMessage(channel=followup.channel, to=followup.lead.phone, body=followup.content,
                                         sender=_sender_name(followup)))
    except (MessageError, smtplib.SMTPException, OSError) as error:
        reason = (str(error) or type(error).__name__)[:255]
        with transaction.atomic():
            FollowUp.objects.filter(pk=followup.pk).update(status=FollowUp.Status.FAILED, sent_at=None, error=reason,
                                                           updated_at=timezone.now())
            followup.status, followup.sent_at, followup.error = FollowUp.Status.FAILED, None, reason
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_failed", resource=followup,
                         details={"lead": followup.lead_id, "channel": followup.channel, "error": reason})
        return followup
    with transaction.atomic():
        followup.interaction = interaction_log(brokerage=brokerage, actor=actor or followup.agent, lead=followup.lead,
                                               channel=followup.channel, summary=_summary(followup),
                                               occurred_at=followup.sent_at)
        FollowUp.objects.filter(pk=followup.pk).update(interaction=followup.interaction)
        audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_sent", resource=followup,
                     details={"lead": followup.lead_id, "channel": followup.channel, "reason": followup.reason})
        webhook_emit(brokerage=brokerage, event="followup.sent", data=lambda: followup_event_data(followup))
    return followup


@transaction.atomic
def followup_mark_called(*, brokerage: Brokerage, actor: User | None, followup: FollowUp, note: str = "") -> FollowUp:
    """The agent made the call a call follow-up asked for: it is logged as an outbound call (with the note)
    and the follow-up is done."""
    followup = _locked(brokerage, followup)
    _refuse_closed(followup)
    if followup.channel != Channel.CALL:
        raise ValidationError("Only a call follow-up is marked called; send this one instead.")
    if followup.lead.do_not_contact:
        raise ValidationError(f"{followup.lead.name} asked not to be contacted.")
    now = timezone.now()
    note = " ".join((note or "").split())
    followup.status, followup.sent_at, followup.send_after = FollowUp.Status.SENT, now, None
    followup.save(update_fields=["status", "sent_at", "send_after", "updated_at"])
    followup.interaction = interaction_log(
        brokerage=brokerage, actor=actor, lead=followup.lead, channel=Channel.CALL, occurred_at=now,
        summary=f"{followup.get_reason_display()} follow-up call. {note or 'Called.'}"[:2000])
    followup.save(update_fields=["interaction"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_called", resource=followup,
                 details={"lead": followup.lead_id})
    webhook_emit(brokerage=brokerage, event="followup.sent", data=lambda: followup_event_data(followup))
    return followup


@transaction.atomic
def followup_dismiss(*, brokerage: Brokerage, actor: User | None, followup: FollowUp, reason: str) -> FollowUp:
    """Drop a follow-up that should not go out; the reason is required (it shows the team which drafts miss)."""
    reason = " ".join((reason or "").split())
    if not reason:
        raise ValidationError({"reason": "Say why you are dismissing it, e.g. “Already spoke to them today”."})
    if len(reason) > 255:
        raise ValidationError({"reason": "Keep the reason under 255 characters."})
    followup = _locked(brokerage, followup)
    _refuse_closed(followup)
    followup.status, followup.dismiss_reason, followup.send_after = FollowUp.Status.DISMISSED, reason, None
    followup.save(update_fields=["status", "dismiss_reason", "send_after", "updated_at"])
    audit_record(brokerage=brokerage, actor=actor, action="nurturing.followup_dismissed", resource=followup,
                 details={"lead": followup.lead_id, "reason": reason})
    return followup


def followups_send_due(*, brokerage: Brokerage, now: dt.datetime | None = None) -> list[FollowUp]:
    """Send the approved messages whose quiet hours are over (`send_after` passed), in the order they were
    due, at most SEND_BATCH per run. Each is claimed before it is sent, so two runs never send one twice.
    Returns the follow-ups that went out (failures are recorded on theirs)."""
    now = now or timezone.now()
    if BrokerageClock.of(settings_values(brokerage)).is_quiet(now):
        return []
    due = list(FollowUp.objects.filter(brokerage=brokerage, status=FollowUp.Status.APPROVED, send_after__lte=now,
                                       lead__do_not_contact=False).exclude(channel=Channel.CALL)
               .select_related("lead", "lead__assigned_agent", "lead__brokerage", "agent")
               .order_by("send_after", "pk")[:SEND_BATCH])
    sent = []
    for followup in due:
        claimed = FollowUp.objects.filter(pk=followup.pk, status=FollowUp.Status.APPROVED).update(
            status=FollowUp.Status.SENT, sent_at=now, send_after=None, updated_at=now)
        if not claimed:
            continue
        followup.status, followup.sent_at, followup.send_after = FollowUp.Status.SENT, now, None
        if _deliver(brokerage=brokerage, actor=None, followup=followup).status == FollowUp.Status.SENT:
            sent.append(followup)
    return sent


def followups_redraft(*, brokerage: Brokerage, actor: User | None, followups: list[FollowUp],
                      engine: str | None = None) -> list[FollowUp]:
    """Rewrite drafts with the brokerage's AI engine (or `engine`), a few model calls at a time.

    Only drafts are rewritten, and a draft someone edited meanwhile keeps their words. A sequence step's
    own text (rendered from its template) is the owner's and is never rewritten. When the model fails the
    draft keeps its text and is marked degraded. Returns the follow-ups that changed.
    """
    engine = engine or provider_name_for(brokerage)
    candidates = [item for item in followups if item.status == FollowUp.Status.DRAFT
                  and item.engine != TEMPLATE_ENGINE and item.brokerage_id == brokerage.pk]
    if not candidates:
        return []
    now = timezone.now()
    leads = {lead.pk: lead for lead in Lead.objects.filter(brokerage=brokerage, pk__in=[
        item.lead_id for item in candidates]).select_related("assigned_agent", "brokerage")}
    touches = recent_touches(brokerage, Lead.objects.filter(brokerage=brokerage, pk__in=list(leads)))
    sequences = NurturingSequence.objects.filter(brokerage=brokerage).in_bulk(
        {item.sequence_id for item in candidates if item.sequence_id})
    requests = [DraftRequest(leads[item.lead_id], item.reason, item.channel,
                             LeadHistory.of(leads[item.lead_id], touches.get(item.lead_id, []), now),
                             _step_instruction(item, sequences.get(item.sequence_id))) for item in candidates]
    changed = []
    with transaction.atomic():
        for item, draft in zip(candidates, draft_many(requests, engine=engine), strict=True):
            values = {"degraded": True} if draft.degraded else {
                "subject": draft.subject[:255], "content": draft.content, "engine": draft.engine, "degraded": False}
            if FollowUp.objects.filter(pk=item.pk, status=FollowUp.Status.DRAFT, content=item.content).update(
                    updated_at=timezone.now(), **values):
                for name, value in values.items():
                    setattr(item, name, value)
                changed.append(item)
        if changed:
            audit_record(brokerage=brokerage, actor=actor, action="nurturing.followups_redrafted",
                         resource_type="followup", details={"count": len(changed), "engine": engine,
                                                            "degraded": sum(item.degraded for item in changed)})
    return changed


def _step_instruction(followup: FollowUp, sequence: NurturingSequence | None) -> str:
    """The AI instruction of the sequence step a follow-up was drafted for ("" for other follow-ups)."""
    if sequence is None or followup.step_index is None or followup.step_index >= len(sequence.steps):
        return ""
    return sequence.steps[followup.step_index].get("instruction", "")


def engine_is_model(brokerage: Brokerage) -> bool:
    return provider_name_for(brokerage) != LOCAL_ENGINE


def notification_mark_read(*, brokerage: Brokerage, actor: User, notification: Notification) -> Notification:
    """Mark one of the member's own notifications read (a read receipt, so not audited)."""
    if notification.recipient_id != actor.pk or notification.brokerage_id != brokerage.pk:
        raise ValidationError("This notification is someone else's.")
    if notification.read_at is None:
        notification.read_at = timezone.now()
        notification.save(update_fields=["read_at"])
    return notification


def notifications_mark_all_read(*, brokerage: Brokerage, actor: User) -> int:
    return Notification.objects.filter(brokerage=brokerage, recipient=actor, read_at__isnull=True).update(
        read_at=timezone.now())
