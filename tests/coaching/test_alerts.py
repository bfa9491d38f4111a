"""Coaching alerts: the intensity policy, raising (dedupe, sessions, escalation, counters, notifications, the push
after commit, a channel layer that is down) and acknowledging."""

import logging

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.http import Http404

from brokerages.models import AuditLog, Notification
from coaching.analysis.types import Analysis, Finding
from coaching.models import CoachingAlert, CoachingSession, Intensity
from coaching.realtime import agent_group, managers_group
from coaching.services.alerts import alert_acknowledge, alert_policy, alerts_raise
from tests.factories import UserFactory, make_conversation

GOOD_AREAS = {"lead_qualification": 80.0, "property_presentation": None, "objection_handling": 75.0,
              "closing": None, "market_expertise": 72.0}


def finding(code="objection_price_without_data", *, severity="high", area="objection_handling", positive=False,
            evidence=("Lead: “2.4 million is too much for a two-bed in JVC.”",)):
    return Finding(area=area, code=code, severity=severity, title=f"Improve: {code}",
                   message="The agent answered the price objection without data.",
                   suggested_action="Quote two recent comparable sales in the building.", evidence=evidence,
                   positive=positive)


def analysis(*findings, scores=None, overall=48.0, final=False):
    return Analysis(overall_quality_score=overall, quality_scores_by_area=scores or dict(GOOD_AREAS),
                    expertise_scores={}, talk_ratio=0.6, questions_asked=1, findings=tuple(findings), final=final)


@pytest.fixture
def channel_layer(settings):
    """A fresh in-memory layer (the suite also runs with REDIS_URL set)."""
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    return get_channel_layer()


def listen(layer, group: str) -> str:
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group, channel)
    return channel


def received(layer, channel: str) -> list[dict]:
    messages = []
    while True:
        queue = layer.channels.get(channel)
        if not queue or queue.empty():
            return messages
        messages.append(async_to_sync(layer.receive)(channel))


def start_session(tenant, intensity=Intensity.MODERATE, **fields):
    return CoachingSession.objects.create(brokerage=tenant.brokerage, agent=tenant.agent, intensity=intensity,
                                          **fields)


@pytest.fixture
def conversation(tenant):
    return make_conversation(tenant.brokerage, tenant.agent,
                             [("lead", "2.4 million is too much for a two-bed in JVC."),
                              ("agent", "That is the price, the owner will not move.")], ended=False)


# --- the policy table ---------------------------------------------------------------------------------------

SEVERITY_TABLE = {
    # intensity: {severity: (alert, escalate)} for a finding in an area that scores well
    Intensity.LIGHT_TOUCH: {"low": (False, False), "medium": (False, False), "high": (False, False),
                            "critical": (True, False)},
    Intensity.MODERATE: {"low": (False, False), "medium": (False, False), "high": (False, False),
                         "critical": (True, False)},
    Intensity.INTENSIVE: {"low": (False, False), "medium": (False, False), "high": (True, False),
                          "critical": (True, False)},
    Intensity.CRITICAL: {"low": (True, False), "medium": (True, False), "high": (True, True),
                         "critical": (True, True)},
}


@pytest.mark.parametrize("intensity", list(SEVERITY_TABLE))
@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_policy_by_intensity_and_severity(intensity, severity):
    assert alert_policy(intensity, finding(severity=severity), analysis()) == SEVERITY_TABLE[intensity][severity]


@pytest.mark.parametrize(("intensity", "alerts"), [
    (Intensity.LIGHT_TOUCH, False), (Intensity.MODERATE, True), (Intensity.INTENSIVE, True), (Intensity.CRITICAL, True),
])
def test_a_low_scoring_area_alerts_from_moderate_up(intensity, alerts):
    low = analysis(scores=GOOD_AREAS | {"objection_handling": 45.0})
    assert alert_policy(intensity, finding(severity="low"), low)[0] is alerts
    # an area with no score (not applicable) is not a low score
    unscored = analysis(scores=GOOD_AREAS | {"objection_handling": None})
    assert alert_policy(Intensity.MODERATE, finding(severity="medium"), unscored) == (False, False)


