"""The Agentic Assistant's workflow analysis: every recommendation matches the agent's seeded data (and never
another agent's), each automation opportunity holds exactly the leads it names, the efficiency score follows its
documented formula, a new agent gets "not enough data", and the reads are a fixed number of queries."""

import datetime as dt

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.urls import reverse

from brokerages.models import Role
from brokerages.selectors import settings_values
from brokerages.services import settings_update
from coaching.selectors.performance import agent_performance, performance_invalidate
from copilot.assistant import LEAD_FOLLOWUP_REASONS, analysis_subject, analyze_workflow
from copilot.assistant.repetition import normalise
from copilot.assistant.score import FORMULA, PARTS
from nurturing.models import FollowUp
from nurturing.schedule import BrokerageClock

from ..conftest import make_tenant
from ..factories import ListingFactory, UserFactory
from .assistant_data import DAY, MINUTE, draft, lead, message, scored_conversation
from .assistant_data import now as current_time

pytestmark = pytest.mark.django_db


@pytest.fixture
def now():
    return current_time()


def analyse(tenant, now, agent=None):
    return analyze_workflow(brokerage=tenant.brokerage, agent=agent or tenant.agent, now=now)


def by_kind(analysis) -> dict:
    return {recommendation.kind: recommendation for recommendation in analysis.recommendations}


def opportunity(analysis, finding: str):
    [found] = [item for item in analysis.automation_opportunities if item.finding == finding]
    return found


def today(tenant, now) -> dt.date:
    return BrokerageClock.of(settings_values(tenant.brokerage)).today(now)


# --- leads without contact ------------------------------------------------------------------------------------

def test_seven_untouched_leads_give_a_recommendation_and_an_opportunity_with_exactly_those_leads(tenant, now):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 10})
    untouched = [lead(tenant.agent, now=now, last_contact=(11 + n) * DAY, in_stage=5 * DAY) for n in range(7)]
    for n in range(3):  # recently contacted: fine
        lead(tenant.agent, now=now, last_contact=n * DAY, in_stage=5 * DAY)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    others = [lead(colleague, now=now, last_contact=20 * DAY) for _ in range(3)]
    elsewhere = make_tenant("Marina Heights Properties")
    others += [lead(elsewhere.agent, now=now, last_contact=20 * DAY) for _ in range(3)]

    analysis = analyse(tenant, now)

    recommendation = by_kind(analysis)["gone_quiet"]
    assert recommendation.title == "Follow up the 7 leads untouched for 10+ days"
    assert recommendation.fact == "7 open leads were last contacted 10 or more days ago (longest: 17 days)."
    assert recommendation.priority == "high"
    assert [example.name for example in recommendation.examples] == [untouched[6].name, untouched[5].name,
                                                                      untouched[4].name]
    found = opportunity(analysis, "gone_quiet")
    assert found.type == "lead_followup"
    assert found.label == "Draft follow-ups for the 7 leads untouched for 10+ days"
    assert found.parameters == {"lead_ids": [item.pk for item in reversed(untouched)], "reason": "forgotten"}
    assert not {item.pk for item in others} & set(found.parameters["lead_ids"])
    assert LEAD_FOLLOWUP_REASONS["forgotten"].followup_reason == FollowUp.Reason.FORGOTTEN_LEAD


def test_a_lead_with_a_draft_waiting_or_opted_out_is_counted_but_not_drafted_again(tenant, now):
    waiting = [lead(tenant.agent, now=now, last_contact=9 * DAY) for _ in range(3)]
    draft(waiting[0], send_date=today(tenant, now), reason=FollowUp.Reason.FORGOTTEN_LEAD)
    lead(tenant.agent, now=now, last_contact=9 * DAY, do_not_contact=True)  # never forgotten: may not be contacted

    analysis = analyse(tenant, now)

    recommendation = by_kind(analysis)["gone_quiet"]
    assert recommendation.title == "Follow up the 3 leads untouched for 7+ days"
    assert recommendation.fact.endswith("; 1 already has a draft in the queue.")
    assert opportunity(analysis, "gone_quiet").parameters["lead_ids"] == [waiting[1].pk, waiting[2].pk]


