"""Writes of coaching sessions: start, pause, resume, stop (completed) and cancel.

Who: managers (`manage_coaching`) run sessions for any coached member of the brokerage at any intensity. An
agent may start a session for themselves at LIGHT_TOUCH, MODERATE or INTENSIVE — CRITICAL escalates every
finding to the managers, so it is theirs to impose (unless the brokerage's default intensity is CRITICAL, which
an owner chose). An agent may pause and resume their own session (a private call, a break), but stops or
cancels only a session they started themselves: a session a manager started is the manager's to end.
"""

import datetime as dt

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.permissions import brokerage_perms
from brokerages.selectors import setting_value
from brokerages.services import audit_record

from ..models import CoachingSession, Intensity
from ..permissions import AGENT_INTENSITIES, is_coach
from ..selectors.performance import performance_invalidate
from ..selectors.sessions import BASELINE_DAYS, mean_quality, session_for_agent, session_quality
from .conversations import check_coached_agent

Status = CoachingSession.Status
# The seed's notification channels an alert can go out on.
NOTIFICATION_CHANNELS = ("AGENT_ALERT", "IN_APP_MESSAGE", "EMAIL", "SMS")
DEFAULT_CHANNELS = ["AGENT_ALERT", "IN_APP_MESSAGE"]


def _already_running(agent: User, session: CoachingSession | None) -> ValidationError:
    if session is None:
        return ValidationError(f"{agent.display_name} already has an active coaching session; stop it before "
                               "starting another.", code="session_running")
    state = "paused" if session.status == Status.PAUSED else "running"
    return ValidationError(
        f"{agent.display_name} already has an active coaching session ({session.get_intensity_display().lower()}, "
        f"{state} since {timezone.localtime(session.started_at):%d %b %H:%M}); stop it before starting another.",
        code="session_running")


def _clean_channels(channels) -> list[str]:
    if channels is None:
        return list(DEFAULT_CHANNELS)
    unknown = sorted({str(channel) for channel in channels} - set(NOTIFICATION_CHANNELS))
    if unknown:
        raise ValidationError({"preferred_channels": f"Unknown channel {', '.join(unknown)}; choose from "
                                                     f"{', '.join(NOTIFICATION_CHANNELS)}."})
    return list(dict.fromkeys(channels))


@transaction.atomic
def session_start(*, brokerage: Brokerage, actor: User | None, agent: User, intensity: str | None = None,
                  enable_real_time: bool = True, enable_notifications: bool = True,
                  preferred_channels: list[str] | None = None) -> CoachingSession:
    """Start coaching `agent` at `intensity` (the brokerage's `default_coaching_intensity` when None).

    Before: the agent has no running (active or paused) session — otherwise ValidationError naming the agent;
    the database's one-running-session constraint backs this up under concurrency. After: an ACTIVE session
    whose baseline is the agent's average quality over the 30 days before now (None without ended conversations).
    """
    check_coached_agent(brokerage, agent)
    default = setting_value(brokerage, "default_coaching_intensity")
    intensity = intensity or default
    if intensity not in Intensity.values:
        raise ValidationError({"intensity": f"Unknown intensity “{intensity}”; choose from "
                                            f"{', '.join(Intensity.values)}."})
    if actor is not None:
        perms = brokerage_perms(actor, brokerage)
        if not is_coach(perms):
            if "use_coaching" not in perms or actor.pk != agent.pk:
                raise PermissionDenied("Only managers start coaching sessions for other members.")
            if intensity not in AGENT_INTENSITIES and intensity != default:
                raise ValidationError({"intensity": "Only a manager can set critical intensity: it escalates "
                                                    "every finding to them."})
    channels = _clean_channels(preferred_channels)
    running = session_for_agent(brokerage=brokerage, agent=agent)
    if running is not None:
        raise _already_running(agent, running)
    now = timezone.now()
    session = CoachingSession(
        brokerage=brokerage, agent=agent, started_by=actor, intensity=intensity, started_at=now,
        enable_real_time_coaching=enable_real_time, enable_notifications=enable_notifications,
        preferred_channels=channels,
        baseline_quality_score=mean_quality(brokerage=brokerage, agent=agent,
                                            since=now - dt.timedelta(days=BASELINE_DAYS), until=now))
    try:
        with transaction.atomic():
            session.save()
    except IntegrityError:
        raise _already_running(agent, session_for_agent(brokerage=brokerage, agent=agent)) from None
    audit_record(brokerage=brokerage, actor=actor, action="coaching.session_started", resource=session,
                 details={"agent": agent.email, "intensity": intensity,
                          "baseline_quality_score": session.baseline_quality_score})
    return session


