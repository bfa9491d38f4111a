"""The Agentic Assistant's workflow analysis for an agent with 2,000 leads (issue 7 target: <= 300 ms).

Data, built once for the module through bulk inserts: one brokerage of AGENTS agents holding LEADS_PER_AGENT leads
each (the measured agent among them), spread over the last year across every stage with realistic contact
stamps (some never contacted, some gone quiet, some stuck, viewings without a next step), three logged messages
per lead (a third of them the same few messages typed again and again), follow-up drafts for a tenth of the
leads (some overdue), a scored conversation per agent and day for the last 30 days, and listings without a
description.

Measured, signed in with the agent's token, ROUNDS rounds after a warm-up:
- `POST /api/copilot/assistant/analyze` with the agent's performance profile computed on the request (its stored
  snapshot removed before each request, outside the timed span): the worst case, asserted;
- the same with the profile's snapshot fresh (the common case within 10 minutes): informational;
- baseline, in the same rounds through the same client: `GET /api/brokerage/profile` (the API stack, no data).
"""

import datetime as dt
import random
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.db import connection, transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from brokerages.models import Role, User
from brokerages.permissions import role_group_name
from coaching.analysis.types import AREAS
from coaching.models import Conversation
from coaching.selectors.performance import performance_invalidate
from copilot.assistant import analyze_workflow
from nurturing.models import FollowUp, Interaction, Lead, Listing
from tests.factories import BrokerageFactory

from .conftest import _assert_test_database, database_label
from .timing import BenchResult, Stats, time_ms

LIMIT_P95_MS = 300.0
ROUNDS = 3
SAMPLES_PER_ROUND = 10
AGENTS = 5
LEADS_PER_AGENT = 2_000
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
STAGES = ("new", "contacted", "contacted", "qualified", "qualified", "viewing", "offer", "won", "lost")
TYPED = ("Hi {}, just checking whether you had a chance to look at the brochure I sent?",
         "Hello {}, the owner has agreed to a viewing this week, which day suits you best?",
         "Dear {}, please find attached the floor plan and the service charges for the unit.")
ANALYZE_API = "/api/copilot/assistant/analyze"


def _agents(brokerage) -> list[User]:
    users = User.objects.bulk_create([
        User(email=f"agent{n}@bench-assistant.test", full_name=f"Agent {n}", brokerage=brokerage, role=Role.AGENT,
             password="!") for n in range(AGENTS)])
    group = Group.objects.get(name=role_group_name(brokerage, Role.AGENT))
    User.groups.through.objects.bulk_create([User.groups.through(user_id=user.pk, group_id=group.pk)
                                             for user in users])
    return users


def _lead(brokerage, agent, n: int, rng: random.Random, now: dt.datetime) -> Lead:
    created = now - rng.uniform(0.01, 365) * DAY
    stage = rng.choice(STAGES)
    lead = Lead(brokerage=brokerage, assigned_agent=agent, name=f"Lead {n} {rng.choice(['Haddad', 'Khan', 'Rossi'])}",
                email=f"lead{agent.pk}-{n}@example.test", phone="+971501234567", stage=stage, created_at=created,
                stage_changed_at=min(now, created + rng.uniform(0, 60) * DAY) if stage != "new" else None,
                budget_min=Decimal(rng.randint(5, 60) * 100_000), areas=["Dubai Marina"],
                do_not_contact=rng.random() < 0.02)
    if stage != "new" or rng.random() < 0.5:
        lead.first_contacted_at = min(now, created + rng.choice((2, 8, 30, 240, 2000)) * MINUTE)
        lead.last_contacted_at = min(now, lead.first_contacted_at + rng.uniform(0, 40) * DAY)
    return lead


