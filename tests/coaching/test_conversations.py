"""Conversations and messages: starting one (who, with which lead, idempotent on external_id), recording messages
(positions, bad input, closed conversations, incremental analysis, the session link and its alerts), pasted
transcripts (all or nothing, line-numbered errors), ending (full analysis, session quality, the profile cache,
the lead's timeline) and the deep model-backed analysis after the end."""

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from brokerages.models import AuditLog, Role
from coaching.models import CoachingAlert, CoachingSession, Conversation, Intensity, Message, PerformanceSnapshot
from coaching.selectors.performance import agent_performance
from coaching.services.conversations import (
    conversation_deep_analysis_record,
    conversation_end,
    conversation_start,
    message_record,
    transcript_record,
)
from coaching.tasks import conversation_analyse_deep
from coaching.transcripts import TranscriptLine, parse_transcript
from nurturing.models import Interaction
from tests.conftest import make_tenant
from tests.copilot.conftest import brokerage_on_fake_claude, fake  # noqa: F401
from tests.copilot.fake_llm_server import Reply, anthropic_error, anthropic_message
from tests.factories import UserFactory, make_lead

LABELLED = {item["id"]: item for item in json.loads(
    (Path(__file__).parents[1] / "data" / "coaching_conversations.json").read_text())["conversations"]}


def labelled(key: str) -> list[tuple[str, str]]:
    """(speaker, text) of a conversation of the labelled set (tests/data/coaching_conversations.json)."""
    return [(message["speaker"], message["text"]) for message in LABELLED[key]["messages"]]


def start(tenant, agent=None, **fields):
    agent = agent or tenant.agent
    return conversation_start(brokerage=tenant.brokerage, actor=agent, agent=agent, **fields)


def say(tenant, conversation, speaker, text, actor=None, **fields):
    return message_record(brokerage=tenant.brokerage, actor=actor or tenant.agent, conversation=conversation,
                          speaker=speaker, text=text, **fields)


def play(tenant, conversation, messages):
    return [say(tenant, conversation, speaker, text) for speaker, text in messages]


def session(tenant, agent=None, intensity=Intensity.CRITICAL, **fields):
    agent = agent or tenant.agent
    return CoachingSession.objects.create(brokerage=tenant.brokerage, agent=agent, started_by=tenant.owner,
                                          intensity=intensity, **fields)


def lines(*pairs):
    return [TranscriptLine(speaker, text, None, f"Line {number}") for number, (speaker, text) in
            enumerate(pairs, start=1)]


# --- starting -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_an_agent_starts_their_own_conversation_with_a_lead_they_work(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    conversation = start(tenant, lead=lead, channel="whatsapp")
    assert conversation.is_open and conversation.lead == lead and conversation.channel == "whatsapp"
    assert AuditLog.objects.filter(action="coaching.conversation_started", resource_id=str(conversation.pk)).exists()


@pytest.mark.django_db
def test_an_agent_cannot_log_for_a_colleague_or_with_a_colleagues_lead(tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    with pytest.raises(ValidationError) as error:
        conversation_start(brokerage=tenant.brokerage, actor=tenant.agent, agent=colleague)
    assert error.value.message_dict == {"agent": ["Agents log their own conversations."]}
    their_lead = make_lead(tenant.brokerage, agent=colleague)
    with pytest.raises(ValidationError) as error:
        start(tenant, lead=their_lead)
    assert "leads you work" in error.value.message_dict["lead"][0]
    # A manager logs for anyone, with any lead of the brokerage.
    managed = conversation_start(brokerage=tenant.brokerage, actor=tenant.support, agent=colleague, lead=their_lead)
    assert managed.agent == colleague


@pytest.mark.django_db
def test_only_coached_members_of_the_brokerage_have_conversations(tenant, other_tenant):
    for outsider in (tenant.support, other_tenant.agent):
        with pytest.raises(ValidationError) as error:
            conversation_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=outsider)
        assert "agent" in error.value.message_dict
    with pytest.raises(ValidationError) as error:
        start(tenant, lead=make_lead(other_tenant.brokerage))
    assert error.value.message_dict == {"lead": ["Pick a lead of this brokerage."]}
    with pytest.raises(PermissionDenied):
        conversation_start(brokerage=tenant.brokerage, actor=other_tenant.owner, agent=tenant.agent)


