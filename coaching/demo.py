"""Coaching demo data: six weeks of analysed conversations for every demo agent, running coaching sessions with
the alerts they raised, and training plans in progress.

Each agent gets a skill profile (their chance of handling each area well) that drifts over the six weeks, so
profiles show real strengths, weaknesses and trends. Everything goes through the coaching services, so
analyses, alerts, session counters, lead timelines and the audit log are what real use would produce.
Idempotent: a brokerage that already has demo conversations is left alone.
"""

import datetime as dt
import random

from django.utils import timezone
from django_scopes import scope

from brokerages.models import Brokerage, Role, User
from nurturing.models import FollowUp, Lead, Stage

from .demo_conversations import compose
from .models import Area, Conversation, Intensity, TrainingPlanItem
from .selectors.performance import agent_performance
from .services.conversations import conversation_end, conversation_start, message_record, transcript_record
from .services.sessions import session_start
from .services.training import generate_training_plan, plan_item_set_status
from .transcripts import TranscriptLine

HISTORY_DAYS = 42
CONVERSATIONS_PER_AGENT = 10
# Who is coached, and how hard, in each demo brokerage (by position among its agents, weakest first).
SESSIONS = {"palm-crest": (Intensity.CRITICAL, Intensity.INTENSIVE, Intensity.MODERATE),
            "marina-heights": (Intensity.MODERATE,)}


def seed(result) -> None:
    for slug, intensities in SESSIONS.items():
        brokerage = Brokerage.objects.filter(slug=slug).first()
        if brokerage is None:
            continue
        with scope(brokerage=brokerage):
            if Conversation.objects.filter(brokerage=brokerage, external_id__startswith="demo-").exists():
                continue
            _seed_brokerage(brokerage, intensities, random.Random(f"coaching-{slug}"), result)


def _seed_brokerage(brokerage: Brokerage, intensities, rng: random.Random, result) -> None:
    owner = User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER).order_by("pk").first()
    agents = list(User.objects.filter(brokerage=brokerage, role=Role.AGENT, is_active=True).order_by("pk"))
    if not agents:
        return
    now = timezone.now()
    skills = {agent.pk: _skill_profile(rng) for agent in agents}
    for agent in agents:
        leads = _quiet_leads(brokerage, agent)
        for number in range(CONVERSATIONS_PER_AGENT):
            # Older conversations first; each agent's skill drifts towards its end profile over the weeks.
            progress = number / (CONVERSATIONS_PER_AGENT - 1)
            skill = {area: start + (end - start) * progress for area, (start, end) in skills[agent.pk].items()}
            started = now - dt.timedelta(days=HISTORY_DAYS * (1 - progress) + 1, hours=rng.randint(0, 8))
            lines = compose(rng, skill, rng.choice(("Sara", "Omar", "Mei", "Daniel", "Aisha", "Ivan")))
            transcript_record(
                brokerage=brokerage, actor=agent, agent=agent,
                lines=[TranscriptLine(speaker, text, started + dt.timedelta(minutes=index * 2), f"Line {index + 1}")
                       for index, (speaker, text) in enumerate(lines)],
                lead=rng.choice(leads) if leads and rng.random() < 0.7 else None,
                channel=rng.choice(("call", "whatsapp", "whatsapp", "sms", "in_person")),
                external_id=f"demo-{agent.pk}-{number}", started_at=started)
    weakest = sorted(agents, key=lambda agent: agent_performance(brokerage=brokerage, agent=agent).overall_quality_score
                     or 0)
    alerts = plans = 0
    for agent, intensity in zip(weakest, intensities, strict=False):
        session_start(brokerage=brokerage, actor=owner, agent=agent, intensity=intensity)
        alerts += _live_conversation(brokerage, agent, rng, skills[agent.pk])
        plans += _plan_in_progress(brokerage, owner, agent)
    result.created.append(f"{len(agents) * CONVERSATIONS_PER_AGENT} coached conversations for {brokerage.slug}, "
                          f"{len(intensities)} coaching sessions ({alerts} alerts), {plans} training plans")


def _skill_profile(rng: random.Random) -> dict[str, tuple[float, float]]:
    """(start, end) chance of handling each area well: some agents improve, some slip, most hold steady."""
    drift = rng.choice((0.3, 0.0, 0.0, -0.2))
    profile = {}
    for area in Area.values:
        start = rng.uniform(0.2, 0.9)
        profile[area] = (start, min(max(start + drift, 0.05), 0.95))
    return profile


def _quiet_leads(brokerage: Brokerage, agent: User) -> list[Lead]:
    """The agent's leads in the middle of the funnel with no follow-up waiting: logging a conversation on them
    does not withdraw the nurturing demo's drafts."""
    waiting = FollowUp.objects.filter(brokerage=brokerage, status__in=[FollowUp.Status.DRAFT, FollowUp.Status.APPROVED])
    return list(Lead.objects.filter(brokerage=brokerage, assigned_agent=agent,
                                    stage__in=[Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER])
                .exclude(pk__in=waiting.values("lead_id")).order_by("pk")[:10])


def _live_conversation(brokerage: Brokerage, agent: User, rng: random.Random, skill) -> int:
    """Today's conversation, message by message, as the live path sees it; returns the alerts it raised."""
    conversation = conversation_start(brokerage=brokerage, actor=agent, agent=agent, channel="whatsapp",
                                      started_at=timezone.now() - dt.timedelta(minutes=30))
    alerts = 0
    for speaker, text in compose(rng, {area: start for area, (start, _end) in skill.items()}, "Sara"):
        alerts += len(message_record(brokerage=brokerage, actor=agent, conversation=conversation, speaker=speaker,
                                     text=text).alerts)
    ended = conversation_end(brokerage=brokerage, actor=agent, conversation=conversation)
    return alerts + ended.alerts.filter(alert_type="CONVERSATION_REVIEW").count()


def _plan_in_progress(brokerage: Brokerage, owner: User, agent: User) -> int:
    """A 30-day plan from the agent's profile with its first module done and the second under way."""
    profile = agent_performance(brokerage=brokerage, agent=agent)
    if not profile.skill_gaps:
        return 0
    plan = generate_training_plan(brokerage=brokerage, actor=owner, agent_performance=profile,
                                  target_completion_days=30)
    items = list(plan.items.order_by("position"))
    steps = [(items[0], TrainingPlanItem.Status.IN_PROGRESS), (items[0], TrainingPlanItem.Status.COMPLETED)]
    if len(items) > 1:
        steps.append((items[1], TrainingPlanItem.Status.IN_PROGRESS))
    for item, status in steps:
        plan_item_set_status(brokerage=brokerage, actor=agent, item=item, status=status)
    return 1