def test_new_leads_nobody_contacted_are_the_first_recommendation(tenant, now):
    first = lead(tenant.agent, now=now, stage="new", age=3 * DAY + 2 * MINUTE)
    second = lead(tenant.agent, now=now, stage="new", age=5 * 60 * MINUTE)
    lead(tenant.agent, now=now, stage="new", age=2 * MINUTE)  # within the 5-minute target: not late yet
    lead(tenant.agent, now=now, last_contact=DAY)

    analysis = analyse(tenant, now)

    recommendation = analysis.recommendations[0]
    assert recommendation.kind == "waiting_first_contact" and recommendation.priority == "high"
    assert recommendation.title == "Contact the 2 new leads nobody has reached yet"
    assert recommendation.fact == ("2 open leads had no contact since arriving; the oldest has waited 3 days "
                                   "(target: first contact within 5 min).")
    assert [(example.name, example.waited) for example in recommendation.examples] == [
        (first.name, "3 days"), (second.name, "5 h")]
    assert opportunity(analysis, "waiting_first_contact").parameters == {"lead_ids": [first.pk, second.pk],
                                                                          "reason": "forgotten"}


# --- follow-ups, response time, pipeline ----------------------------------------------------------------------

def test_overdue_and_pending_follow_ups_are_counted_from_the_agents_queue(tenant, now):
    day = today(tenant, now)
    leads = [lead(tenant.agent, now=now, last_contact=DAY) for _ in range(5)]
    draft(leads[0], send_date=day - 4 * DAY)
    draft(leads[1], send_date=day - DAY)
    draft(leads[2], send_date=day)
    draft(leads[3], send_date=day + 2 * DAY)
    draft(leads[4], send_date=day - DAY, status=FollowUp.Status.APPROVED, channel="call")
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    draft(lead(colleague, now=now, last_contact=DAY), send_date=day - 9 * DAY)

    analysis = analyse(tenant, now)

    overdue = by_kind(analysis)["followups_overdue"]
    assert overdue.title == "Review 2 overdue follow-up drafts" and overdue.priority == "high"
    assert overdue.fact == "2 drafts were suggested for an earlier day; the oldest is 4 days overdue."
    assert by_kind(analysis)["followups_pending"].fact == ("Waiting for you: 1 draft due today, "
                                                           "1 approved call to make.")
    assert analysis.facts.followups.upcoming == 1


def test_first_response_time_is_measured_against_the_brokerage_target(tenant, now):
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"response_time_target_minutes": 15})
    for minutes in (2, 10, 30, 60, 120):
        lead(tenant.agent, now=now, age=5 * DAY, last_contact=DAY, first_contact=minutes * MINUTE)
    lead(tenant.agent, now=now, stage="new", age=4 * DAY)  # never answered
    lead(tenant.agent, now=now, age=40 * DAY, last_contact=DAY, first_contact=600 * MINUTE)  # before the window

    recommendation = by_kind(analyse(tenant, now))["response_time"]

    assert recommendation.title == ("Answer new leads faster: median first response 30 min against the 15-minute "
                                    "target")
    assert recommendation.fact == ("Of the 6 leads received in the last 30 days: 2 within 15 min, 3 later, "
                                   "1 not yet. Median first response: 30 min.")
    assert recommendation.priority == "high"  # fewer than half answered in time