@pytest.mark.django_db
def test_bad_start_values_are_refused(tenant):
    with pytest.raises(ValidationError) as error:
        start(tenant, channel="fax")
    assert error.value.message_dict == {"channel": ["Unknown channel “fax”."]}
    with pytest.raises(ValidationError) as error:
        start(tenant, started_at=timezone.now() + dt.timedelta(hours=2))
    assert "in the future" in error.value.message_dict["started_at"][0]
    with pytest.raises(ValidationError):
        start(tenant, external_id="x" * 101)
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_a_retried_start_with_the_same_external_id_returns_the_first_conversation(tenant):
    first = start(tenant, external_id="call-7781", channel="call")
    again = start(tenant, external_id=" call-7781 ", channel="sms")
    assert again.pk == first.pk and again.channel == "call"
    assert Conversation.objects.count() == 1
    assert AuditLog.objects.filter(action="coaching.conversation_started").count() == 1
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    with pytest.raises(ValidationError) as error:
        conversation_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=colleague, external_id="call-7781")
    assert "another agent's conversation" in error.value.message_dict["external_id"][0]


@pytest.mark.django_db
def test_external_ids_are_per_brokerage(tenant, other_tenant):
    mine, theirs = start(tenant, external_id="abc"), start(other_tenant, external_id="abc")
    assert mine.pk != theirs.pk


# --- messages -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_messages_take_the_next_position_and_carry_the_incremental_analysis(tenant):
    conversation = start(tenant)
    recorded = play(tenant, conversation, labelled("m23"))
    assert [item.message.position for item in recorded] == list(range(1, len(recorded) + 1))
    conversation.refresh_from_db()
    assert conversation.message_count == len(recorded)
    assert conversation.analysis["final"] is False and conversation.quality_score is None
    assert conversation.analysis == recorded[-1].analysis.to_dict()
    # While the conversation is live, a next step not yet secured is not a finding.
    assert conversation.analysis["quality_scores_by_area"]["closing"] is None


@pytest.mark.django_db
@pytest.mark.parametrize(("speaker", "text", "field", "says"), [
    ("agent", "", "text", "The message is empty"),
    ("lead", "   \n\t ", "text", "The message is empty"),
    ("agent", "x" * 4001, "text", "at most 4,000 characters (this one has 4,001)"),
    ("manager", "Hello", "speaker", "Unknown speaker “manager”"),
])
def test_bad_messages_are_refused_with_a_reason(tenant, speaker, text, field, says):
    conversation = start(tenant)
    with pytest.raises(ValidationError) as error:
        say(tenant, conversation, speaker, text)
    assert says in error.value.message_dict[field][0]
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_message_of_exactly_the_limit_is_kept(tenant):
    recorded = say(tenant, start(tenant), "lead", "a" * 4000)
    assert len(recorded.message.text) == 4000


@pytest.mark.django_db
def test_an_ended_conversation_takes_no_more_messages(tenant):
    conversation = start(tenant)
    say(tenant, conversation, "lead", "Is the Marina 2-bed still available?")
    conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    with pytest.raises(ValidationError) as error:
        say(tenant, conversation, "agent", "Sorry, one more thing")
    assert error.value.messages == ["This conversation has ended; start a new one."]
    assert error.value.code == "conversation_ended"
    assert Message.objects.filter(conversation=conversation).count() == 1


@pytest.mark.django_db
def test_times_stay_in_order_and_future_times_are_refused(tenant):
    started = timezone.now() - dt.timedelta(minutes=30)
    conversation = start(tenant, started_at=started)
    first = say(tenant, conversation, "lead", "Hello", sent_at=started + dt.timedelta(minutes=10)).message
    # A skewed clock posting an earlier time is moved up to the previous message, not refused.
    late = say(tenant, conversation, "agent", "Hi!", sent_at=started + dt.timedelta(minutes=5)).message
    assert late.sent_at == first.sent_at and late.position == 2
    early = say(tenant, start(tenant, started_at=started), "lead", "Hi", sent_at=started - dt.timedelta(hours=1))
    assert early.message.sent_at == started
    with pytest.raises(ValidationError) as error:
        say(tenant, conversation, "lead", "From the future", sent_at=timezone.now() + dt.timedelta(hours=1))
    assert "in the future" in error.value.message_dict["sent_at"][0]


