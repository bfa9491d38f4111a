"""Writes of conversations: starting one, recording its messages live (with incremental analysis and alerts),
recording a whole transcript at once, ending it (full analysis, the lead's timeline) and the deeper model-backed
analysis that follows in the background.

Who may write: the conversation's agent, a manager (`manage_coaching`), or an integration using the API token of
such a member. The views and API check that before calling; the services enforce the rules that depend on the
data (an agent logs their own conversations, with leads they work; an ended conversation takes no messages).

Times are kept monotonic rather than refused, because phone and chat systems post with skewed clocks and
retries arrive out of order: a message's `sent_at` earlier than the message before it (or than the start) is
moved up to that time, and an end before the last message is moved up to it. Times in the future are refused.
"""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.permissions import brokerage_perms
from brokerages.services import audit_record
from copilot.llm import provider_name_for
from nurturing.models import Channel as InteractionChannel
from nurturing.models import Direction, Lead
from nurturing.permissions import can_work_lead
from nurturing.services.leads import interaction_log

from ..analysis import analyse, analyse_with
from ..analysis.types import Analysis
from ..models import CoachingAlert, CoachingSession, Conversation, ConversationChannel, Message, Speaker
from ..permissions import is_coach
from ..selectors.conversations import as_history, history, message_rows
from ..selectors.performance import performance_invalidate
from ..selectors.sessions import active_session_for, session_quality
from ..transcripts import TranscriptLine
from .alerts import alerts_raise

MAX_MESSAGE_CHARS = 4000
# A clock a few minutes fast is a clock; further ahead is a mistake worth telling the sender about.
FUTURE_TOLERANCE = dt.timedelta(minutes=5)
# The lead's timeline records a coached conversation as the closest interaction channel it knows.
INTERACTION_CHANNELS = {
    ConversationChannel.CALL: InteractionChannel.CALL,
    ConversationChannel.SMS: InteractionChannel.SMS,
    ConversationChannel.WHATSAPP: InteractionChannel.WHATSAPP,
    ConversationChannel.EMAIL: InteractionChannel.EMAIL,
    ConversationChannel.IN_PERSON: InteractionChannel.MEETING,
    ConversationChannel.CHAT: InteractionChannel.NOTE,
}


@dataclass(frozen=True)
class MessageRecorded:
    message: Message
    analysis: Analysis
    alerts: list[CoachingAlert]


def message_problems(speaker: str, text: str) -> dict[str, str]:
    """What is wrong with a message before it is stored, by field (empty when nothing is)."""
    problems = {}
    if speaker not in Speaker.values:
        problems["speaker"] = f"Unknown speaker “{speaker}”: say whether the agent or the lead said it."
    text = (text or "").strip()
    if not text:
        problems["text"] = "The message is empty; type what was said."
    elif len(text) > MAX_MESSAGE_CHARS:
        problems["text"] = (f"A message holds at most {MAX_MESSAGE_CHARS:,} characters (this one has "
                            f"{len(text):,}); split it into several messages.")
    return problems


def _not_in_future(value: dt.datetime, field: str, now: dt.datetime) -> None:
    if timezone.is_naive(value):
        raise ValidationError({field: "Give the time with its time zone (e.g. 2025-05-01T10:02:00+04:00)."})
    if value > now + FUTURE_TOLERANCE:
        raise ValidationError({field: f"{value:%Y-%m-%d %H:%M} is in the future."})


def check_coached_agent(brokerage: Brokerage, agent: User) -> None:
    if agent.brokerage_id != brokerage.pk or not agent.is_active \
            or "use_coaching" not in brokerage_perms(agent, brokerage):
        raise ValidationError({"agent": "Pick an active agent of this brokerage (only agents and owners are "
                                        "coached on their conversations)."})


def _check_actor(brokerage: Brokerage, actor: User | None, agent: User, lead: Lead | None) -> None:
    """An agent logs their own conversations with leads they work; managers log anyone's. No actor is the
    platform itself (the demo, a management command)."""
    if actor is None:
        return
    perms = brokerage_perms(actor, brokerage)
    if is_coach(perms):
        return
    if "use_coaching" not in perms:
        raise PermissionDenied("Your role does not allow this.")
    if agent.pk != actor.pk:
        raise ValidationError({"agent": "Agents log their own conversations."})
    if lead is not None and not can_work_lead(actor, perms, lead):
        raise ValidationError({"lead": "You can only log conversations with leads you work."})


