"""The coaching pages: live coaching (session card, conversation, messages posted with htmx and the analysis
panel), conversations, pasted transcripts, alert acknowledgement, my performance and training plan, and the
managers' team, escalation, agent and metrics pages."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import escape

from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, Conversation, Message, TrainingPlan
from coaching.selectors.metrics import FORMULAS
from coaching.services.conversations import conversation_end, conversation_start, message_record
from coaching.services.sessions import session_start
from tests.factories import UserFactory, make_conversation, make_lead

from .test_conversations import labelled

HTMX = {"HTTP_HX_REQUEST": "true"}


def open_conversation(tenant, agent=None, messages=()):
    agent = agent or tenant.agent
    conversation = conversation_start(brokerage=tenant.brokerage, actor=agent, agent=agent)
    for speaker, text in messages:
        message_record(brokerage=tenant.brokerage, actor=agent, conversation=conversation, speaker=speaker, text=text)
    return conversation


def history(tenant, agent, keys=("m02", "m05", "m13", "m01")):
    """Ended conversations of varied quality over the last days, so profiles and plans have data."""
    for days, key in enumerate(keys, start=1):
        make_conversation(tenant.brokerage, agent, labelled(key),
                          started_at=timezone.now() - dt.timedelta(days=days, hours=1))


# --- live coaching --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_live_page_shows_the_session_card_tray_and_start_form(tenant, login):
    page = login(tenant.agent).get(reverse("coaching:live"))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'id="session-card"' in html and "Start coaching" in html
    assert 'ws-connect="/ws/coaching/?show=alerts"' in html and 'id="coaching-alerts"' in html
    assert "Start a new conversation" in html and "No conversation is open" in html
    # Agents choose up to intensive; critical is the managers'.
    assert 'value="INTENSIVE"' in html and 'value="CRITICAL"' not in html


@pytest.mark.django_db
def test_starting_a_conversation_opens_it_on_the_live_page(tenant, login):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Omar Haddad")
    client = login(tenant.agent)
    response = client.post(reverse("coaching:conversation_start"), {"lead": lead.pk, "channel": "whatsapp"})
    conversation = Conversation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('coaching:live')}?conversation={conversation.pk}"
    page = client.get(response["Location"]).content.decode()
    assert "WhatsApp with" in page and "Omar Haddad" in page and "Agent said it" in page


@pytest.mark.django_db
def test_posting_messages_with_htmx_updates_the_transcript_and_analysis(tenant, login):
    session_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=tenant.agent, intensity="CRITICAL")
    conversation = open_conversation(tenant)
    client = login(tenant.agent)
    url = reverse("coaching:conversation_message", args=[conversation.pk])
    [(lead_says, lead_text), (agent_says, agent_text)] = labelled("m24")
    from_live_page = {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{reverse('coaching:live')}"}
    client.post(url, {"speaker": lead_says, "text": lead_text}, **from_live_page)
    response = client.post(url, {"speaker": agent_says, "text": agent_text}, **from_live_page)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="live-conversation"')  # the fragment, not the page
    assert "<html" not in html
    assert "The price is the price" in html and "Live analysis" in html
    assert "Objection handling" in html and "To work on" in html
    assert list(Message.objects.values_list("speaker", flat=True)) == ["lead", "agent"]
    alerts = CoachingAlert.objects.filter(conversation=conversation).count()
    assert alerts
    # The session card rides along, its counters current.
    assert 'id="session-card" class="panel session-card" aria-live="polite" hx-swap-oob="true"' in html
    assert f"<dd>{alerts} ({alerts} during live conversations)</dd>" in html
    # From the conversation's own page (no session card there) only the conversation comes back.
    own_page = reverse("coaching:conversation", args=[conversation.pk])
    elsewhere = {**HTMX, "HTTP_HX_CURRENT_URL": f"http://testserver{own_page}"}
    assert "session-card" not in client.post(url, {"speaker": "lead", "text": "Ok"}, **elsewhere).content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(("data", "says"), [
    ({"speaker": "agent", "text": "   "}, "The message is empty"),
    ({"speaker": "agent", "text": "x" * 4001}, "at most 4,000 characters"),
    ({"text": "Hello"}, "Say whether the agent or the lead said it."),
])
def test_a_bad_message_comes_back_in_the_fragment_with_the_reason(tenant, login, data, says):
    conversation = open_conversation(tenant)
    response = login(tenant.agent).post(reverse("coaching:conversation_message", args=[conversation.pk]), data,
                                        **HTMX)
    assert response.status_code == 200 and says in response.content.decode()
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_a_message_to_an_ended_conversation_is_refused(tenant, login):
    conversation = open_conversation(tenant, messages=[("lead", "Hello")])
    conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    client = login(tenant.agent)
    url = reverse("coaching:conversation_message", args=[conversation.pk])
    assert "This conversation has ended; start a new one." in client.post(
        url, {"speaker": "agent", "text": "One more thing"}, **HTMX).content.decode()
    # Without htmx: back to the conversation, with the reason as a message.
    response = client.post(url, {"speaker": "agent", "text": "One more thing"}, follow=True)
    assert "This conversation has ended; start a new one." in response.content.decode()
    assert Message.objects.count() == 1


@pytest.mark.django_db
def test_ending_a_conversation_shows_its_full_analysis(tenant, login):
    conversation = open_conversation(tenant, messages=labelled("m02"))
    response = login(tenant.agent).post(reverse("coaching:conversation_end", args=[conversation.pk]), follow=True)
    html = response.content.decode()
    conversation.refresh_from_db()
    assert f"Conversation ended: quality {conversation.quality_score:.0f}/100." in html
    assert "Full analysis of the whole conversation" in html and "Agent said it" not in html


# --- conversations --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_agents_list_their_own_conversations_and_managers_filter_the_team(tenant, login):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Rania Colleague")
    mine = make_conversation(tenant.brokerage, tenant.agent, labelled("m01"))
    theirs = make_conversation(tenant.brokerage, colleague, labelled("m02"), ended=False)
    listing = login(tenant.agent).get(reverse("coaching:conversations")).content.decode()
    assert reverse("coaching:conversation", args=[mine.pk]) in listing
    assert reverse("coaching:conversation", args=[theirs.pk]) not in listing
    client = login(tenant.support)
    response = client.get(reverse("coaching:conversations"), {"agent": colleague.pk, "status": "open"}, **HTMX)
    html = response.content.decode()
    assert html.lstrip().startswith('<div id="results">')
    assert reverse("coaching:conversation", args=[theirs.pk]) in html
    assert reverse("coaching:conversation", args=[mine.pk]) not in html


@pytest.mark.django_db
def test_a_conversation_page_shows_transcript_findings_with_evidence_and_alerts(tenant, login):
    session_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=tenant.agent, intensity="CRITICAL")
    conversation = open_conversation(tenant, messages=labelled("m02"))
    conversation_end(brokerage=tenant.brokerage, actor=tenant.agent, conversation=conversation)
    alert = CoachingAlert.objects.filter(conversation=conversation).first()
    html = login(tenant.agent).get(reverse("coaching:conversation", args=[conversation.pk])).content.decode()
    assert "Those cheaper ones are probably fake listings" in html
    assert 'class="evidence"' in html and alert.title in html
    assert reverse("coaching:alert_ack", args=[alert.pk]) in html
    # The owner reads the same page but cannot acknowledge the agent's alert.
    owners = login(tenant.owner).get(reverse("coaching:conversation", args=[conversation.pk])).content.decode()
    assert alert.title in owners and reverse("coaching:alert_ack", args=[alert.pk]) not in owners


@pytest.mark.django_db
def test_acknowledging_an_alert_with_htmx_swaps_it(tenant, login):
    conversation = open_conversation(tenant, messages=[("lead", "Hi")])
    alert = CoachingAlert.objects.create(
        brokerage=tenant.brokerage, agent=tenant.agent, conversation=conversation, area="closing",
        code="no_next_step", title="Secure a next step", text="Offer two viewing times.", priority="HIGH")
    response = login(tenant.agent).post(reverse("coaching:alert_ack", args=[alert.pk]), **HTMX)
    assert response.status_code == 200
    assert f'id="conversation-alert-{alert.pk}"' in response.content.decode()
    assert "Acknowledged" in response.content.decode()
    alert.refresh_from_db()
    assert alert.acknowledged_at is not None


# --- transcripts ----------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_a_pasted_transcript_is_stored_and_analysed(tenant, login):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="Omar Haddad")
    text = "\n".join(f"{'Agent' if speaker == 'agent' else 'Omar'}: {line}" for speaker, line in labelled("m01"))
    response = login(tenant.agent).post(reverse("coaching:transcript"), {
        "lead": lead.pk, "channel": "whatsapp", "date": timezone.localdate().isoformat(), "transcript": text})
    conversation = Conversation.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("coaching:conversation",
                                                                            args=[conversation.pk])
    assert conversation.lead == lead and not conversation.is_open
    assert conversation.message_count == len(labelled("m01"))


@pytest.mark.django_db
def test_a_transcript_with_bad_lines_lists_them_and_stores_nothing(tenant, login):
    response = login(tenant.agent).post(reverse("coaching:transcript"), {  # no date: today's
        "channel": "call", "transcript": "Hello?\nAgent: Hi, this is Sara\nManager: who is this"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Line 1: start with who is speaking" in html and "Line 3: “Manager” is neither" in html
    assert not Conversation.objects.exists()


@pytest.mark.django_db
def test_managers_paste_a_transcript_for_an_agent(tenant, login):
    client = login(tenant.owner)
    form = client.get(reverse("coaching:transcript")).content.decode()
    assert 'name="agent"' in form
    response = client.post(reverse("coaching:transcript"), {
        "agent": tenant.agent.pk, "channel": "call", "date": timezone.localdate().isoformat(),
        "transcript": "Lead: Is it available?\nAgent: Yes, would Saturday at 11 suit you for a viewing?"})
    assert response.status_code == 302
    assert Conversation.objects.get().agent == tenant.agent


# --- sessions -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_session_card_starts_pauses_and_stops_with_htmx(tenant, login):
    client = login(tenant.agent)
    card = client.post(reverse("coaching:session_start"), {"intensity": "INTENSIVE", "enable_real_time": "on"},
                       **HTMX).content.decode()
    session = CoachingSession.objects.get()
    assert card.lstrip().startswith('<section id="session-card"')
    assert "Intensive coaching started" in card and "Pause" in card
    assert session.started_by == tenant.agent and session.enable_notifications is False
    card = client.post(reverse("coaching:session_pause", args=[session.pk]), **HTMX).content.decode()
    assert "Resume" in card
    card = client.post(reverse("coaching:session_stop", args=[session.pk]), **HTMX).content.decode()
    assert "Start coaching" in card
    session.refresh_from_db()
    assert session.status == CoachingSession.Status.COMPLETED


@pytest.mark.django_db
def test_the_session_card_explains_a_refusal(tenant, login):
    session_start(brokerage=tenant.brokerage, actor=tenant.owner, agent=tenant.agent, intensity="CRITICAL")
    client = login(tenant.agent)
    card = client.post(reverse("coaching:session_start"), {"intensity": "MODERATE"}, **HTMX).content.decode()
    assert "already has an active coaching session" in card
    # A session a manager started: the agent may pause it but is not offered to stop it.
    assert "Pause" in card and "Stop coaching" not in card
    forged = client.post(reverse("coaching:session_start"), {"intensity": "CRITICAL"}, **HTMX).content.decode()
    assert "Select a valid choice" in forged


@pytest.mark.django_db
def test_managers_start_and_stop_sessions_from_the_team_page(tenant, login):
    history(tenant, tenant.agent)
    client = login(tenant.owner)
    team = reverse("coaching:team")
    page = client.get(team).content.decode()
    assert tenant.agent.display_name in page and 'value="CRITICAL"' in page
    response = client.post(reverse("coaching:session_start"), {
        "agent": tenant.agent.pk, "intensity": "CRITICAL", "enable_real_time": "on", "enable_notifications": "on",
        "next": team})
    assert response.status_code == 302 and response["Location"] == team
    session = CoachingSession.objects.get(agent=tenant.agent)
    assert session.intensity == "CRITICAL" and session.started_by == tenant.owner
    page = client.get(team).content.decode()
    assert reverse("coaching:session_stop", args=[session.pk]) in page


# --- performance and training ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_my_performance_draws_the_profile(tenant, login):
    history(tenant, tenant.agent)
    html = login(tenant.agent).get(reverse("coaching:performance"), {"days": 30}).content.decode()
    assert "Quality by area" in html and 'class="bar-fill' in html and "Objection handling" in html
    assert "Quality over time" in html and 'class="trend-chart"' in html
    assert "Skill gap" in html


@pytest.mark.django_db
def test_generating_and_working_through_my_training_plan(tenant, login):
    history(tenant, tenant.agent)
    client = login(tenant.agent)
    assert "no active training plan" in client.get(reverse("coaching:training")).content.decode()
    response = client.post(reverse("coaching:training_generate"), {"target_completion_days": 30}, follow=True)
    html = response.content.decode()
    plan = TrainingPlan.objects.get(agent=tenant.agent, status="active")
    assert "New training plan" in html and "0% done" in html
    item = plan.items.first()
    assert item.module.title in html
    fragment = client.post(reverse("coaching:plan_item_status", args=[item.pk]), {"status": "completed"},
                           **HTMX).content.decode()
    assert fragment.lstrip().startswith(f'<li id="plan-item-{item.pk}"') and "Completed" in fragment
    back = client.post(reverse("coaching:plan_item_status", args=[item.pk]), {"status": "in_progress"},
                       **HTMX).content.decode()
    assert "cannot go back" in back


@pytest.mark.django_db
def test_a_plan_needs_data_to_be_made_from(tenant, login):
    response = login(tenant.agent).post(reverse("coaching:training_generate"), {"target_completion_days": 30},
                                        follow=True)
    assert "No training plan for" in response.content.decode()
    assert not TrainingPlan.objects.exists()


# --- managers' pages ------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_the_escalations_page_listens_for_escalations(tenant, login):
    conversation = open_conversation(tenant, messages=[("lead", "Hi")])
    CoachingAlert.objects.create(
        brokerage=tenant.brokerage, agent=tenant.agent, conversation=conversation, area="closing",
        code="no_next_step", title="Secure a next step", text="Offer two viewing times.", priority="HIGH",
        escalated=True)
    html = login(tenant.support).get(reverse("coaching:escalations")).content.decode()
    assert 'id="coaching-escalations"' in html and 'ws-connect="/ws/coaching/?show=escalations"' in html
    assert "Secure a next step" in html and tenant.agent.display_name in html


@pytest.mark.django_db
def test_the_agent_page_shows_profile_conversations_and_plan_and_makes_a_plan(tenant, login):
    history(tenant, tenant.agent)
    client = login(tenant.support)
    url = reverse("coaching:agent", args=[tenant.agent.pk])
    html = client.get(url).content.decode()
    assert tenant.agent.display_name in html and "Recent conversations" in html and 'id="session-card"' in html
    response = client.post(reverse("coaching:agent_training_generate", args=[tenant.agent.pk]),
                           {"target_completion_days": 45})
    assert response.status_code == 302 and response["Location"] == url
    plan = TrainingPlan.objects.get(agent=tenant.agent)
    assert plan.created_by == tenant.support
    assert plan.target_completion_date == timezone.localdate() + dt.timedelta(days=45)


@pytest.mark.django_db
def test_support_staff_have_no_agent_page(tenant, login):
    assert login(tenant.owner).get(reverse("coaching:agent", args=[tenant.support.pk])).status_code == 404


@pytest.mark.django_db
def test_the_metrics_page_shows_every_formula_and_the_assumptions(tenant, login):
    history(tenant, tenant.agent)
    html = login(tenant.owner).get(reverse("coaching:metrics")).content.decode()
    for name in ("roi_percentage", "estimated_annual_value", "training_time_reduction_percentage",
                 "coaching_adherence_rate", "agent_satisfaction_score"):
        assert f'id="metric-{name}"' in html
    assert escape(FORMULAS["roi_percentage"]) in html and escape(FORMULAS["value_in_period"]) in html
    assert "Assumptions" in html and reverse("brokerages:settings") in html
    support = login(tenant.support).get(reverse("coaching:metrics")).content.decode()
    assert reverse("brokerages:settings") not in support and "An owner can change them" in support


@pytest.mark.django_db
def test_a_bad_metrics_period_is_explained(tenant, login):
    response = login(tenant.owner).get(reverse("coaching:metrics"), {"start": "2025-06-01", "end": "2025-05-01"})
    assert response.status_code == 400
    assert "The period must start before it ends." in response.content.decode()