@pytest.mark.django_db
def test_the_database_refuses_two_messages_in_one_place(tenant):
    conversation = start(tenant)
    say(tenant, conversation, "lead", "Hello")
    with pytest.raises(IntegrityError), transaction.atomic():
        Message.objects.create(brokerage=tenant.brokerage, conversation=conversation, position=1, speaker="agent",
                               text="Same place")


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="concurrent writers need PostgreSQL")
def test_concurrent_posts_get_distinct_consecutive_positions():
    with scopes_disabled():
        tenant = make_tenant("Concurrent Realty")
        conversation = start(tenant)
    writers, per_writer, errors = 4, 5, []
    barrier = threading.Barrier(writers)

    def run(number):
        try:
            barrier.wait()
            with scope(brokerage=tenant.brokerage):
                for index in range(per_writer):
                    say(tenant, conversation, "lead", f"Writer {number} message {index}")
        except Exception as error:  # noqa: BLE001 - reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(number,)) for number in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    with scopes_disabled():
        positions = list(Message.objects.filter(conversation=conversation).values_list("position", flat=True))
        conversation.refresh_from_db()
    assert sorted(positions) == list(range(1, writers * per_writer + 1))
    assert conversation.message_count == writers * per_writer


# --- the session link and alerts ------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_active_session_monitors_a_conversation_once_and_its_findings_alert(tenant):
    running = session(tenant, intensity=Intensity.CRITICAL)
    conversation = start(tenant)
    recorded = play(tenant, conversation, labelled("m24"))
    conversation.refresh_from_db()
    running.refresh_from_db()
    assert conversation.session == running
    assert running.conversations_monitored == 1
    raised = [alert for item in recorded for alert in item.alerts]
    assert raised, "a price objection answered defensively alerts at critical intensity"
    assert {alert.area for alert in raised} >= {"objection_handling"}
    assert all(alert.message_id == recorded[-1].message.pk for alert in recorded[-1].alerts)
    assert CoachingAlert.objects.filter(conversation=conversation).count() == len(raised)
    assert running.coaching_alerts_sent == len(raised)


@pytest.mark.django_db
def test_without_an_active_session_nothing_is_monitored_or_alerted(tenant):
    session(tenant, status=CoachingSession.Status.PAUSED)
    conversation = start(tenant)
    recorded = play(tenant, conversation, labelled("m24"))
    conversation.refresh_from_db()
    assert conversation.session is None
    assert all(item.alerts == [] for item in recorded)
    assert not CoachingAlert.objects.exists()