def test_strengths_never_alert():
    for intensity in Intensity.values:
        assert alert_policy(intensity, finding(severity="critical", positive=True), analysis()) == (False, False)


# --- raising --------------------------------------------------------------------------------------------------

def test_alert_carries_the_finding_evidence_scores_and_session_channels(tenant, conversation):
    session = start_session(tenant, Intensity.INTENSIVE, preferred_channels=["AGENT_ALERT"])
    message = conversation.messages.last()
    low = analysis(finding(), scores=GOOD_AREAS | {"objection_handling": 40.0})

    [alert] = alerts_raise(conversation=conversation, analysis=low, message=message)

    alert.refresh_from_db()
    assert (alert.agent, alert.session, alert.message, alert.conversation) == (tenant.agent, session, message,
                                                                              conversation)
    assert alert.alert_type == CoachingAlert.AlertType.REAL_TIME_SUGGESTION
    assert alert.priority == "HIGH" and alert.area == "objection_handling"
    assert alert.title == "Improve: objection_price_without_data"
    assert alert.suggested_action == "Quote two recent comparable sales in the building."
    assert alert.evidence == ["Lead: “2.4 million is too much for a two-bed in JVC.”",
                              "Objection handling score: 40.0/100", "Quality Score: 48.0/100"]
    assert alert.channels == ["AGENT_ALERT"]
    assert not alert.escalated


def test_default_channels_and_review_alerts_after_the_conversation(tenant, conversation):
    start_session(tenant, Intensity.CRITICAL)
    [alert] = alerts_raise(conversation=conversation, analysis=analysis(finding("no_next_step", severity="medium"),
                                                                         final=True))
    assert alert.channels == ["AGENT_ALERT", "IN_APP_MESSAGE"]
    assert alert.alert_type == CoachingAlert.AlertType.CONVERSATION_REVIEW


def test_repeated_analyses_alert_each_finding_once_in_order(tenant, conversation):
    start_session(tenant, Intensity.CRITICAL)
    first = analysis(finding("b_second", severity="low"), finding("a_first", severity="medium"))
    assert [a.code for a in alerts_raise(conversation=conversation, analysis=first)] == ["b_second", "a_first"]
    assert alerts_raise(conversation=conversation, analysis=first) == []

    later = analysis(finding("a_first", severity="medium"), finding("c_new", severity="high"),
                     finding("c_new", severity="high"), final=True)
    assert [a.code for a in alerts_raise(conversation=conversation, analysis=later)] == ["c_new"]
    assert list(CoachingAlert.objects.filter(conversation=conversation).order_by("pk").values_list(
        "code", flat=True)) == ["b_second", "a_first", "c_new"]


def test_the_database_refuses_a_second_alert_for_a_finding(tenant, conversation, monkeypatch):
    """The unique constraint backs up the read of alerted codes: a caller that skipped the conversation's lock
    (and so read a stale list) fails instead of storing a duplicate."""
    start_session(tenant, Intensity.CRITICAL)
    [original] = alerts_raise(conversation=conversation, analysis=analysis(finding("dup", severity="low")))
    real_filter = CoachingAlert.objects.filter

    def stale_filter(*args, **kwargs):
        return real_filter(pk=None) if set(kwargs) == {"conversation"} else real_filter(*args, **kwargs)

    monkeypatch.setattr(CoachingAlert.objects, "filter", stale_filter)
    with pytest.raises(IntegrityError), transaction.atomic():
        alerts_raise(conversation=conversation, analysis=analysis(finding("dup", severity="low")))
    monkeypatch.undo()
    assert list(CoachingAlert.objects.filter(conversation=conversation)) == [original]


