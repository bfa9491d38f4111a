"""Reads of coaching sessions and of the agents who can be coached."""

import datetime as dt

from django.db.models import Avg, Q, QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, User
from brokerages.permissions import ROLE_PERMISSIONS

from ..models import CoachingSession, Conversation
from ..permissions import visible_to

# The baseline of a new session is the agent's average quality over this many days before it starts.
BASELINE_DAYS = 30
COACHED_ROLES = tuple(role for role, codenames in ROLE_PERMISSIONS.items() if "use_coaching" in codenames)


def coached_agents(brokerage: Brokerage) -> QuerySet[User]:
    """Active members whose role is coached (agents and owners), by name."""
    return User.objects.filter(brokerage=brokerage, is_active=True, role__in=COACHED_ROLES).order_by(
        "full_name", "email")


def coached_agent_get(brokerage: Brokerage, pk: int) -> User:
    """A coached member of the brokerage; anyone else (another brokerage's, support staff) is not found."""
    return get_object_or_404(coached_agents(brokerage), pk=pk)


def session_get(brokerage: Brokerage, pk: int) -> CoachingSession:
    return get_object_or_404(CoachingSession.objects.select_related("agent", "started_by"), brokerage=brokerage,
                             pk=pk)


def session_for_agent(*, brokerage: Brokerage, agent: User) -> CoachingSession | None:
    """The agent's running (active or paused) session; the database allows at most one."""
    return CoachingSession.objects.filter(brokerage=brokerage, agent=agent,
                                          status__in=CoachingSession.RUNNING).first()


SESSION_FIELD = Conversation._meta.get_field("session")


def active_session_for(conversation: Conversation) -> CoachingSession | None:
    """The ACTIVE session of the conversation's agent, the one that coaches it in real time (a paused one does
    not). A conversation read with its session (`select_related`) answers without a query when that session is
    the active one: an agent has one running session at most."""
    if conversation.session_id is not None and SESSION_FIELD.is_cached(conversation):
        if conversation.session.status == CoachingSession.Status.ACTIVE:
            return conversation.session
    return CoachingSession.objects.filter(brokerage_id=conversation.brokerage_id, agent_id=conversation.agent_id,
                                          status=CoachingSession.Status.ACTIVE).first()


def sessions(brokerage: Brokerage, user: User, perms: frozenset[str], *, agent_id: int | None = None,
             running: bool | None = None) -> QuerySet[CoachingSession]:
    """Sessions the user may see (their own, or the team's for managers), newest first."""
    queryset = visible_to(user, perms, CoachingSession.objects.filter(brokerage=brokerage))
    if agent_id:
        queryset = queryset.filter(agent_id=agent_id)
    if running is True:
        queryset = queryset.filter(status__in=CoachingSession.RUNNING)
    elif running is False:
        queryset = queryset.exclude(status__in=CoachingSession.RUNNING)
    return queryset.select_related("agent", "started_by")


def sessions_during(brokerage: Brokerage, start: dt.datetime, end: dt.datetime) -> QuerySet[CoachingSession]:
    """The sessions that ran during [start, end): started before its end and not ended before its start."""
    return (CoachingSession.objects.filter(brokerage=brokerage, started_at__lt=end)
            .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=start)).select_related("agent"))


def running_sessions_by_agent(brokerage: Brokerage) -> dict[int, CoachingSession]:
    return {session.agent_id: session for session in CoachingSession.objects.filter(
        brokerage=brokerage, status__in=CoachingSession.RUNNING)}


def _average_quality(conversations: QuerySet[Conversation]) -> float | None:
    average = conversations.filter(quality_score__isnull=False).aggregate(value=Avg("quality_score"))["value"]
    return None if average is None else round(average, 1)


def mean_quality(*, brokerage: Brokerage, agent: User, since: dt.datetime, until: dt.datetime) -> float | None:
    """The agent's average quality over conversations that ended in [since, until); None without any."""
    return _average_quality(Conversation.objects.filter(brokerage=brokerage, agent=agent, ended_at__gte=since,
                                                        ended_at__lt=until))


def session_quality(session: CoachingSession) -> float | None:
    """Average quality of the ended conversations the session monitored."""
    return _average_quality(Conversation.objects.filter(brokerage_id=session.brokerage_id, session=session,
                                                        ended_at__isnull=False))
