"""A training plan from fresh data with the local engine (issue 5 target: p95 <= 200 ms).

Data: one brokerage of AGENTS agents with CONVERSATIONS_PER_AGENT ended conversations each over the last 30
days (every one with a full analysis: area scores, expertise scores and a handful of findings, ~2 KB of JSON),
LEADS_PER_AGENT closed leads each, a few coaching alerts, and the 15 library modules plus a few of the
brokerage's own.

Measured, per sample, for an agent whose cached profile was just invalidated (as after a conversation ends):
- target: `agent_performance` (computed, not cached) + `generate_training_plan` (engine chosen by the
  brokerage's provider, here local; plan, items, superseding the previous plan, audit entry) — what the
  "new training plan" button does;
- baseline, in the same rounds: `agent_performance` alone, computed after the same invalidation — the least any
  plan must do, since it is made from a fresh profile.
"""

import datetime as dt
import random

import pytest
from django.db import connection, transaction
from django.utils import timezone

from brokerages.models import Role
from coaching.analysis.types import AREAS, Analysis, Finding
from coaching.models import CoachingAlert, Conversation, TrainingPlan
from coaching.selectors.performance import agent_performance, performance_invalidate
from coaching.services.training import generate_training_plan, training_module_create
from copilot.llm import provider_name_for
from nurturing.models import Lead
from tests.factories import BrokerageFactory, UserFactory

from .conftest import database_label
from .timing import BenchResult, Stats, sample

LIMIT_P95_MS = 200.0
ROUNDS = 3
SAMPLES_PER_ROUND = 30
AGENTS = 20
CONVERSATIONS_PER_AGENT = 60
LEADS_PER_AGENT = 30


def _analysis(rng: random.Random, skill: float) -> dict:
    areas = {area: (None if rng.random() < 0.25 else round(min(100, max(0, rng.gauss(skill, 12))), 1))
             for area in AREAS}
    scores = [score for score in areas.values() if score is not None]
    findings = tuple(
        Finding(area=rng.choice(AREAS), code=f"finding_{n}", severity=rng.choice(("low", "medium", "high")),
                title="Price objection answered without data",
                message="The lead said the price is too high and the reply gave no comparable sales.",
                suggested_action="Quote two recent DLD transactions in the same building.",
                evidence=("Lead: that's more than the tower next door", "Agent: it's a fair price, trust me"),
                message_index=n)
        for n in range(rng.randint(2, 6)))
    return Analysis(overall_quality_score=round(sum(scores) / len(scores), 1) if scores else None,
                    quality_scores_by_area=areas,
                    expertise_scores={"pricing": round(rng.uniform(30, 90), 1),
                                      "communities": round(rng.uniform(30, 90), 1)},
                    talk_ratio=round(rng.uniform(0.3, 0.7), 2), questions_asked=rng.randint(0, 12),
                    response_gaps={"average_seconds": 40, "longest_seconds": 300, "slow_replies": 1},
                    findings=findings, final=True).to_dict()


def _build(brokerage, agents) -> None:
    rng = random.Random(5)
    now = timezone.now()
    with transaction.atomic():
        conversations = []
        for index, agent in enumerate(agents):
            skill = 40 + index * 2.5
            for n in range(CONVERSATIONS_PER_AGENT):
                started = now - dt.timedelta(days=rng.uniform(0.1, 29.5))
                analysis = _analysis(rng, skill)
                conversations.append(Conversation(
                    brokerage=brokerage, agent=agent, started_at=started, ended_at=started + dt.timedelta(minutes=9),
                    message_count=18, analysis=analysis, quality_score=analysis["overall_quality_score"],
                    analysis_engine="local", external_id=f"bench-{agent.pk}-{n}"))
        Conversation.objects.bulk_create(conversations, batch_size=500)
        Lead.objects.bulk_create([
            Lead(brokerage=brokerage, assigned_agent=agent, name=f"Lead {agent.pk}-{n}",
                 email=f"lead{agent.pk}-{n}@example.test", stage=rng.choice(("won", "lost", "lost")),
                 stage_changed_at=now - dt.timedelta(days=rng.uniform(0, 29)))
            for agent in agents for n in range(LEADS_PER_AGENT)], batch_size=500)
        some = Conversation.objects.filter(brokerage=brokerage).order_by("pk")[:200]
        CoachingAlert.objects.bulk_create([
            CoachingAlert(brokerage=brokerage, agent_id=conversation.agent_id, conversation=conversation,
                          area="objection_handling", code="objection_price_without_data", title="Use data",
                          text="Quote comparables.", priority="HIGH",
                          acknowledged_at=now if rng.random() < 0.6 else None)
            for conversation in some])
        for area in AREAS:
            training_module_create(brokerage=brokerage, actor=None, data={
                "title": f"Our {area.replace('_', ' ')} playbook", "area": area, "level": "intermediate",
                "duration_minutes": 30, "topics": ["House rules", "Scripts that work here"]})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


@pytest.mark.django_db
def test_local_training_plan_from_a_fresh_profile(settings):
    settings.LLM_PROVIDER = "local"
    brokerage = BrokerageFactory(name="Bench Training Realty", slug="bench-training")
    owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@bench-training.bench")
    agents = [UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent{n}@bench-training.bench")
              for n in range(AGENTS)]
    _build(brokerage, agents)
    assert provider_name_for(brokerage) == "local", "this benchmark measures the local engine"
    # The weaker half of the team: agents with skill gaps to plan for.
    subjects = agents[: AGENTS // 2]

    def profile(agent):
        performance_invalidate(agent=agent)
        return agent_performance(brokerage=brokerage, agent=agent)

    def plan(agent):
        return generate_training_plan(brokerage=brokerage, actor=owner, agent_performance=profile(agent))

    def check_plan(agent, made) -> None:
        assert made.engine == "local" and not made.degraded
        assert made.items.count() >= len(made.priority_skills) >= 1

    def check_profile(agent, result) -> None:
        assert result.total_conversations == CONVERSATIONS_PER_AGENT

    sample(plan, subjects, check=check_plan)  # warm-up
    rng = random.Random(7)
    target, baseline = [], []
    for _ in range(ROUNDS):
        picks = [rng.choice(subjects) for _ in range(SAMPLES_PER_ROUND)]
        baseline += sample(profile, picks, check=check_profile)
        target += sample(plan, picks, check=check_plan)

    plans = TrainingPlan.objects.filter(brokerage=brokerage)
    result = BenchResult(
        issue=5, name=f"training_plan_local_{connection.vendor}",
        description="training plan, local engine, from a fresh profile",
        database=database_label(), target=Stats.of(target), baseline_name="agent_performance alone (fresh)",
        baseline=Stats.of(baseline), limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS,
        dataset={"agents": AGENTS, "conversations": AGENTS * CONVERSATIONS_PER_AGENT,
                 "closed_leads": AGENTS * LEADS_PER_AGENT, "modules": 15 + len(AREAS)},
        notes={"samples_per_round": SAMPLES_PER_ROUND, "plans_made": plans.count(),
               "measured": "performance_invalidate + agent_performance + generate_training_plan"},
    )
    result.publish()
    assert result.met, result.line()
