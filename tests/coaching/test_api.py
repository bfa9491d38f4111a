"""The coaching API: conversations and messages (shapes, transcripts in one go, idempotent retries, bad input and
closed conversations), analysis, sessions, alerts, performance, training plans and metrics."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, Conversation, Message, TrainingPlan
from coaching.services.sessions import session_start
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory, make_conversation, make_lead

from .test_conversations import labelled

CONVERSATIONS = reverse("api-coaching-conversations")
SESSIONS = reverse("api-coaching-sessions")


def messages_url(conversation_id):
    return reverse("api-coaching-conversation-messages", args=[conversation_id])


def transcript(key):
    return [{"speaker": speaker, "text": text} for speaker, text in labelled(key)]


# --- conversations --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_agent_starts_a_live_conversation(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    response = api_as(tenant.agent).post(CONVERSATIONS, {"lead_id": lead.pk, "channel": "sms"}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["agent_id"] == tenant.agent.pk and body["lead_id"] == lead.pk and body["channel"] == "sms"
    assert body["ended_at"] is None and body["messages"] == [] and body["analysis"] is None
    assert set(body) >= {"id", "external_id", "session_id", "started_at", "message_count", "quality_score",
                         "analysis_engine", "analysis_degraded"}


@pytest.mark.django_db
def test_an_integration_posts_a_whole_transcript_and_retries_safely(tenant):
    client = api_as(tenant.owner)
    payload = {"agent_id": tenant.agent.pk, "channel": "whatsapp", "external_id": "wa-thread-88",
               "messages": transcript("m01")}
    first = client.post(CONVERSATIONS, payload, format="json")
    assert first.status_code == 201
    body = first.json()
    assert body["agent_id"] == tenant.agent.pk and body["ended_at"] is not None
    assert body["message_count"] == len(payload["messages"]) == len(body["messages"])
    assert body["messages"][0] == {"position": 1, "speaker": "lead", "text": payload["messages"][0]["text"],
                                   "sent_at": body["messages"][0]["sent_at"]}
    assert body["analysis"]["final"] is True and body["quality_score"] == body["analysis"]["overall_quality_score"]
    retry = client.post(CONVERSATIONS, payload, format="json")
    assert retry.status_code == 201 and retry.json()["id"] == body["id"]
    assert Conversation.objects.count() == 1 and Message.objects.count() == len(payload["messages"])


@pytest.mark.django_db
def test_a_transcript_with_bad_messages_names_them_and_stores_nothing(tenant):
    messages = [{"speaker": "lead", "text": "Hi"}, {"speaker": "boss", "text": "Hm"},
                {"speaker": "agent", "text": "   "}, {"speaker": "agent", "text": "Hello", "mood": "happy"}]
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"messages": messages}, format="json"), 400)
    assert error["fields"]["messages"] == [
        "Message 2: speaker: Unknown speaker “boss”: say whether the agent or the lead said it.",
        "Message 4: mood: Unknown field.",
    ]
    # Once the shapes are right, the service's rules speak, still by number.
    messages = [{"speaker": "lead", "text": "Hi"}, {"speaker": "agent", "text": "   "},
                {"speaker": "agent", "text": "z" * 4001}]
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"messages": messages}, format="json"), 400)
    assert error["fields"]["messages"][0] == "Message 2: The message is empty; type what was said."
    assert error["fields"]["messages"][1].startswith("Message 3: A message holds at most 4,000 characters")
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_starting_for_someone_else_is_for_managers(tenant, other_tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"agent_id": colleague.pk}, format="json"), 400)
    assert error["fields"] == {"agent_id": ["Agents act for themselves only."]}
    for outsider in (tenant.support, other_tenant.agent):
        error = assert_error(api_as(tenant.owner).post(CONVERSATIONS, {"agent_id": outsider.pk}, format="json"), 400)
        assert error["fields"] == {"agent_id": ["No coached member of this brokerage has this id."]}
    colleagues_lead = make_lead(tenant.brokerage, agent=colleague)
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"lead_id": colleagues_lead.pk}, format="json"),
                         400)
    assert error["fields"] == {"lead_id": ["No lead you can work has this id."]}
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"brokerage": 9}, format="json"), 400)
    assert error["fields"] == {"brokerage": ["Unknown field."]}
    error = assert_error(api_as(tenant.agent).post(CONVERSATIONS, {"channel": "fax"}, format="json"), 400)
    assert set(error["fields"]) == {"channel"}


@pytest.mark.django_db
def test_the_list_is_paginated_filtered_and_narrowed_to_the_caller(tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    mine = [make_conversation(tenant.brokerage, tenant.agent, [("lead", "Hi")], ended=False) for _ in range(50)]
    ended = make_conversation(tenant.brokerage, tenant.agent, labelled("m01"))
    make_conversation(tenant.brokerage, colleague, [("lead", "Hi")], ended=False)
    client = api_as(tenant.agent)
    page = client.get(CONVERSATIONS).json()
    assert page["count"] == 51 and len(page["results"]) == 50 and page["next"]
    assert {row["agent_id"] for row in page["results"]} == {tenant.agent.pk}
    assert len(client.get(CONVERSATIONS, {"page": 2}).json()["results"]) == 1
    assert [row["id"] for row in client.get(CONVERSATIONS, {"ended": "true"}).json()["results"]] == [ended.pk]
    assert client.get(CONVERSATIONS, {"ended": "false"}).json()["count"] == len(mine)
    managers = api_as(tenant.support).get(CONVERSATIONS, {"agent": colleague.pk}).json()
    assert managers["count"] == 1 and managers["results"][0]["agent_id"] == colleague.pk
    error = assert_error(client.get(CONVERSATIONS, {"ended": "maybe"}), 400)
    assert "ended" in error["fields"]


# --- messages -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_posted_message_answers_with_the_analysis_and_its_alerts(tenant):
    session_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=tenant.agent, intensity="CRITICAL")
    client = api_as(tenant.agent)
    conversation_id = client.post(CONVERSATIONS, {}, format="json").json()["id"]
    [(lead_says, lead_text), (agent_says, agent_text)] = labelled("m24")
    first = client.post(messages_url(conversation_id), {"speaker": lead_says, "text": lead_text}, format="json")
    assert first.status_code == 201 and first.json()["message"]["position"] == 1
    response = client.post(messages_url(conversation_id), {"speaker": agent_says, "text": agent_text},
                           format="json")
    assert response.status_code == 201
    body = response.json()
    assert body["message"]["position"] == 2 and body["message"]["speaker"] == "agent"
    assert body["analysis"]["final"] is False and "objection_handling" in body["analysis"]["quality_scores_by_area"]
    assert body["alerts"], "a defensive answer to a price objection alerts at critical intensity"
    alert = body["alerts"][0]
    assert set(alert) >= {"alert_id", "alert_type", "title", "message", "priority", "suggested_action", "evidence",
                          "channels", "timestamp", "area", "conversation_id"}
    assert alert["conversation_id"] == conversation_id and alert["alert_type"] == "REAL_TIME_SUGGESTION"
    assert CoachingAlert.objects.filter(pk=alert["alert_id"], agent=tenant.agent).exists()


@pytest.mark.django_db
@pytest.mark.parametrize(("payload", "field", "says"), [
    ({"speaker": "agent", "text": ""}, "text", "The message is empty"),
    ({"speaker": "agent", "text": "x" * 4001}, "text", "at most 4,000 characters (this one has 4,001)"),
    ({"speaker": "robot", "text": "Hello"}, "speaker", "Unknown speaker “robot”"),
    ({"text": "Hello"}, "speaker", "This field is required."),
    ({"speaker": "lead", "text": "Hi", "sent_at": "yesterday"}, "sent_at", "Datetime has wrong format"),
    ({"speaker": "lead", "text": "Hi", "position": 1}, "position", "Unknown field."),
])
def test_bad_messages_answer_400_with_the_field_to_fix(tenant, payload, field, says):
    conversation = make_conversation(tenant.brokerage, tenant.agent, ended=False)
    error = assert_error(api_as(tenant.agent).post(messages_url(conversation.pk), payload, format="json"), 400)
    assert says in error["fields"][field][0]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_message_for_an_ended_conversation_is_a_conflict(tenant):
    client = api_as(tenant.agent)
    conversation_id = client.post(CONVERSATIONS, {"messages": transcript("m02")}, format="json").json()["id"]
    error = assert_error(client.post(messages_url(conversation_id), {"speaker": "agent", "text": "Wait"},
                                     format="json"), 409)
    assert error["code"] == "conversation_ended"
    assert error["message"] == "This conversation has ended; start a new one."


@pytest.mark.django_db
def test_ending_and_reading_the_analysis(tenant):
    client = api_as(tenant.agent)
    conversation_id = client.post(CONVERSATIONS, {}, format="json").json()["id"]
    for speaker, text in labelled("m02"):
        client.post(messages_url(conversation_id), {"speaker": speaker, "text": text}, format="json")
    analysis_url = reverse("api-coaching-conversation-analysis", args=[conversation_id])
    live = client.get(analysis_url).json()
    assert live["ended"] is False and live["quality_score"] is None and live["analysis"]["final"] is False
    ended = client.post(reverse("api-coaching-conversation-end", args=[conversation_id]), {}, format="json")
    assert ended.status_code == 200 and ended.json()["ended_at"] is not None
    again = client.post(reverse("api-coaching-conversation-end", args=[conversation_id]), {}, format="json")
    assert again.json()["ended_at"] == ended.json()["ended_at"]
    final = client.get(analysis_url).json()
    assert final["ended"] is True and final["analysis"]["final"] is True
    assert final["quality_score"] == final["analysis"]["overall_quality_score"] < 60
    assert final["engine"] == "local" and final["degraded"] is False
    detail = client.get(reverse("api-coaching-conversation", args=[conversation_id])).json()
    assert len(detail["messages"]) == len(labelled("m02"))


@pytest.mark.django_db
def test_an_unknown_conversation_is_404(tenant):
    assert_error(api_as(tenant.agent).post(messages_url(987654), {"speaker": "agent", "text": "Hi"},
                                           format="json"), 404)


# --- sessions -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_sessions_start_stop_and_refuse_a_second_one(tenant):
    client = api_as(tenant.owner)
    response = client.post(SESSIONS, {"agent_id": tenant.agent.pk, "intensity": "INTENSIVE",
                                      "preferred_channels": ["AGENT_ALERT"]}, format="json")
    assert response.status_code == 201
    body = response.json()
    assert {key: body[key] for key in ("agent_id", "tenant_id", "status", "intensity", "preferred_channels",
                                       "conversations_monitored", "improvement_delta", "end_time")} == {
        "agent_id": tenant.agent.pk, "tenant_id": tenant.brokerage.pk, "status": "ACTIVE", "intensity": "INTENSIVE",
        "preferred_channels": ["AGENT_ALERT"], "conversations_monitored": 0, "improvement_delta": None,
        "end_time": None}
    error = assert_error(client.post(SESSIONS, {"agent_id": tenant.agent.pk}, format="json"), 409)
    assert error["code"] == "session_running" and "already has an active coaching session" in error["message"]
    session_id = body["session_id"]
    paused = client.post(reverse("api-coaching-session-pause", args=[session_id]), format="json").json()
    assert paused["status"] == "PAUSED"
    resumed = client.post(reverse("api-coaching-session-resume", args=[session_id]), format="json").json()
    assert resumed["status"] == "ACTIVE"
    stopped = client.post(reverse("api-coaching-session-stop", args=[session_id]), format="json").json()
    assert stopped["status"] == "COMPLETED" and stopped["end_time"]
    error = assert_error(client.post(reverse("api-coaching-session-pause", args=[session_id]), format="json"), 409)
    assert error["code"] == "session_ended"
    assert client.get(reverse("api-coaching-session", args=[session_id])).json()["status"] == "COMPLETED"


@pytest.mark.django_db
def test_a_session_that_does_not_exist_is_404(tenant, other_tenant):
    theirs = CoachingSession.objects.create(brokerage=other_tenant.brokerage, agent=other_tenant.agent)
    for session_id in (987654, theirs.pk):
        assert_error(api_as(tenant.owner).post(reverse("api-coaching-session-stop", args=[session_id])), 404)


@pytest.mark.django_db
def test_agents_start_their_own_sessions_below_critical(tenant):
    client = api_as(tenant.agent)
    error = assert_error(client.post(SESSIONS, {"intensity": "CRITICAL"}, format="json"), 400)
    assert "Only a manager can set critical intensity" in error["fields"]["intensity"][0]
    error = assert_error(client.post(SESSIONS, {"preferred_channels": ["PIGEON"]}, format="json"), 400)
    assert "preferred_channels" in error["fields"]
    response = client.post(SESSIONS, {}, format="json")
    assert response.status_code == 201 and response.json()["intensity"] == "MODERATE"
    listing = client.get(SESSIONS, {"running": "true"}).json()
    assert listing["count"] == 1 and listing["results"][0]["agent_id"] == tenant.agent.pk


# --- alerts ---------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_alerts_are_listed_and_acknowledged_by_their_agent(tenant):
    conversation = make_conversation(tenant.brokerage, tenant.agent, [("lead", "Hi")], ended=False)
    alert = CoachingAlert.objects.create(
        brokerage=tenant.brokerage, agent=tenant.agent, conversation=conversation, area="closing",
        code="no_next_step", title="Secure a next step", text="Offer two viewing times.", priority="HIGH",
        escalated=True)
    client = api_as(tenant.agent)
    listed = client.get(reverse("api-coaching-alerts"), {"acknowledged": "false"}).json()
    assert [row["alert_id"] for row in listed["results"]] == [alert.pk]
    assert listed["results"][0]["message"] == "Offer two viewing times."
    managers = api_as(tenant.support).get(reverse("api-coaching-alerts"), {"escalated": "true"}).json()
    assert managers["count"] == 1
    assert_error(api_as(tenant.owner).post(reverse("api-coaching-alert-acknowledge", args=[alert.pk])), 403)
    acknowledged = client.post(reverse("api-coaching-alert-acknowledge", args=[alert.pk])).json()
    assert acknowledged["acknowledged"] is True and acknowledged["acknowledged_at"]
    assert client.get(reverse("api-coaching-alerts"), {"acknowledged": "false"}).json()["count"] == 0


# --- performance, plans, metrics ------------------------------------------------------------------------------

def history(tenant, agent):
    for days, key in enumerate(("m02", "m05", "m13", "m01"), start=1):
        make_conversation(tenant.brokerage, agent, labelled(key),
                          started_at=timezone.now() - dt.timedelta(days=days, hours=1))


@pytest.mark.django_db
def test_an_agents_performance_profile(tenant):
    history(tenant, tenant.agent)
    url = reverse("api-coaching-agent-performance", args=[tenant.agent.pk])
    body = api_as(tenant.agent).get(url, {"days_lookback": 7}).json()
    assert body["agent_id"] == tenant.agent.pk and body["days_lookback"] == 7
    assert body["total_conversations"] == 4 and set(body["quality_scores_by_area"]) == {
        "lead_qualification", "property_presentation", "objection_handling", "closing", "market_expertise"}
    assert {"strengths", "weaknesses", "skill_gaps", "peer_percentile", "performance_trend"} <= set(body)
    error = assert_error(api_as(tenant.agent).get(url, {"days_lookback": 0}), 400)
    assert "days_lookback" in error["fields"]


@pytest.mark.django_db
def test_a_training_plan_is_generated_for_an_agent(tenant):
    history(tenant, tenant.agent)
    url = reverse("api-coaching-agent-training-plans", args=[tenant.agent.pk])
    response = api_as(tenant.owner).post(url, {"target_completion_days": 21}, format="json")
    assert response.status_code == 201
    body = response.json()
    plan = TrainingPlan.objects.get(agent=tenant.agent)
    assert body["plan_id"] == plan.pk and body["agent_id"] == tenant.agent.pk
    assert body["target_completion_date"] == (timezone.localdate() + dt.timedelta(days=21)).isoformat()
    assert body["training_modules"] and {"key", "title", "area", "level", "duration_minutes", "status",
                                         "reason"} <= set(body["training_modules"][0])
    assert body["progress"]["completion_percentage"] == 0.0
    error = assert_error(api_as(tenant.owner).post(url, {"target_completion_days": 0}, format="json"), 400)
    assert "target_completion_days" in error["fields"]


@pytest.mark.django_db
def test_coaching_metrics_carry_their_formulas(tenant):
    history(tenant, tenant.agent)
    client = api_as(tenant.owner)
    body = client.get(reverse("api-coaching-metrics"), {"start": (timezone.localdate() - dt.timedelta(days=10))
                                                        .isoformat(), "end": timezone.localdate().isoformat()}).json()
    assert body["tenant_id"] == tenant.brokerage.pk and body["conversations_analysed"] == 4
    assert set(body["formulas"]) >= {"roi_percentage", "estimated_annual_value", "training_time_reduction_percentage"}
    assert set(body["assumptions"]) == {"coaching_review_minutes_per_conversation",
                                        "coaching_reviewer_hourly_cost_aed", "coaching_platform_monthly_cost_aed"}
    error = assert_error(client.get(reverse("api-coaching-metrics"), {"start": "2025-06-01", "end": "2025-05-01"}),
                         400)
    assert "The period must start before it ends." in error["message"]
