"""Coaching sessions: starting (default intensity, who may set which, one running session per agent), the
baseline, current quality and improvement delta, and pause/resume/stop/cancel with their rules."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from brokerages.models import AuditLog, Role
from brokerages.services import settings_update
from coaching.models import CoachingSession, Conversation
from coaching.services import sessions as services
from coaching.services.conversations import conversation_end, conversation_start, message_record
from tests.factories import UserFactory, make_conversation

from .test_conversations import labelled

Status = CoachingSession.Status


def begin(tenant, actor=None, agent=None, **fields):
    return services.session_start(brokerage=tenant.brokerage, actor=actor or tenant.owner,
                                  agent=agent or tenant.agent, **fields)


def scored(tenant, agent, score, *, ended_days_ago):
    """An ended conversation of `agent` with a given quality score, ended that many days ago."""
    ended_at = timezone.now() - dt.timedelta(days=ended_days_ago)
    conversation = make_conversation(tenant.brokerage, agent, [("lead", "Hello"), ("agent", "Hi")],
                                     started_at=ended_at - dt.timedelta(minutes=5))
    Conversation.objects.filter(pk=conversation.pk).update(quality_score=score, ended_at=ended_at)
    return conversation


@pytest.mark.django_db
def test_a_session_starts_at_the_brokerages_default_intensity(tenant):
    session = begin(tenant)
    assert session.status == Status.ACTIVE and session.intensity == "MODERATE"
    assert session.started_by == tenant.owner and session.enable_real_time_coaching
    assert session.preferred_channels == ["AGENT_ALERT", "IN_APP_MESSAGE"]
    assert AuditLog.objects.filter(action="coaching.session_started", resource_id=str(session.pk)).exists()
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                    values={"default_coaching_intensity": "INTENSIVE"})
    other = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    assert begin(tenant, agent=other).intensity == "INTENSIVE"


@pytest.mark.django_db
def test_a_second_running_session_is_refused_naming_the_agent(tenant):
    first = begin(tenant, intensity="INTENSIVE")
    services.session_pause(brokerage=tenant.brokerage, actor=tenant.owner, session=first)
    with pytest.raises(ValidationError) as error:
        begin(tenant)
    message = error.value.messages[0]
    assert message.startswith(f"{tenant.agent.display_name} already has an active coaching session")
    assert "intensive, paused since" in message and error.value.code == "session_running"
    services.session_stop(brokerage=tenant.brokerage, actor=tenant.owner, session=first)
    assert begin(tenant).status == Status.ACTIVE


@pytest.mark.django_db
def test_the_database_backs_up_the_one_session_rule(tenant, monkeypatch):
    begin(tenant)
    # Two requests that both checked before either saved: the constraint catches the second.
    monkeypatch.setattr(services, "session_for_agent", lambda **kwargs: None)
    with pytest.raises(ValidationError) as error:
        begin(tenant)
    assert "already has an active coaching session" in error.value.messages[0]
    assert CoachingSession.objects.filter(agent=tenant.agent).count() == 1


@pytest.mark.django_db
def test_an_agent_coaches_themself_below_critical(tenant):
    own = begin(tenant, actor=tenant.agent, intensity="INTENSIVE")
    assert own.started_by == tenant.agent
    services.session_stop(brokerage=tenant.brokerage, actor=tenant.agent, session=own)
    with pytest.raises(ValidationError) as error:
        begin(tenant, actor=tenant.agent, intensity="CRITICAL")
    assert "Only a manager can set critical intensity" in error.value.message_dict["intensity"][0]
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    with pytest.raises(PermissionDenied):
        begin(tenant, actor=tenant.agent, agent=colleague)
    # When the owner made CRITICAL the default, an agent's own session may be critical.
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"default_coaching_intensity": "CRITICAL"})
    assert begin(tenant, actor=tenant.agent).intensity == "CRITICAL"


@pytest.mark.django_db
def test_bad_session_values_are_refused(tenant, other_tenant):
    with pytest.raises(ValidationError) as error:
        begin(tenant, intensity="EXTREME")
    assert "Unknown intensity" in error.value.message_dict["intensity"][0]
    with pytest.raises(ValidationError) as error:
        begin(tenant, preferred_channels=["PIGEON"])
    assert "Unknown channel PIGEON" in error.value.message_dict["preferred_channels"][0]
    for outsider in (tenant.support, other_tenant.agent):
        with pytest.raises(ValidationError):
            begin(tenant, agent=outsider)
    assert not CoachingSession.objects.exists()


@pytest.mark.django_db
def test_the_baseline_is_the_30_days_before_the_start(tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    scored(tenant, tenant.agent, 40, ended_days_ago=3)
    scored(tenant, tenant.agent, 60, ended_days_ago=29)
    scored(tenant, tenant.agent, 95, ended_days_ago=31)  # too old
    scored(tenant, colleague, 10, ended_days_ago=2)  # someone else's
    make_conversation(tenant.brokerage, tenant.agent, [("lead", "Hi")], ended=False)  # not finished
    assert begin(tenant).baseline_quality_score == 50.0
    assert begin(tenant, agent=UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
                 ).baseline_quality_score is None


@pytest.mark.django_db
def test_current_quality_and_delta_follow_the_monitored_conversations(tenant):
    scored(tenant, tenant.agent, 30, ended_days_ago=5)
    session = begin(tenant, intensity="LIGHT_TOUCH")
    assert session.baseline_quality_score == 30.0 and session.improvement_delta is None
    conversation = conversation_start(brokerage=tenant.brokerage, actor=tenant.agent, agent=tenant.agent)
    for speaker, text in labelled("m01"):
        message_record(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation, speaker=speaker,
                       text=text)
    ended = conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    stopped = services.session_stop(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
    assert stopped.status == Status.COMPLETED and stopped.ended_at is not None
    assert stopped.current_quality_score == round(ended.quality_score, 1)
    assert stopped.improvement_delta == round(stopped.current_quality_score - 30.0, 1) > 0


@pytest.mark.django_db
def test_pause_resume_and_stop(tenant):
    session = begin(tenant)
    paused = services.session_pause(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
    assert paused.status == Status.PAUSED and paused.paused_at is not None
    assert services.session_pause(brokerage=tenant.brokerage, actor=tenant.owner, session=session).status == \
        Status.PAUSED
    resumed = services.session_resume(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
    assert resumed.status == Status.ACTIVE and resumed.paused_at is None
    stopped = services.session_stop(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
    assert services.session_stop(brokerage=tenant.brokerage, actor=tenant.owner, session=session).ended_at == \
        stopped.ended_at
    for action in (services.session_pause, services.session_resume, services.session_cancel):
        with pytest.raises(ValidationError) as error:
            action(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
        assert error.value.code == "session_ended" and "start a new one" in error.value.messages[0]
    assert list(AuditLog.objects.filter(resource_id=str(session.pk)).order_by("pk").values_list("action", flat=True)) \
        == ["coaching.session_started", "coaching.session_paused", "coaching.session_resumed",
            "coaching.session_completed"]


@pytest.mark.django_db
def test_a_cancelled_session_cannot_be_completed(tenant):
    session = begin(tenant)
    cancelled = services.session_cancel(brokerage=tenant.brokerage, actor=tenant.owner, session=session)
    assert cancelled.status == Status.CANCELLED
    with pytest.raises(ValidationError):
        services.session_stop(brokerage=tenant.brokerage, actor=tenant.owner, session=session)


@pytest.mark.django_db
def test_an_agent_pauses_a_managers_session_but_only_the_manager_ends_it(tenant):
    session = begin(tenant, intensity="CRITICAL")
    services.session_pause(brokerage=tenant.brokerage, actor=tenant.agent, session=session)
    services.session_resume(brokerage=tenant.brokerage, actor=tenant.agent, session=session)
    for action in (services.session_stop, services.session_cancel):
        with pytest.raises(PermissionDenied):
            action(brokerage=tenant.brokerage, actor=tenant.agent, session=session)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    with pytest.raises(PermissionDenied):
        services.session_pause(brokerage=tenant.brokerage, actor=colleague, session=session)
    assert services.session_stop(brokerage=tenant.brokerage, actor=tenant.support, session=session).status == \
        Status.COMPLETED