def _build(brokerage, agents, rng: random.Random, now: dt.datetime) -> dict:
    leads = Lead.objects.bulk_create([_lead(brokerage, agent, n, rng, now) for agent in agents
                                      for n in range(LEADS_PER_AGENT)], batch_size=2000)
    interactions = []
    for lead in leads:
        for step in range(3):
            text = rng.choice(TYPED).format(lead.first_name) if step == 0 and rng.random() < 0.33 else \
                f"Spoke about {lead.name}'s plans, step {step}, budget {lead.budget_min}"
            interactions.append(Interaction(brokerage=brokerage, lead=lead, agent=lead.assigned_agent,
                                            channel=rng.choice(("whatsapp", "email", "sms", "call")),
                                            direction="outbound", occurred_at=now - rng.uniform(0, 120) * DAY,
                                            summary=text))
    Interaction.objects.bulk_create(interactions, batch_size=5000)
    today = timezone.localdate(now)
    followups = FollowUp.objects.bulk_create([
        FollowUp(brokerage=brokerage, lead=lead, agent=lead.assigned_agent, reason="forgotten_lead", channel="email",
                 content="Checking in", suggested_send_date=today + rng.randint(-6, 3) * DAY, status="draft")
        for lead in rng.sample(leads, len(leads) // 10)], batch_size=2000)
    conversations = Conversation.objects.bulk_create([
        Conversation(brokerage=brokerage, agent=agent, started_at=now - back * DAY - 30 * MINUTE,
                     ended_at=now - back * DAY - 10 * MINUTE, message_count=12, quality_score=score,
                     analysis_engine="local",
                     analysis={"overall_quality_score": score, "expertise_scores": {},
                               "quality_scores_by_area": {area: round(rng.gauss(score, 10), 1) for area in AREAS}})
        for agent in agents for back in range(30) for score in [round(rng.uniform(45, 85), 1)]])
    Listing.objects.bulk_create([Listing(brokerage=brokerage, listing_agent=agents[n % AGENTS], title=f"Unit {n}",
                                         community="Dubai Marina", status="draft") for n in range(40)])
    return {"agents": AGENTS, "leads_per_agent": LEADS_PER_AGENT, "leads": len(leads),
            "interactions": len(interactions), "followups": len(followups), "conversations": len(conversations),
            "listings": 40}


@pytest.fixture(scope="module")
def workload(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        rng, now = random.Random(7), timezone.now()
        started = time.perf_counter()
        brokerage = BrokerageFactory(name="Bench Assistant Realty", slug="bench-assistant")
        with transaction.atomic():
            agents = _agents(brokerage)
            dataset = _build(brokerage, agents, rng, now)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        dataset["build_seconds"] = round(time.perf_counter() - started, 1)
        agent = agents[0]
        token = Token.objects.create(user=agent).key
    yield {"brokerage": brokerage, "agent": agent, "token": token, "dataset": dataset}
    with django_db_blocker.unblock(), scopes_disabled():
        Conversation.objects.filter(brokerage=brokerage).delete()
        Listing.objects.filter(brokerage=brokerage).delete()
        Lead.objects.filter(brokerage=brokerage).delete()


def _queries(run) -> int:
    """How many statements `run()` sent to the database."""
    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        run()
    return count


def _ok(response) -> dict:
    assert response.status_code == 200, response.content[:300]
    return response.json()


@pytest.mark.django_db
def test_workflow_analysis_api(workload):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {workload['token']}")
    agent = workload["agent"]

    def analyze():
        return client.post(ANALYZE_API, {"analysis_type": "workflow_efficiency"}, format="json")

    def profile():
        return client.get("/api/brokerage/profile")

    body = _ok(analyze())  # warm-up
    # Queries of the analysis itself (a request clears the connection's query log when it starts).
    with scope(brokerage=workload["brokerage"]):
        performance_invalidate(agent=agent)
        cold_queries = _queries(lambda: analyze_workflow(brokerage=workload["brokerage"], agent=agent))
        warm_queries = _queries(lambda: analyze_workflow(brokerage=workload["brokerage"], agent=agent))
    cold, warm, baseline = [], [], []
    for _ in range(ROUNDS):
        for _ in range(SAMPLES_PER_ROUND):
            elapsed, response = time_ms(profile)
            assert response.status_code == 200
            baseline.append(elapsed)
            performance_invalidate(agent=agent)
            elapsed, response = time_ms(analyze)
            _ok(response)
            cold.append(elapsed)
            elapsed, response = time_ms(analyze)
            _ok(response)
            warm.append(elapsed)
    facts = body["facts"]
    dataset = {**workload["dataset"], "measured_agent": {
        "open_leads": facts["open_leads"], "considered_leads": facts["considered_leads"],
        "recommendations": len(body["recommendations"]),
        "automation_opportunities": len(body["automation_opportunities"]),
        "efficiency_score": body["efficiency_score"]}}
    notes = {"analysis_queries_profile_computed": cold_queries, "analysis_queries_profile_fresh": warm_queries,
             "samples": f"{ROUNDS} rounds x {SAMPLES_PER_ROUND}"}
    asserted = BenchResult(
        issue=7, name=f"assistant_analyze_{connection.vendor}",
        description=f"POST {ANALYZE_API}, agent with {LEADS_PER_AGENT:,} leads, profile computed on the request",
        database=database_label(), target=Stats.of(cold), baseline_name="GET /api/brokerage/profile",
        baseline=Stats.of(baseline), limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS, dataset=dataset, notes=notes)
    fresh = BenchResult(
        issue=7, name=f"assistant_analyze_fresh_profile_{connection.vendor}",
        description=f"POST {ANALYZE_API}, agent with {LEADS_PER_AGENT:,} leads, profile snapshot fresh",
        database=database_label(), target=Stats.of(warm), baseline_name="GET /api/brokerage/profile",
        baseline=Stats.of(baseline), limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS, dataset=dataset, notes=notes,
        informational=True)
    asserted.publish()
    fresh.publish()
    assert asserted.met, asserted.line()
