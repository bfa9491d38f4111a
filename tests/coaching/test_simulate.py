"""`simulate_conversation` (the demo's live replay) and the coaching part of `seed_demo`."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from brokerages.models import Notification
from coaching.demo_conversations import FUMBLED_PRICE_OBJECTION
from coaching.models import CoachingAlert, CoachingSession, Conversation, TrainingPlan


def simulate(*args) -> str:
    out = StringIO()
    call_command("simulate_conversation", *args, "--delay", "0", stdout=out)
    return out.getvalue()


def test_a_fumbled_price_objection_raises_an_escalated_alert_with_evidence(tenant,
                                                                          django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        output = simulate("--agent", tenant.agent.email, "--intensity", "CRITICAL", "--via", "direct")

    conversation = Conversation.objects.get(agent=tenant.agent)
    assert conversation.ended_at is not None
    assert conversation.message_count == len(FUMBLED_PRICE_OBJECTION.lines)
    objection = CoachingAlert.objects.filter(conversation=conversation, area="objection_handling",
                                             alert_type=CoachingAlert.AlertType.REAL_TIME_SUGGESTION).earliest("pk")
    assert objection.escalated and objection.suggested_action
    assert any("owner won't negotiate" in line for line in objection.evidence)
    # Raised by the agent's defensive reply, not at the end of the conversation.
    assert objection.message.text.startswith("That's the price")
    assert Notification.objects.filter(recipient=tenant.owner).exists()
    assert objection.title in output and "escalated" in output
    assert conversation.quality_score is not None and conversation.quality_score < 60
    assert f"quality {conversation.quality_score}/100" in output


def test_at_light_touch_the_same_conversation_only_alerts_on_critical_findings(tenant):
    simulate("--agent", tenant.agent.email, "--intensity", "LIGHT_TOUCH", "--via", "direct")

    alerts = CoachingAlert.objects.filter(agent=tenant.agent)
    assert all(alert.priority == "CRITICAL" for alert in alerts)
    assert not alerts.filter(escalated=True).exists()


def test_changing_the_intensity_restarts_the_agents_session(tenant):
    simulate("--agent", tenant.agent.email, "--intensity", "MODERATE", "--via", "direct")
    simulate("--agent", tenant.agent.email, "--intensity", "CRITICAL", "--via", "direct", "--script", "strong-call")

    sessions = CoachingSession.objects.filter(agent=tenant.agent).order_by("pk")
    assert [(s.intensity, s.status) for s in sessions] == [("MODERATE", "COMPLETED"), ("CRITICAL", "ACTIVE")]
    assert sessions[0].conversations_monitored == 1 and sessions[1].conversations_monitored == 1


@pytest.mark.django_db(transaction=True)
def test_through_the_running_servers_api(live_server, tenant):
    simulate("--agent", tenant.agent.email, "--intensity", "CRITICAL", "--base-url", live_server.url)

    conversation = Conversation.objects.get(agent=tenant.agent)
    assert conversation.ended_at is not None
    assert CoachingAlert.objects.filter(conversation=conversation, area="objection_handling").exists()


def test_unknown_agents_and_unreachable_servers_are_explained(tenant):
    with pytest.raises(CommandError, match="No active member"):
        simulate("--agent", "nobody@example.test", "--via", "direct")
    with pytest.raises(CommandError, match="make run"):
        simulate("--agent", tenant.agent.email, "--base-url", "http://127.0.0.1:9")


def test_the_demo_has_coached_history_sessions_and_plans(db):
    call_command("seed_demo", stdout=StringIO())
    before = Conversation.objects.count()
    call_command("seed_demo", stdout=StringIO())

    assert Conversation.objects.count() == before > 0
    assert CoachingSession.objects.filter(status="ACTIVE", intensity="CRITICAL").count() == 1
    assert CoachingAlert.objects.exists()
    plans = TrainingPlan.objects.filter(status="active")
    assert plans.exists()
    assert all(plan.items.filter(status="completed").exists() for plan in plans)
    scored = Conversation.objects.exclude(quality_score=None).values_list("quality_score", flat=True)
    assert max(scored) - min(scored) >= 30  # good and poor conversations, not one flat level