def test_leads_stuck_in_a_stage_and_viewings_without_a_next_step(tenant, now):
    stuck = [lead(tenant.agent, now=now, stage="qualified", in_stage=(25 + n) * DAY, last_contact=2 * DAY)
             for n in range(3)]
    stuck.append(lead(tenant.agent, now=now, stage="offer", in_stage=20 * DAY, last_contact=DAY))
    lead(tenant.agent, now=now, stage="qualified", in_stage=10 * DAY, last_contact=DAY)  # within 21 days
    viewed = lead(tenant.agent, now=now, stage="viewing", in_stage=3 * DAY, last_contact=4 * DAY)
    lead(tenant.agent, now=now, stage="viewing", in_stage=3 * DAY, last_contact=DAY)  # contacted since
    lead(tenant.agent, now=now, stage="viewing", in_stage=3 * DAY, last_contact=4 * DAY,
         next_followup_date=today(tenant, now) + DAY)  # a follow-up is planned
    planned = lead(tenant.agent, now=now, stage="viewing", in_stage=3 * DAY, last_contact=4 * DAY)
    draft(planned, send_date=today(tenant, now))
    lead(tenant.agent, now=now, stage="viewing", in_stage=DAY, last_contact=4 * DAY)  # viewed yesterday
    lead(tenant.agent, now=now, stage="lost", in_stage=90 * DAY, last_contact=90 * DAY)  # closed

    analysis = analyse(tenant, now)

    recommendation = by_kind(analysis)["stuck"]
    assert recommendation.title == "Move on the 4 leads stuck in their stage"
    assert recommendation.fact == ("Qualified: 3 for more than 21 days (longest 27 days); Offer: 1 for more than "
                                   "14 days (longest 20 days).")
    assert recommendation.url.endswith("?stage=qualified")
    assert set(opportunity(analysis, "stuck").parameters["lead_ids"]) == {item.pk for item in stuck}
    viewing = by_kind(analysis)["viewing_no_next_step"]
    assert viewing.priority == "high" and viewing.title == "Agree a next step with the 1 lead who viewed"
    found = opportunity(analysis, "viewing_no_next_step")
    assert found.parameters == {"lead_ids": [viewed.pk], "reason": "viewing_next_step"}
    assert LEAD_FOLLOWUP_REASONS["viewing_next_step"].instruction


# --- messages typed again and again ---------------------------------------------------------------------------

def test_normalising_drops_names_numbers_links_and_punctuation():
    assert normalise("Hi Layla, the 2BR at Marina Gate is AED 1.6M: https://x.test/a", "Layla Haddad") == \
        normalise("hi OMAR — the 3BR at Marina Gate is AED 2,100,000! www.y.test", "Omar Saleh")


def test_a_message_typed_again_and_again_suggests_a_template(tenant, now):
    text = "Hi {}, just checking whether you had a chance to look at the brochure for Marina Gate?"
    layla, omar, sara = (lead(tenant.agent, now=now, last_contact=DAY, name=name)
                         for name in ("Layla Haddad", "Omar Saleh", "Sara Khan"))
    for n, item in enumerate((layla, omar, sara, layla)):
        message(tenant.agent, item, text.format(item.first_name), at=now - (n + 1) * DAY)
    for _ in range(2):  # twice is not a habit yet
        message(tenant.agent, omar, "Please send me a copy of your passport and visa for the paperwork", at=now - DAY)
    message(tenant.agent, sara, text.format("Sara"), at=now - 100 * DAY)  # outside the 90 days
    message(tenant.agent, sara, text.format("Sara"), at=now - DAY, channel="call")  # a call note, not a message
    drafted = message(tenant.agent, sara, text.format("Sara"), at=now - DAY)  # the assistant wrote this one
    FollowUp.objects.create(brokerage=tenant.brokerage, lead=sara, agent=tenant.agent, reason="manual",
                            channel="whatsapp", content=drafted.summary, suggested_send_date=today(tenant, now),
                            status="sent", interaction=drafted)
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    for _ in range(5):
        message(colleague, lead(colleague, now=now, last_contact=DAY), text.format("X"), at=now - DAY)

    recommendation = by_kind(analyse(tenant, now))["repeated_messages"]

    assert recommendation.title == "Turn a message you typed 4 times into a template"
    assert recommendation.fact == (
        f"“{text.format('Layla')}” — typed 4 times to 3 leads in the last 90 days: about 1.7 minutes of typing "
        "(4 × 17 words at 40 words a minute).")
    assert recommendation.priority == "low"


# --- coaching weak spots and listings -------------------------------------------------------------------------

def test_coaching_weak_spots_are_the_lowest_areas_of_the_agents_recent_conversations(tenant, now):
    areas = {"lead_qualification": 80, "property_presentation": 78, "objection_handling": 40, "closing": 55,
             "market_expertise": 82}
    for n in range(3):
        scored_conversation(tenant.agent, areas, ended=now - (n + 1) * DAY)
    scored_conversation(tenant.agent, {**areas, "objection_handling": 10}, ended=now - 40 * DAY)  # too old

    recommendation = by_kind(analyse(tenant, now))["coaching_weak_spot"]

    assert recommendation.title == "Work on objection handling (40/100)"
    assert recommendation.fact == ("Lowest-scoring areas over 3 scored conversations in the last 30 days: "
                                   "Objection handling 40 (team 40), Closing 55 (team 55); target 70.")
    assert recommendation.priority == "medium"