@pytest.mark.parametrize("state", ["none", "paused", "completed", "real_time_off"])
def test_no_alerts_without_an_active_real_time_session(tenant, conversation, state):
    if state == "paused":
        start_session(tenant, Intensity.CRITICAL, status=CoachingSession.Status.PAUSED)
    elif state == "completed":
        start_session(tenant, Intensity.CRITICAL, status=CoachingSession.Status.COMPLETED)
    elif state == "real_time_off":
        start_session(tenant, Intensity.CRITICAL, enable_real_time_coaching=False)
    assert alerts_raise(conversation=conversation, analysis=analysis(finding(severity="critical"))) == []
    assert not CoachingAlert.objects.exists()


def test_another_agents_session_does_not_coach_this_conversation(tenant, conversation):
    colleague = UserFactory(brokerage=tenant.brokerage, role="agent")
    CoachingSession.objects.create(brokerage=tenant.brokerage, agent=colleague, intensity=Intensity.CRITICAL)
    assert alerts_raise(conversation=conversation, analysis=analysis(finding(severity="critical"))) == []


def test_session_counters_count_alerts_and_live_interventions(tenant, conversation):
    session = start_session(tenant, Intensity.CRITICAL)
    alerts_raise(conversation=conversation, analysis=analysis(finding("one", severity="low"),
                                                              finding("two", severity="high")))
    alerts_raise(conversation=conversation, analysis=analysis(finding("two", severity="high"),
                                                              finding("three", severity="medium"), final=True))
    session.refresh_from_db()
    assert session.coaching_alerts_sent == 3
    assert session.real_time_interventions == 2  # the review alert came after the conversation


def test_escalations_reach_this_brokerages_managers_only_at_critical(tenant, other_tenant, conversation,
                                                                    django_capture_on_commit_callbacks):
    start_session(tenant, Intensity.CRITICAL)
    UserFactory(brokerage=tenant.brokerage, role="support_staff", is_active=False)
    with django_capture_on_commit_callbacks(execute=True):
        alerts = alerts_raise(conversation=conversation, analysis=analysis(finding("tip", severity="medium"),
                                                                           finding("urgent", severity="critical")))
    assert [(a.code, a.escalated) for a in alerts] == [("tip", False), ("urgent", True)]
    escalations = Notification.objects.filter(kind="coaching_escalation")
    assert sorted(n.recipient.email for n in escalations) == sorted([tenant.owner.email, tenant.support.email])
    assert all(tenant.agent.display_name in n.message and "Improve: urgent" in n.message for n in escalations)
    assert not Notification.objects.filter(recipient__brokerage=other_tenant.brokerage).exists()


def test_no_escalation_below_critical_intensity(tenant, conversation, django_capture_on_commit_callbacks):
    start_session(tenant, Intensity.INTENSIVE)
    with django_capture_on_commit_callbacks(execute=True):
        [alert] = alerts_raise(conversation=conversation, analysis=analysis(finding(severity="critical")))
    assert not alert.escalated
    assert not Notification.objects.filter(kind="coaching_escalation").exists()


def test_alerts_are_pushed_to_the_agent_and_escalations_to_managers_after_commit(
        tenant, conversation, channel_layer, django_capture_on_commit_callbacks):
    start_session(tenant, Intensity.CRITICAL)
    agent_inbox = listen(channel_layer, agent_group(tenant.agent.pk))
    managers_inbox = listen(channel_layer, managers_group(tenant.brokerage.pk))

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        tip, urgent = alerts_raise(conversation=conversation, analysis=analysis(
            finding("tip", severity="low"), finding("urgent", severity="high")))
    assert received(channel_layer, agent_inbox) == []  # nothing leaves before the commit
    for callback in callbacks:
        callback()

    to_agent = received(channel_layer, agent_inbox)
    assert [(m["event_type"], m["alert_id"]) for m in to_agent] == [("COACHING_ALERT", tip.pk),
                                                                     ("COACHING_ALERT", urgent.pk)]
    assert 'hx-swap-oob="afterbegin:#coaching-alerts"' in to_agent[0]["html"]
    assert "Improve: tip" in to_agent[0]["html"] and 'name="alert_id" value="%d"' % tip.pk in to_agent[0]["html"]
    payload = to_agent[1]["payload"]
    assert payload["alert_id"] == urgent.pk and payload["priority"] == "HIGH" and payload["escalated"] is True
    assert set(payload) >= {"alert_id", "alert_type", "title", "message", "priority", "suggested_action", "evidence",
                            "channels", "timestamp", "area", "conversation_id", "escalated", "acknowledged"}
    assert payload["timestamp"].endswith("Z")

    [to_managers] = received(channel_layer, managers_inbox)
    assert (to_managers["event_type"], to_managers["alert_id"]) == ("COACHING_ESCALATION", urgent.pk)
    assert 'hx-swap-oob="afterbegin:#coaching-escalations"' in to_managers["html"]
    assert tenant.agent.display_name in to_managers["html"] and "Acknowledge" not in to_managers["html"]