def _link_session(conversation: Conversation) -> None:
    """The first time a conversation is seen during the agent's active session, the session monitors it."""
    if conversation.session_id is not None:
        return
    session = active_session_for(conversation)
    if session is not None:
        conversation.session = session
        CoachingSession.objects.filter(pk=session.pk).update(conversations_monitored=F("conversations_monitored") + 1)


def _existing(brokerage: Brokerage, external_id: str, agent: User) -> Conversation | None:
    found = Conversation.objects.filter(brokerage=brokerage, external_id=external_id).select_related(
        "agent", "lead").first()
    if found is not None and found.agent_id != agent.pk:
        raise ValidationError({"external_id": "This external id belongs to another agent's conversation."})
    return found


@transaction.atomic
def conversation_start(*, brokerage: Brokerage, actor: User | None, agent: User, lead: Lead | None = None,
                       channel: str = ConversationChannel.CALL, external_id: str = "",
                       started_at: dt.datetime | None = None) -> Conversation:
    """An open conversation of `agent` (with `lead`, when known).

    Idempotent on `external_id`: a system that retries its post gets the conversation it created the first
    time (same id, nothing changed), so a flaky network never splits one call into two records.
    """
    external_id = (external_id or "").strip()
    if len(external_id) > 100:
        raise ValidationError({"external_id": "An external id has at most 100 characters."})
    check_coached_agent(brokerage, agent)
    if lead is not None and lead.brokerage_id != brokerage.pk:
        raise ValidationError({"lead": "Pick a lead of this brokerage."})
    _check_actor(brokerage, actor, agent, lead)
    if external_id:
        existing = _existing(brokerage, external_id, agent)
        if existing is not None:
            return existing
    if channel not in ConversationChannel.values:
        raise ValidationError({"channel": f"Unknown channel “{channel}”."})
    now = timezone.now()
    if started_at is not None:
        _not_in_future(started_at, "started_at", now)
    conversation = Conversation(brokerage=brokerage, agent=agent, lead=lead, channel=channel,
                                external_id=external_id, started_at=started_at or now)
    try:
        # A savepoint, so that losing the race to a concurrent retry leaves this transaction usable.
        with transaction.atomic():
            conversation.save()
    except IntegrityError:
        existing = _existing(brokerage, external_id, agent) if external_id else None
        if existing is None:
            raise
        return existing
    audit_record(brokerage=brokerage, actor=actor, action="coaching.conversation_started", resource=conversation,
                 details={"agent": agent.email, "lead": getattr(lead, "pk", None), "channel": channel,
                          "external_id": external_id})
    return conversation


def _locked_open(brokerage: Brokerage, conversation: Conversation) -> Conversation:
    conversation = Conversation.objects.select_for_update(of=("self",)).select_related(
        "agent", "lead", "session").get(pk=conversation.pk, brokerage=brokerage)
    if not conversation.is_open:
        raise ValidationError("This conversation has ended; start a new one.", code="conversation_ended")
    return conversation


@transaction.atomic
def message_record(*, brokerage: Brokerage, actor: User | None, conversation: Conversation, speaker: str,
                   text: str, sent_at: dt.datetime | None = None) -> MessageRecorded:
    """Store the next message of an open conversation and coach on it.

    Before: the caller may write to the conversation. After: the message holds the next position (the
    conversation row is locked, so concurrent posts queue up rather than collide), the conversation carries the
    incremental analysis of all its messages, it is linked to the agent's active session (counted once), and
    `alerts_raise` has stored the alerts the session's intensity calls for (pushed when this commits).
    Messages are not written to the audit log: the messages are the record, and the hot path stays short.
    """
    problems = message_problems(speaker, text)
    if problems:
        raise ValidationError(problems)
    now = timezone.now()
    if sent_at is not None:
        _not_in_future(sent_at, "sent_at", now)
    conversation = _locked_open(brokerage, conversation)
    rows = message_rows(conversation)
    position, floor = (rows[-1][0], rows[-1][-1]) if rows else (0, conversation.started_at)
    message = Message(brokerage=brokerage, conversation=conversation, position=position + 1, speaker=speaker,
                      text=text.strip(), sent_at=max(sent_at or now, floor))
    message.save()
    rows.append((message.position, message.speaker, message.text, message.sent_at))
    analysis = analyse(as_history(rows), final=False)
    conversation.message_count = message.position
    conversation.analysis = analysis.to_dict()
    conversation.analysis_engine = analysis.engine
    _link_session(conversation)
    conversation.save(update_fields=["message_count", "analysis", "analysis_engine", "session"])
    alerts = alerts_raise(conversation=conversation, analysis=analysis, message=message)
    return MessageRecorded(message=message, analysis=analysis, alerts=alerts)