def test_listings_without_a_description_get_a_content_generation_opportunity(tenant, now):
    bare = ListingFactory(brokerage=tenant.brokerage, listing_agent=tenant.agent, title="JVC villa", status="draft",
                          permit_number="")
    ListingFactory(brokerage=tenant.brokerage, listing_agent=tenant.agent, description="Written already.")
    ListingFactory(brokerage=tenant.brokerage, listing_agent=tenant.agent, status="sold")  # no longer marketed
    ListingFactory(brokerage=tenant.brokerage)  # a colleague's

    analysis = analyse(tenant, now)

    recommendation = by_kind(analysis)["listings_without_description"]
    assert recommendation.title == "Write descriptions for 1 listing"
    assert recommendation.fact == "No description yet: “JVC villa”."
    assert recommendation.url == reverse("nurturing:listing", kwargs={"pk": bare.pk})
    assert opportunity(analysis, "listings_without_description").parameters == {
        "listing_id": bare.pk, "content_type": "listing_description"}


# --- the score ------------------------------------------------------------------------------------------------

def test_the_efficiency_score_is_the_weighted_mean_of_its_parts_with_data(tenant, now):
    day = today(tenant, now)
    # 10 open leads past the new stage: 2 gone quiet (contact coverage 8/10), 1 stuck at offer (flow 9/10).
    fine = [lead(tenant.agent, now=now, in_stage=3 * DAY, last_contact=DAY) for _ in range(7)]
    quiet = [lead(tenant.agent, now=now, in_stage=3 * DAY, last_contact=8 * DAY) for _ in range(2)]
    lead(tenant.agent, now=now, stage="offer", in_stage=15 * DAY, last_contact=DAY)
    # 4 leads received in the window (won since), 1 answered within the 5-minute target (speed 1/4).
    for minutes in (3, 20, 40, 90):
        lead(tenant.agent, now=now, stage="won", age=10 * DAY, last_contact=5 * DAY, first_contact=minutes * MINUTE)
    # 4 open drafts, 1 of them overdue (follow-up discipline 3/4).
    draft(quiet[0], send_date=day - DAY)
    draft(quiet[1], send_date=day + DAY)
    draft(fine[0], send_date=day)
    draft(fine[1], send_date=day)

    analysis = analyse(tenant, now)

    parts = {part.key: part for part in analysis.score.components}
    assert [(key, label, weight) for key, label, weight in PARTS] == [
        (part.key, part.label, part.weight) for part in analysis.score.components]
    assert sum(weight for _, _, weight in PARTS) == 100
    assert parts["contact_coverage"].value == pytest.approx(8 / 10)
    assert parts["contact_coverage"].measured == ("8 of 10 open leads contacted in the last 7 days or still within "
                                                  "the 5-minute first-contact target")
    assert parts["speed_to_lead"].value == pytest.approx(1 / 4)
    assert parts["followup_discipline"].value == pytest.approx(3 / 4)
    assert parts["pipeline_flow"].value == pytest.approx(9 / 10)
    assert parts["conversation_quality"].value is None and parts["viewing_follow_through"].value is None
    expected = 100 * (30 * 8 / 10 + 25 * 1 / 4 + 15 * 3 / 4 + 15 * 9 / 10) / (30 + 25 + 15 + 15)
    assert analysis.efficiency_score == round(expected, 1)
    assert analysis.score.formula == FORMULA and analysis.score.weight_with_data == 85 and analysis.score.reason == ""