def _locked(brokerage: Brokerage, actor: User | None, session: CoachingSession, *, ending: bool) -> CoachingSession:
    session = CoachingSession.objects.select_for_update(of=("self",)).select_related("agent").get(pk=session.pk,
                                                                                     brokerage=brokerage)
    if actor is None:
        return session
    perms = brokerage_perms(actor, brokerage)
    if is_coach(perms):
        return session
    if "use_coaching" not in perms or session.agent_id != actor.pk:
        raise PermissionDenied("You can only change your own coaching session.")
    if ending and session.started_by_id != actor.pk:
        raise PermissionDenied("A manager started this session; ask them to end it (you can pause it).")
    return session


def _ended(session: CoachingSession) -> ValidationError:
    return ValidationError(f"This session was {session.get_status_display().lower()} on "
                           f"{timezone.localtime(session.ended_at):%d %b %Y}; start a new one.", code="session_ended")


def _save(session: CoachingSession, actor: User | None, action: str, fields: list[str], **details) -> CoachingSession:
    session.save(update_fields=fields)
    audit_record(brokerage=session.brokerage, actor=actor, action=action, resource=session,
                 details={"agent": session.agent.email, **details})
    return session


@transaction.atomic
def session_pause(*, brokerage: Brokerage, actor: User | None, session: CoachingSession) -> CoachingSession:
    """Stop alerting for a while (a paused session monitors nothing). Pausing a paused session is a no-op."""
    session = _locked(brokerage, actor, session, ending=False)
    if session.status == Status.PAUSED:
        return session
    if session.status != Status.ACTIVE:
        raise _ended(session)
    session.status, session.paused_at = Status.PAUSED, timezone.now()
    return _save(session, actor, "coaching.session_paused", ["status", "paused_at"])


@transaction.atomic
def session_resume(*, brokerage: Brokerage, actor: User | None, session: CoachingSession) -> CoachingSession:
    """Coach again after a pause. Resuming an active session is a no-op."""
    session = _locked(brokerage, actor, session, ending=False)
    if session.status == Status.ACTIVE:
        return session
    if session.status != Status.PAUSED:
        raise _ended(session)
    session.status, session.paused_at = Status.ACTIVE, None
    return _save(session, actor, "coaching.session_resumed", ["status", "paused_at"])


def _finish(brokerage: Brokerage, actor: User | None, session: CoachingSession, status: str) -> CoachingSession:
    session = _locked(brokerage, actor, session, ending=True)
    if session.status == status:
        return session
    if session.status not in CoachingSession.RUNNING:
        raise _ended(session)
    session.status, session.ended_at, session.paused_at = status, timezone.now(), None
    session.current_quality_score = session_quality(session)
    action = "coaching.session_completed" if status == Status.COMPLETED else "coaching.session_cancelled"
    # Completed sessions count in the agent's profile.
    performance_invalidate(agent=session.agent)
    return _save(session, actor, action, ["status", "ended_at", "paused_at", "current_quality_score"],
                 improvement_delta=session.improvement_delta)


@transaction.atomic
def session_stop(*, brokerage: Brokerage, actor: User | None, session: CoachingSession) -> CoachingSession:
    """End the session as completed, with its final current quality. Stopping a completed session is a no-op;
    a cancelled one cannot be completed."""
    return _finish(brokerage, actor, session, Status.COMPLETED)


@transaction.atomic
def session_cancel(*, brokerage: Brokerage, actor: User | None, session: CoachingSession) -> CoachingSession:
    """End the session as cancelled (started by mistake: metrics leave it out of completed coaching)."""
    return _finish(brokerage, actor, session, Status.CANCELLED)