@transaction.atomic
def transcript_record(*, brokerage: Brokerage, actor: User | None, agent: User, lines: Sequence[TranscriptLine],
                      lead: Lead | None = None, channel: str = ConversationChannel.CALL, external_id: str = "",
                      started_at: dt.datetime | None = None, field: str = "transcript") -> Conversation:
    """A finished conversation from a transcript (pasted, or posted by a system in one go): every message,
    then `conversation_end`. All or nothing: any bad line raises one ValidationError on `field` naming every
    bad line, and nothing is stored. Lines without a time take the time of the line before them (or the start).

    A retry with the same `external_id` returns the conversation stored the first time, messages untouched.
    """
    now = timezone.now()
    errors = []
    for line in lines:
        errors += [f"{line.where}: {problem}" for problem in message_problems(line.speaker, line.text).values()]
        if line.sent_at is not None and line.sent_at > now + FUTURE_TOLERANCE:
            errors.append(f"{line.where}: {line.sent_at:%Y-%m-%d %H:%M} is in the future; check the date.")
    if not lines:
        errors.append("A transcript needs at least one message.")
    if errors:
        raise ValidationError({field: errors})
    if external_id:
        check_coached_agent(brokerage, agent)
        _check_actor(brokerage, actor, agent, lead)
        existing = _existing(brokerage, external_id.strip(), agent)
        if existing is not None:
            return existing
    first_time = next((line.sent_at for line in lines if line.sent_at is not None), None)
    started_at = started_at or first_time or now
    conversation = conversation_start(brokerage=brokerage, actor=actor, agent=agent, lead=lead, channel=channel,
                                      external_id=external_id, started_at=started_at)
    floor = conversation.started_at
    stored = []
    for position, line in enumerate(lines, start=1):
        floor = max(line.sent_at or floor, floor)
        stored.append(Message(brokerage=brokerage, conversation=conversation, position=position,
                              speaker=line.speaker, text=line.text.strip(), sent_at=floor))
    Message.objects.bulk_create(stored)
    conversation.message_count = len(stored)
    # The transcript arrives after the fact: no live alerts, but a session running now still monitors it and
    # gets the review alerts of the full analysis when it ends below.
    _link_session(conversation)
    conversation.save(update_fields=["message_count", "session"])
    audit_record(brokerage=brokerage, actor=actor, action="coaching.transcript_recorded", resource=conversation,
                 details={"messages": len(stored)})
    return conversation_end(brokerage=brokerage, actor=actor, conversation=conversation, ended_at=floor)


def _session_quality_refresh(session_id: int | None) -> None:
    """The session's current quality is the mean of its ended conversations. The session row is locked first,
    so two conversations ending at once both count (the second waits and then reads the first's score)."""
    if session_id is None:
        return
    session = CoachingSession.objects.select_for_update().get(pk=session_id)
    session.current_quality_score = session_quality(session)
    session.save(update_fields=["current_quality_score"])


def _interaction_on_lead(conversation: Conversation, analysis: Analysis | None) -> None:
    """Put the coached conversation on the lead's timeline, as an interaction of the conversation's agent (the
    person who spoke with the lead, whoever ended the record)."""
    lead = conversation.lead
    first = Message.objects.filter(brokerage_id=conversation.brokerage_id, conversation=conversation).order_by(
        "position").values_list("speaker", flat=True).first()
    direction = Direction.INBOUND if first == Speaker.LEAD else Direction.OUTBOUND
    if direction == Direction.OUTBOUND and lead.do_not_contact:
        # The lead asked not to be contacted: the record stays internal rather than counting as outreach.
        direction = Direction.INTERNAL
    score = analysis.overall_quality_score if analysis is not None else None
    quality = f"quality {score:.0f}/100" if score is not None else "not scored"
    summary = (f"Coached {conversation.get_channel_display().lower()}: {quality}, "
               f"{conversation.message_count} message{'s' if conversation.message_count != 1 else ''}.")
    interaction_log(brokerage=conversation.brokerage, actor=conversation.agent, lead=lead,
                    channel=INTERACTION_CHANNELS[conversation.channel], direction=direction, summary=summary,
                    occurred_at=conversation.started_at)


