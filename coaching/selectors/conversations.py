"""Reads of conversations, their messages and analyses, and the coaching alerts they raised."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User

from ..analysis.types import Analysis, MessageIn
from ..models import CoachingAlert, Conversation, Message
from ..permissions import visible_to


def conversation_get(brokerage: Brokerage, pk: int) -> Conversation:
    return get_object_or_404(Conversation.objects.select_related("agent", "lead", "session"),
                             brokerage=brokerage, pk=pk)


def conversations(brokerage: Brokerage, user: User, perms: frozenset[str], *, agent_id: int | None = None,
                  ended: bool | None = None) -> QuerySet[Conversation]:
    """Conversations the user may see (their own, or the team's for managers), newest first."""
    queryset = visible_to(user, perms, Conversation.objects.filter(brokerage=brokerage))
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    if ended is not None:
        queryset = queryset.filter(ended_at__isnull=not ended)
    return queryset.select_related("agent", "lead")


def open_conversations(brokerage: Brokerage, agent: User) -> QuerySet[Conversation]:
    return Conversation.objects.filter(brokerage=brokerage, agent=agent, ended_at__isnull=True).select_related(
        "lead")


def conversations_scored(brokerage: Brokerage, start, end) -> list[tuple]:
    """(agent id, ended at, quality score) of the conversations that ended in [start, end) with a score (the
    analytics rollup's reader)."""
    return list(Conversation.objects.filter(brokerage=brokerage, ended_at__gte=start, ended_at__lt=end,
                                            quality_score__isnull=False)
                .values_list("agent_id", "ended_at", "quality_score"))


def messages_of(conversation: Conversation) -> QuerySet[Message]:
    return Message.objects.filter(brokerage_id=conversation.brokerage_id, conversation=conversation).order_by(
        "position")


def history(conversation: Conversation) -> list[MessageIn]:
    """The conversation as the analyser takes it (only the three columns it reads)."""
    return as_history(message_rows(conversation))


def message_rows(conversation: Conversation) -> list[tuple]:
    """(position, speaker, text, sent_at) of every message, in order."""
    return list(messages_of(conversation).values_list("position", "speaker", "text", "sent_at"))


def as_history(rows: list[tuple]) -> list[MessageIn]:
    """`message_rows` as the analyser takes them. A transcript pasted without times stores every message at the
    conversation's start; the analyser then gets no times at all rather than a string of zero-second replies
    that would flatter the agent."""
    untimed = len(rows) > 1 and len({sent_at for *_, sent_at in rows}) == 1
    return [MessageIn(speaker, text, None if untimed else sent_at) for _, speaker, text, sent_at in rows]


def analysis_of(conversation: Conversation) -> Analysis | None:
    return Analysis.from_dict(conversation.analysis) if conversation.analysis else None


def alert_get(brokerage: Brokerage, pk: int) -> CoachingAlert:
    return get_object_or_404(CoachingAlert.objects.select_related("conversation", "agent"), brokerage=brokerage,
                             pk=pk)


def alerts(brokerage: Brokerage, user: User, perms: frozenset[str], *, agent_id: int | None = None,
           escalated: bool | None = None, acknowledged: bool | None = None,
           conversation_id: int | None = None) -> QuerySet[CoachingAlert]:
    """Alerts the user may see (their own, or the team's for managers), newest first."""
    queryset = visible_to(user, perms, CoachingAlert.objects.filter(brokerage=brokerage))
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    if conversation_id:
        queryset = queryset.filter(conversation_id=conversation_id)
    if escalated is not None:
        queryset = queryset.filter(escalated=escalated)
    if acknowledged is not None:
        queryset = queryset.filter(acknowledged_at__isnull=not acknowledged)
    return queryset.select_related("agent", "conversation")