def test_a_channel_layer_that_is_down_loses_no_alert(tenant, conversation, settings, caplog,
                                                      django_capture_on_commit_callbacks):
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels_redis.core.RedisChannelLayer",
                                           "CONFIG": {"hosts": ["redis://127.0.0.1:9/0"]}}}
    start_session(tenant, Intensity.CRITICAL)
    with caplog.at_level(logging.ERROR, logger="coaching.realtime"), \
            django_capture_on_commit_callbacks(execute=True):
        [alert] = alerts_raise(conversation=conversation, analysis=analysis(finding(severity="critical")))
    assert CoachingAlert.objects.filter(pk=alert.pk).exists()
    assert f"Coaching alerts {alert.pk} were saved but could not be pushed" in caplog.text


# --- acknowledging --------------------------------------------------------------------------------------------

@pytest.fixture
def alert(tenant, conversation):
    start_session(tenant, Intensity.CRITICAL)
    [alert] = alerts_raise(conversation=conversation, analysis=analysis(finding(severity="critical")))
    return alert


def test_the_agent_acknowledges_once(tenant, alert, channel_layer, django_capture_on_commit_callbacks):
    inbox = listen(channel_layer, agent_group(tenant.agent.pk))
    managers_inbox = listen(channel_layer, managers_group(tenant.brokerage.pk))
    with django_capture_on_commit_callbacks(execute=True):
        done = alert_acknowledge(brokerage=tenant.brokerage, actor=tenant.agent, alert=alert)
    assert done.acknowledged_at is not None
    assert AuditLog.objects.filter(action="coaching.alert_acknowledged", resource_id=str(alert.pk),
                                   actor=tenant.agent).count() == 1
    [update] = received(channel_layer, inbox)
    assert update["event_type"] == "COACHING_ALERT_ACKNOWLEDGED" and update["payload"]["acknowledged"] is True
    assert 'hx-swap-oob="true"' in update["html"] and "Acknowledged" in update["html"]
    assert [m["event_type"] for m in received(channel_layer, managers_inbox)] == ["COACHING_ESCALATION_ACKNOWLEDGED"]

    with django_capture_on_commit_callbacks(execute=True):
        again = alert_acknowledge(brokerage=tenant.brokerage, actor=tenant.agent, alert=alert)
    assert again.acknowledged_at == done.acknowledged_at
    assert AuditLog.objects.filter(action="coaching.alert_acknowledged").count() == 1
    assert received(channel_layer, inbox) == []


@pytest.mark.parametrize("who", ["owner", "support", "colleague"])
def test_only_the_alerts_agent_may_acknowledge_it(tenant, alert, who):
    actor = UserFactory(brokerage=tenant.brokerage, role="agent") if who == "colleague" else getattr(tenant, who)
    with pytest.raises(PermissionDenied):
        alert_acknowledge(brokerage=tenant.brokerage, actor=actor, alert=alert)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_another_brokerages_alert_is_not_found(tenant, other_tenant, alert):
    with pytest.raises(Http404):
        alert_acknowledge(brokerage=other_tenant.brokerage, actor=other_tenant.agent, alert=alert)
    alert.refresh_from_db()
    assert alert.acknowledged_at is None