@transaction.atomic
def conversation_end(*, brokerage: Brokerage, actor: User | None, conversation: Conversation,
                     ended_at: dt.datetime | None = None) -> Conversation:
    """Close the conversation and judge it as a whole.

    Idempotent: an ended conversation is returned unchanged. After: `ended_at` is set, the conversation holds
    the local engine's full analysis and its `quality_score`, the session's alerts for the final findings are
    stored, the session's current quality includes it, the agent's cached profile is dropped, the lead's
    timeline shows it, and, when the brokerage uses a model engine, the deep analysis is queued for after commit.
    """
    locked = Conversation.objects.select_for_update(of=("self",)).select_related("agent", "lead", "brokerage").get(
        pk=conversation.pk, brokerage=brokerage)
    if not locked.is_open:
        return locked
    now = timezone.now()
    if ended_at is not None:
        _not_in_future(ended_at, "ended_at", now)
    last_sent = Message.objects.filter(brokerage=brokerage, conversation=locked).order_by("-position").values_list(
        "sent_at", flat=True).first()
    locked.ended_at = max(ended_at or now, last_sent or locked.started_at, locked.started_at)
    analysis = None
    if locked.message_count:
        analysis = analyse(history(locked), final=True)
        locked.analysis = analysis.to_dict()
        locked.quality_score = analysis.overall_quality_score
        locked.analysis_engine = analysis.engine
        locked.analysis_degraded = analysis.degraded
    _link_session(locked)
    locked.save(update_fields=["ended_at", "analysis", "quality_score", "analysis_engine", "analysis_degraded",
                               "session"])
    if analysis is not None:
        alerts_raise(conversation=locked, analysis=analysis, message=None)
    _session_quality_refresh(locked.session_id)
    performance_invalidate(agent=locked.agent)
    if locked.lead_id is not None and locked.message_count:
        _interaction_on_lead(locked, analysis)
    audit_record(brokerage=brokerage, actor=actor, action="coaching.conversation_ended", resource=locked,
                 details={"messages": locked.message_count, "quality_score": locked.quality_score})
    if locked.message_count and provider_name_for(brokerage) != "local":
        from ..tasks import conversation_analyse_deep

        conversation_analyse_deep.delay_on_commit(conversation_id=locked.pk)
    return locked


def conversation_deep_analysis_record(*, conversation_id: int) -> Conversation | None:
    """Judge an ended conversation again with the brokerage's model engine and keep that judgement.

    The model call runs outside any transaction (it can take seconds); the result is then stored under the row
    lock. Idempotent: a conversation already judged by the model engine (not degraded) is left alone, and alerts
    are never raised twice because `alerts_raise` skips finding codes already alerted for the conversation.
    A model failure leaves the local engine's analysis in place, marked degraded with the reason.
    Returns None when there is nothing to do (unknown or open conversation, local engine, already done).
    """
    conversation = Conversation.objects.select_related("brokerage", "agent").filter(pk=conversation_id).first()
    if conversation is None or conversation.is_open or not conversation.message_count:
        return None
    engine = provider_name_for(conversation.brokerage)
    if engine == "local" or _deep_done(conversation, engine):
        return None
    analysis = analyse_with(engine, history(conversation), final=True)
    with transaction.atomic():
        locked = Conversation.objects.select_for_update(of=("self",)).select_related("agent").get(pk=conversation.pk)
        if _deep_done(locked, engine):
            return None
        locked.analysis = analysis.to_dict()
        locked.quality_score = analysis.overall_quality_score
        locked.analysis_engine = analysis.engine
        locked.analysis_degraded = analysis.degraded
        locked.save(update_fields=["analysis", "quality_score", "analysis_engine", "analysis_degraded"])
        alerts_raise(conversation=locked, analysis=analysis, message=None)
        _session_quality_refresh(locked.session_id)
        performance_invalidate(agent=locked.agent)
    return locked


def _deep_done(conversation: Conversation, engine: str) -> bool:
    return conversation.analysis_engine == engine and not conversation.analysis_degraded