@pytest.mark.django_db
def test_a_colleagues_session_does_not_watch_my_conversation(tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    session(tenant, agent=colleague)
    conversation = start(tenant)
    play(tenant, conversation, labelled("m24"))
    conversation.refresh_from_db()
    assert conversation.session is None and not CoachingAlert.objects.exists()


# --- transcripts ----------------------------------------------------------------------------------------------

def test_a_transcript_reads_labels_names_times_and_continuations():
    text = ("Agent: Good morning, this is Sara.\n\n"
            "Lead: Hi Sara.\n"
            "[10:02] Sara (agent): Are you buying or renting?\n"
            "10:03 - Omar (client): Buying, in JVC: two beds\n"
            "and a study if possible\n"
            "Omar: Around 1.5 million.\n"
            "[23:59] Agent: Noted\n"
            "[00:01] Lead: Good night")
    read = parse_transcript(text, agent_names=["Sara Khan"], lead_names=["Omar Haddad"], day=dt.date(2025, 5, 1))
    assert [(line.speaker, line.where) for line in read] == [
        ("agent", "Line 1"), ("lead", "Line 3"), ("agent", "Line 4"), ("lead", "Line 5"), ("lead", "Line 7"),
        ("agent", "Line 8"), ("lead", "Line 9")]
    assert read[3].text == "Buying, in JVC: two beds\nand a study if possible"
    assert read[2].sent_at.isoformat() == "2025-05-01T10:02:00+04:00"
    assert read[0].sent_at is None
    assert read[6].sent_at.isoformat() == "2025-05-02T00:01:00+04:00"  # after midnight


def test_unreadable_transcript_lines_are_all_named_by_number():
    text = "Hello there\nAgent: Hi\nBob: who is this?\n[25:61] Lead: Me\nAgent (manager): hm\nLead: fine"
    with pytest.raises(ValidationError) as error:
        parse_transcript(text, agent_names=["Sara"], day=dt.date(2025, 5, 1))
    assert error.value.message_dict["transcript"] == [
        "Line 1: start with who is speaking, e.g. “Agent: …” or “Lead: …”.",
        "Line 3: “Bob” is neither the agent nor the lead; start the line with “Agent:” or “Lead:”.",
        "Line 4: “25:61” is not a time of day.",
    ]  # "Agent (manager)" still names the agent


@pytest.mark.django_db
def test_a_transcript_is_stored_whole_and_ended(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    conversation = transcript_record(brokerage=tenant.brokerage, actor=tenant.agent, agent=tenant.agent, lead=lead,
                                     lines=lines(*labelled("m01")), channel="whatsapp")
    assert not conversation.is_open and conversation.message_count == len(labelled("m01"))
    assert conversation.quality_score is not None and conversation.analysis["final"] is True
    assert list(conversation.messages.values_list("position", flat=True)) == list(
        range(1, conversation.message_count + 1))
    assert Interaction.objects.filter(lead=lead, channel="whatsapp").count() == 1


@pytest.mark.django_db
def test_a_transcript_with_a_bad_line_stores_nothing(tenant):
    bad = lines(("lead", "Hi"), ("agent", " "), ("agent", "y" * 4001), ("boss", "hm"))
    with pytest.raises(ValidationError) as error:
        transcript_record(brokerage=tenant.brokerage, actor=tenant.agent, agent=tenant.agent, lines=bad)
    problems = error.value.message_dict["transcript"]
    assert problems[0].startswith("Line 2: The message is empty")
    assert problems[1].startswith("Line 3: A message holds at most 4,000 characters")
    assert problems[2].startswith("Line 4: Unknown speaker “boss”")
    assert not Conversation.objects.exists() and not Message.objects.exists()


@pytest.mark.django_db
def test_a_retried_transcript_returns_the_stored_conversation_untouched(tenant):
    first = transcript_record(brokerage=tenant.brokerage, actor=tenant.agent, agent=tenant.agent,
                              lines=lines(*labelled("m02")), external_id="wa-1")
    again = transcript_record(brokerage=tenant.brokerage, actor=tenant.agent, agent=tenant.agent,
                              lines=lines(("lead", "Something else")), external_id="wa-1")
    assert again.pk == first.pk
    assert Message.objects.filter(conversation=first).count() == len(labelled("m02"))


# --- ending ---------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_ending_judges_the_whole_conversation_and_logs_it_on_the_lead(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    conversation = start(tenant, lead=lead)
    play(tenant, conversation, labelled("m02"))
    ended = conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    assert ended.ended_at is not None and ended.analysis["final"] is True
    assert ended.quality_score == ended.analysis["overall_quality_score"] and ended.quality_score < 60
    assert ended.analysis["quality_scores_by_area"]["closing"] < 60  # no next step, now that it is over
    interaction = Interaction.objects.get(lead=lead)
    assert interaction.summary == (f"Coached phone call: quality {ended.quality_score:.0f}/100, "
                                   f"{ended.message_count} messages.")
    assert interaction.direction == "inbound" and interaction.agent == tenant.agent  # the lead wrote first
    # Ending again changes nothing.
    again = conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    assert again.ended_at == ended.ended_at
    assert Interaction.objects.filter(lead=lead).count() == 1
    assert AuditLog.objects.filter(action="coaching.conversation_ended").count() == 1


@pytest.mark.django_db
def test_a_coached_conversation_with_an_opted_out_lead_stays_an_internal_note(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, do_not_contact=True)
    conversation = start(tenant, lead=lead)
    say(tenant, conversation, "agent", "Hello, following up on the villa")
    conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    assert Interaction.objects.get(lead=lead).direction == "internal"


@pytest.mark.django_db
def test_an_empty_conversation_ends_without_a_score_or_an_interaction(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    ended = conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=start(tenant, lead=lead))
    assert ended.ended_at is not None and ended.quality_score is None
    assert not Interaction.objects.filter(lead=lead).exists()


@pytest.mark.django_db
def test_ending_moves_the_sessions_current_quality_and_drops_the_cached_profile(tenant):
    running = session(tenant, intensity=Intensity.LIGHT_TOUCH, baseline_quality_score=50.0)
    agent_performance(brokerage=tenant.brokerage, agent=tenant.agent)
    assert PerformanceSnapshot.objects.filter(agent=tenant.agent).exists()
    scores = []
    for key in ("m01", "m02"):
        conversation = start(tenant)
        play(tenant, conversation, labelled(key))
        scores.append(conversation_end(brokerage=tenant.brokerage, actor=tenant.agent,
                                       conversation=conversation).quality_score)
        assert not PerformanceSnapshot.objects.filter(agent=tenant.agent).exists()
        agent_performance(brokerage=tenant.brokerage, agent=tenant.agent)
    running.refresh_from_db()
    assert running.conversations_monitored == 2
    assert running.current_quality_score == pytest.approx(sum(scores) / 2, abs=0.05)
    assert running.improvement_delta == pytest.approx(sum(scores) / 2 - 50.0, abs=0.1)


@pytest.mark.django_db
def test_the_final_analysis_raises_review_alerts_once(tenant):
    session(tenant, intensity=Intensity.CRITICAL)
    conversation = start(tenant)
    play(tenant, conversation, labelled("m02"))
    live_codes = set(CoachingAlert.objects.filter(conversation=conversation).values_list("code", flat=True))
    conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    alerts = CoachingAlert.objects.filter(conversation=conversation)
    review = alerts.filter(alert_type=CoachingAlert.AlertType.CONVERSATION_REVIEW)
    assert review.exists(), "the missing next step is only decidable once the conversation has ended"
    assert not set(review.values_list("code", flat=True)) & live_codes
    assert alerts.count() == len(set(alerts.values_list("code", flat=True)))


# --- deep analysis --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_with_the_local_engine_no_deep_analysis_is_queued(tenant, django_capture_on_commit_callbacks):
    conversation = start(tenant)
    say(tenant, conversation, "lead", "Hello")
    with django_capture_on_commit_callbacks() as callbacks:
        conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    assert callbacks == []
    assert conversation_deep_analysis_record(conversation_id=conversation.pk) is None


@pytest.mark.django_db
def test_a_failing_model_leaves_the_local_analysis_marked_degraded(tenant, settings, fake,  # noqa: F811
                                                                    django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    brokerage_on_fake_claude(settings, fake, tenant.brokerage, tenant.owner)
    fake.script(Reply(status=500, body=anthropic_error(500)))
    session(tenant, intensity=Intensity.CRITICAL)
    conversation = start(tenant)
    play(tenant, conversation, labelled("m02"))
    with django_capture_on_commit_callbacks() as callbacks:
        ended = conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    alerts_before = CoachingAlert.objects.filter(conversation=conversation).count()
    for callback in callbacks:  # the alert pushes and the queued deep analysis (eager)
        callback()
    conversation.refresh_from_db()
    assert fake.requests, "the deep analysis ran after commit"
    assert conversation.analysis_degraded is True and conversation.analysis["degraded"] is True
    assert conversation.analysis["degraded_reason"]
    assert conversation.quality_score == ended.quality_score  # the local judgement stands
    assert CoachingAlert.objects.filter(conversation=conversation).count() == alerts_before


MODEL_ANSWER = {
    "scores": {"lead_qualification": 20, "property_presentation": 40, "objection_handling": 10, "closing": 20,
               "market_expertise": 30},
    "expertise": {"pricing_valuation": 25, "neighbourhood_knowledge": None, "financing": None,
                  "regulation_process": None, "investment": None},
    "findings": [{"area": "objection_handling", "code": "dismissed_lead_comparables", "severity": "high",
                  "title": "Dismissed the lead's comparables", "message": "The agent called the lead's comparables "
                  "fake instead of looking at them.", "suggested_action": "Ask which listings they saw and compare.",
                  "evidence": ["Those cheaper ones are probably fake listings"], "message_number": 6}],
}


@pytest.mark.django_db
def test_the_model_judgement_replaces_the_local_one_once(tenant, settings, fake,  # noqa: F811
                                                          django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    brokerage_on_fake_claude(settings, fake, tenant.brokerage, tenant.owner)
    fake.script(Reply(body=anthropic_message(json.dumps(MODEL_ANSWER))))
    running = session(tenant, intensity=Intensity.CRITICAL)
    conversation = start(tenant)
    play(tenant, conversation, labelled("m02"))
    with django_capture_on_commit_callbacks(execute=True):
        conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    conversation.refresh_from_db()
    running.refresh_from_db()
    assert len(fake.requests) == 1
    assert conversation.analysis_engine == "anthropic" and conversation.analysis_degraded is False
    assert conversation.quality_score == 24.0 and running.current_quality_score == 24.0
    model_alert = CoachingAlert.objects.get(conversation=conversation, code="dismissed_lead_comparables")
    assert model_alert.alert_type == CoachingAlert.AlertType.CONVERSATION_REVIEW and model_alert.escalated
    alerts = CoachingAlert.objects.filter(conversation=conversation).count()
    # A redelivered task finds the work done: no second model call, no second alert.
    conversation_analyse_deep.delay(conversation_id=conversation.pk)
    assert len(fake.requests) == 1
    assert CoachingAlert.objects.filter(conversation=conversation).count() == alerts