def test_a_new_agent_gets_not_enough_data_instead_of_a_perfect_score(tenant, now):
    analysis = analyse(tenant, now)

    assert analysis.efficiency_score is None
    assert analysis.score.reason == "Not enough data: 0 leads to judge, the score needs at least 5."
    assert analysis.recommendations == () and analysis.automation_opportunities == ()
    assert all(part.value is None for part in analysis.score.components)

    for _ in range(4):
        lead(tenant.agent, now=now, last_contact=DAY, in_stage=DAY)
    assert analyse(tenant, now).efficiency_score is None
    lead(tenant.agent, now=now, last_contact=DAY, in_stage=DAY)
    assert analyse(tenant, now).efficiency_score == 100.0  # contact coverage and pipeline flow, both perfect


def test_an_agent_with_leads_is_offered_the_weekly_report(tenant, now):
    lead(tenant.agent, now=now, last_contact=DAY, in_stage=DAY)

    [report] = analyse(tenant, now).automation_opportunities

    assert (report.type, report.parameters) == ("report_creation", {"report": "agent_weekly"})


# --- bad input and access -------------------------------------------------------------------------------------

def test_an_unknown_analysis_type_names_the_known_ones(tenant, now):
    with pytest.raises(ValidationError) as error:
        analyze_workflow(brokerage=tenant.brokerage, agent=tenant.agent, analysis_type="crystal_ball", now=now)
    assert error.value.message_dict == {
        "analysis_type": ["Unknown analysis type “crystal_ball”. Known types: workflow_efficiency."]}


def test_who_may_analyse_whose_workflow(tenant, other_tenant):
    owner_perms, agent_perms = frozenset({"view_team_performance"}), frozenset()
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    assert analysis_subject(brokerage=tenant.brokerage, actor=tenant.agent, perms=agent_perms) == tenant.agent
    assert analysis_subject(brokerage=tenant.brokerage, actor=tenant.owner, perms=owner_perms,
                            agent_id=colleague.pk) == colleague
    with pytest.raises(PermissionDenied):
        analysis_subject(brokerage=tenant.brokerage, actor=tenant.agent, perms=agent_perms, agent_id=colleague.pk)
    for actor, perms in ((tenant.owner, owner_perms), (tenant.agent, agent_perms)):
        with pytest.raises(Http404):
            analysis_subject(brokerage=tenant.brokerage, actor=actor, perms=perms, agent_id=other_tenant.agent.pk)


# --- the number of queries ------------------------------------------------------------------------------------

def _workload(tenant, now, leads: int) -> None:
    for n in range(leads):
        item = lead(tenant.agent, now=now, stage=("new", "contacted", "qualified", "viewing")[n % 4],
                    age=(n % 40) * DAY + 10 * MINUTE, in_stage=(n % 30) * DAY,
                    last_contact=(n % 15) * DAY if n % 5 else None)
        if n % 7 == 0:
            draft(item, send_date=today(tenant, now) - (n % 3) * DAY)
        if n % 3 == 0:
            message(tenant.agent, item, f"Hi {item.first_name}, following up on the viewing at Marina Gate today",
                    at=now - (n % 20) * DAY)
    scored_conversation(tenant.agent, {"closing": 50, "objection_handling": 60}, ended=now - DAY)
    ListingFactory(brokerage=tenant.brokerage, listing_agent=tenant.agent, status="draft", permit_number="")


# settings, leads, follow-up counts, typed messages, listings, the profile's fresh snapshot
QUERIES_PROFILE_FRESH = 6
# … and, when the profile is computed: conversations, closed leads, sessions, plan items, alerts, and storing the
# snapshot (update_or_create in its atomic blocks: savepoints here, inside the test's transaction)
QUERIES_PROFILE_COMPUTED = 19


@pytest.mark.parametrize("leads", [8, 40])
def test_the_analysis_runs_a_fixed_number_of_queries_whatever_the_number_of_leads(
        tenant, now, leads, django_assert_num_queries):
    _workload(tenant, now, leads)
    performance_invalidate(agent=tenant.agent)
    with django_assert_num_queries(QUERIES_PROFILE_COMPUTED):
        cold = analyse(tenant, now)
    with django_assert_num_queries(QUERIES_PROFILE_FRESH):
        warm = analyse(tenant, now)
    assert cold.facts.open_leads == warm.facts.open_leads >= leads * 3 // 4
    assert agent_performance(brokerage=tenant.brokerage, agent=tenant.agent, days_lookback=30).scored_conversations
