"""Analytics demo: twelve months of history for Palm Crest Realty, so every chart has a story, then the
`performance_rollup` of the year for each demo brokerage.

The year (dates count back from now, so the demo always shows the last twelve months):
- leads every day, more in Dubai's busy season (October–April) than in summer, topped up to a monthly volume
  around what the nurturing demo already loaded, from a mix of sources; each is first contacted after a delay
  drawn from its agent's speed-to-lead profile, moves through the funnel with a `StageChange` per step and an
  interaction per touch, and is won (sale price, 2 % commission, a satisfaction rating) or lost (with a
  reason), or is still open when its next step lies in the future;
- coached conversations on those leads, composed and scored by the local analyser exactly as a pasted
  transcript is (messages included), at the agent's skill of the day;
- three stories: **Karim Nassar improving** (weak until a coaching session and a training plan start six months
  ago, then his conversation quality, conversion and response time climb), **Ahmed Siddiqui slipping** (a top
  producer whose response time grows and conversion falls from four months ago, at his worst over the last
  three), and a **leakage spike** nine calendar months ago (a portal campaign brought 60 % more leads than
  the team could handle: more than half were never contacted, most of the others were left to go quiet, and
  they were lost weeks later).
Agents only get leads from their hire date. Rows are written in bulk (a second or two of inserts); the
analyser and the rollup take the rest. Idempotent: history leads carry `external_id` "history-N", and a
brokerage that has them is left alone; a brokerage without rows in the read model gets its year rolled up.
"""

import datetime as dt
import math
import random
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from functools import reduce

from django.contrib.auth.models import Permission
from django.db.models import Count
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django_scopes import scope

from brokerages.models import Brokerage, PerformanceTier, Role, User
from coaching.analysis import MessageIn, analyse
from coaching.demo_conversations import compose
from coaching.models import (Area, CoachingSession, Conversation, Intensity, Message, TrainingModule, TrainingPlan,
                             TrainingPlanItem)
from coaching.selectors.performance import performance_invalidate
from nurturing.demo import AREAS, FIRST_NAMES, LAST_NAMES, LOST_REASONS, PROPERTY_TYPES, SOURCES, TIMELINES
from nurturing.models import (Channel, Direction, Interaction, Lead, LeadUserObjectPermission, Stage, StageChange,
                              further_stage)

from .models import TeamPerformance
from .services.rollup import brokerage_zone, performance_rollup

HISTORY_SLUG = "palm-crest"
ROLLUP_SLUGS = ("palm-crest", "marina-heights")
PREFIX = "history-"
DAYS = 365
MONTHLY_LEADS = 140  # the brokerage's leads in an average month, all sources
CONVERSATIONS_PER_LEAD = 0.5  # coached conversations a month per lead of the month
TALKING_SHARE = 0.85  # leads contacted and not left to go quiet: the ones conversations can be about
LEAD_IN_DAYS = 60  # leads from before the year, so its first weeks already close deals
SEASON = {1: 1.2, 2: 1.2, 3: 1.1, 4: 1.0, 5: 0.9, 6: 0.75, 7: 0.65, 8: 0.7, 9: 0.9, 10: 1.15, 11: 1.25, 12: 1.1}
IMPROVING = "karim@palmcrest.ae"
SLIPPING = "ahmed@palmcrest.ae"
COACHED_DAYS_AGO = 182  # Karim's coaching session starts; it runs for COACHING_DAYS
COACHING_DAYS = 91
COACHED_RAMP_DAYS = 60  # from the session's start to Karim at his best
SLIP_DAYS_AGO = 120  # Ahmed starts slipping; worst by SLIP_DAYS_AGO - SLIP_RAMP_DAYS
SLIP_RAMP_DAYS = 30
STORY_WEIGHT = 1.6  # the story agents' share of new leads, against 1 for most agents (enough to read a trend)
LEAK_MONTHS_AGO = 9
DAY = dt.timedelta(days=1)
MINUTE = dt.timedelta(minutes=1)
COMMISSION_RATE = Decimal("0.02")  # Dubai's customary 2 % of the price
NEVER_CONTACTED = "Never contacted; the lead went cold"


@dataclass(frozen=True)
class Form:
    """How an agent works at some moment of the year."""

    skill: float  # chance of handling each conversation area well (what `compose` takes)
    win: float  # chance that a lead which closes is won
    speed: tuple[float, float, float, float]  # first contact within 5 min, 1 h, 24 h, later (never: NEVER)
    quiet: float  # chance a contacted lead is left to go quiet and is lost

    def blend(self, other: "Form", share: float) -> "Form":
        share = min(max(share, 0.0), 1.0)
        mix = lambda a, b: a + (b - a) * share  # noqa: E731
        return Form(mix(self.skill, other.skill), mix(self.win, other.win),
                    tuple(mix(a, b) for a, b in zip(self.speed, other.speed, strict=True)),
                    mix(self.quiet, other.quiet))


TIER_FORMS = {
    PerformanceTier.TOP_PRODUCER: Form(0.8, 0.62, (0.55, 0.30, 0.12, 0.03), 0.04),
    PerformanceTier.HIGH_PERFORMER: Form(0.7, 0.55, (0.45, 0.33, 0.17, 0.05), 0.06),
    PerformanceTier.STANDARD: Form(0.58, 0.48, (0.35, 0.35, 0.22, 0.08), 0.08),
    PerformanceTier.DEVELOPING: Form(0.45, 0.4, (0.25, 0.35, 0.28, 0.12), 0.12),
}
STRUGGLING = Form(0.25, 0.28, (0.15, 0.30, 0.35, 0.20), 0.18)  # Karim before coaching
COACHED = Form(0.9, 0.64, (0.60, 0.30, 0.08, 0.02), 0.03)  # Karim once coaching has taken
SLIPPED = Form(0.42, 0.15, (0.05, 0.15, 0.45, 0.35), 0.30)  # Ahmed at his worst
NEVER = 0.03  # share of leads never contacted in an ordinary month
LEAK_SURGE = 1.6  # the spike month's campaign brings this many times an average month's leads
LEAK_NEVER, LEAK_QUIET = 0.55, 0.6  # the spike month: leads never contacted; contacted ones left to go quiet
SPEED_MINUTES = ((1, 5), (6, 60), (61, 720), (1440, 3600))


@dataclass
class Agent:
    user: User
    base: Form
    story: str = ""  # "improving", "slipping" or ""
    weight: float = 1.0

    def form(self, days_ago: float) -> Form:
        if self.story == "improving":
            return STRUGGLING.blend(COACHED, (COACHED_DAYS_AGO - days_ago) / COACHED_RAMP_DAYS)
        if self.story == "slipping":
            return self.base.blend(SLIPPED, (SLIP_DAYS_AGO - days_ago) / SLIP_RAMP_DAYS)
        return self.base


@dataclass
class History:
    """Unsaved rows, in insertion order."""

    leads: list[Lead] = field(default_factory=list)
    changes: list[StageChange] = field(default_factory=list)
    touches: list[Interaction] = field(default_factory=list)
    conversations: list[tuple[Conversation, list[tuple[str, str]]]] = field(default_factory=list)


def seed(result) -> None:
    """Called by `seed_demo` after the other apps' demos (INSTALLED_APPS order), so their leads and conversations
    are in place. After: Palm Crest has its year of history (unless it already had it) and every demo
    brokerage has its last 365 days in `TeamPerformance`; `result.created` says what was added, and is left
    untouched when nothing was."""
    for slug in ROLLUP_SLUGS:
        brokerage = Brokerage.objects.filter(slug=slug).first()
        if brokerage is None:
            continue
        with scope(brokerage=brokerage):
            if slug == HISTORY_SLUG and not Lead.objects.filter(brokerage=brokerage,
                                                                external_id__startswith=PREFIX).exists():
                note = _seed_history(brokerage, random.Random(f"analytics-{slug}"))
            elif not TeamPerformance.objects.filter(brokerage=brokerage).exists():
                note = ""
            else:
                continue
            today = timezone.localdate(timezone.now(), brokerage_zone(brokerage))
            rolled = performance_rollup(brokerage=brokerage, since=today - (DAYS - 1) * DAY, until=today)
            result.created.append(f"{rolled.rows} daily performance rows for {slug}{note}")


def _seed_history(brokerage: Brokerage, rng: random.Random) -> str:
    """Write the year; returns what was written, for the command's output."""
    owner = User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER).order_by("pk").first()
    users = list(User.objects.filter(brokerage=brokerage, role=Role.AGENT, is_active=True).order_by("pk"))
    if not users:
        return ""
    agents = []
    for user in users:
        base = TIER_FORMS.get(user.performance_tier, TIER_FORMS[PerformanceTier.STANDARD])
        story = {IMPROVING: "improving", SLIPPING: "slipping"}.get(user.email, "")
        weight = STORY_WEIGHT if story else {PerformanceTier.TOP_PRODUCER: 1.2, PerformanceTier.DEVELOPING: 0.85}.get(
            user.performance_tier, 1.0)
        agents.append(Agent(user, base, story, weight))
    now = timezone.now()
    zone = brokerage_zone(brokerage)
    today = timezone.localdate(now, zone)
    leak = _month_start(today, LEAK_MONTHS_AGO)
    leak_end = _month_start(today, LEAK_MONTHS_AGO - 1) - DAY
    history = History()
    number = 0
    for day, (count, talks) in _daily_volume(brokerage, today, leak, rng).items():
        working = [agent for agent in agents if (agent.user.hire_date or dt.date.min) <= day]
        for _ in range(count):
            created = dt.datetime.combine(day, dt.time(rng.randint(8, 21), rng.randint(0, 59)), zone)
            if created > now - dt.timedelta(hours=1) or not working:
                continue
            number += 1
            agent = rng.choices(working, weights=[agent.weight for agent in working])[0]
            _lead(history, brokerage, agent, number, created, leak <= day <= leak_end, talks, rng, now)
    _save(brokerage, history)
    session = _coaching(brokerage, owner, next((a for a in agents if a.story == "improving"), None), now, rng)
    for agent in agents:
        performance_invalidate(agent=agent.user)
    stories = [f"{a.user.full_name} {a.story}" for a in agents if a.story]
    return (f" ({len(history.leads)} history leads, {len(history.conversations)} coached conversations"
            f"{', a completed coaching session' if session else ''}; {', '.join(stories)}, "
            f"leakage spike in {leak:%B %Y})")


def _month_start(today: dt.date, months_ago: int) -> dt.date:
    index = today.year * 12 + today.month - 1 - months_ago
    return dt.date(index // 12, index % 12 + 1, 1)


def _daily_volume(brokerage: Brokerage, today: dt.date, leak: dt.date, rng: random.Random,
                  ) -> dict[dt.date, tuple[int, float]]:
    """(leads to create, coached conversations per lead) per day: each month's seasonal volume (the leak
    month's surge included) less the leads other demos already dated in it (at least a third of it stays ours, so every month carries the stories),
    and as many conversations as keep the month at CONVERSATIONS_PER_LEAD, counting the other demos' ones."""
    first = today - (DAYS - 1 + LEAD_IN_DAYS) * DAY
    leads = _by_month(Lead.objects.filter(brokerage=brokerage, created_at__date__gte=first), "created_at")
    talks = _by_month(Conversation.objects.filter(brokerage=brokerage, started_at__date__gte=first), "started_at")
    days: dict[dt.date, tuple[int, float]] = {}
    month = first.replace(day=1)
    while month <= today:
        following = (month + 32 * DAY).replace(day=1)
        span = [month + n * DAY for n in range((following - month).days) if first <= month + n * DAY <= today]
        wanted = MONTHLY_LEADS * (LEAK_SURGE if month == leak else SEASON[month.month]) * len(span) / (
            following - month).days
        count = round(max(wanted / 3, wanted - leads.get(month, 0)))
        conversations = max(wanted * CONVERSATIONS_PER_LEAD / 3, wanted * CONVERSATIONS_PER_LEAD - talks.get(month, 0))
        for day in rng.choices(span, k=count):
            days[day] = (days.get(day, (0, 0))[0] + 1, conversations / max(count, 1) / TALKING_SHARE)
        month = following
    return dict(sorted(days.items()))


def _by_month(queryset, field_name: str) -> Counter:
    rows = queryset.annotate(month=TruncMonth(field_name)).values("month").annotate(n=Count("pk"))
    return Counter({row["month"].date() if isinstance(row["month"], dt.datetime) else row["month"]: row["n"]
                    for row in rows})


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth's method; the means here are small)."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def _lead(history: History, brokerage, agent: Agent, number: int, created: dt.datetime, leaking: bool,
          talks: float, rng: random.Random, now: dt.datetime) -> None:
    """One lead's life from `created`: rows up to now are added to `history`, later steps are left out."""
    user = agent.user
    form = agent.form((now - created) / DAY)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    low = Decimal(rng.choice((600, 900, 1200, 1800, 2500, 3500, 5000, 8000))) * 1000
    lead = Lead(brokerage=brokerage, assigned_agent=user, name=f"{first} {last}",
                email=f"{first.lower()}.h{number}@example.com", phone=f"+9715{rng.choice('0258')}"
                f"{rng.randint(1000000, 9999999)}", source=rng.choice(SOURCES), external_id=f"{PREFIX}{number}",
                priority=rng.choice(("low", "medium", "medium", "high", "urgent")), budget_min=low,
                budget_max=low * Decimal("1.4"), areas=rng.sample(AREAS, k=rng.choice((1, 1, 2))),
                property_type=rng.choice(PROPERTY_TYPES), timeline=rng.choice(TIMELINES),
                marketing_consent=rng.random() < 0.8, created_at=created)
    steps = [("", Stage.NEW, created, None)]  # (from, to, at, touch channel)
    touches: list[tuple[dt.datetime, str, str, str]] = []  # (at, channel, direction, summary)
    roll, quiet = rng.random(), False
    if roll < (LEAK_NEVER if leaking else NEVER):
        steps.append((Stage.NEW, Stage.LOST, created + rng.uniform(30, 60) * DAY, None))
        lead.lost_reason = NEVER_CONTACTED
    else:
        low_minutes, high_minutes = rng.choices(SPEED_MINUTES, weights=form.speed)[0]
        delay = rng.uniform(low_minutes, high_minutes)
        at = created + delay * MINUTE
        steps.append((Stage.NEW, Stage.CONTACTED, at, Channel.CALL))
        quiet = rng.random() < (LEAK_QUIET if leaking else form.quiet)  # contacted once, then nothing
        close_form = agent.form((now - at) / DAY - 30)  # outcomes follow the agent's form around the close
        won = not quiet and rng.random() < close_form.win
        funnel = (Stage.QUALIFIED, Stage.VIEWING, Stage.OFFER)
        reached = 3 if won else 0 if quiet else rng.choices((0, 1, 2, 3), weights=(35, 30, 20, 15))[0]
        stage = Stage.CONTACTED
        for following, channel in zip(funnel[:reached], (Channel.WHATSAPP, Channel.MEETING, Channel.EMAIL),
                                      strict=False):
            at += rng.uniform(1, 10) * DAY
            steps.append((stage, following, at, channel))
            stage = following
            if rng.random() < 0.3:
                touches.append((at + rng.uniform(2, 30) * 60 * MINUTE, Channel.WHATSAPP, Direction.INBOUND,
                                "Replied on WhatsApp with questions about the service charges."))
        if won:
            steps.append((stage, Stage.WON, at + rng.uniform(5, 20) * DAY, Channel.MEETING))
            price = (low * Decimal(str(round(rng.uniform(1.0, 1.35), 2)))).quantize(Decimal("1000"))
            lead.sale_price, lead.commission = price, (price * COMMISSION_RATE).quantize(Decimal("0.01"))
            rating = round(rng.gauss(3.2 + 1.9 * close_form.skill, 0.6))
            lead.satisfaction_score = min(max(rating, 1), 5)
        elif quiet:
            steps.append((stage, Stage.LOST, at + rng.uniform(30, 50) * DAY, None))
            lead.lost_reason = "Stopped responding"
        else:
            steps.append((stage, Stage.LOST, at + rng.uniform(2, 8) * DAY, Channel.CALL))
            lead.lost_reason = rng.choice(LOST_REASONS)
    steps = [step for step in steps if step[2] <= now]
    lead.stage, lead.stage_changed_at = steps[-1][1], steps[-1][2]
    lead.furthest_stage = reduce(further_stage, (step[1] for step in steps), Stage.NEW)
    if lead.stage != Stage.LOST:
        lead.lost_reason = ""
    if lead.stage != Stage.WON:
        lead.sale_price = lead.commission = lead.satisfaction_score = None
    for previous, stage, at, channel in steps:
        history.changes.append(StageChange(brokerage=brokerage, lead=lead, from_stage=previous, to_stage=stage,
                                           changed_by=user if previous else None, changed_at=at))
        if channel:
            touches.append((at, channel, Direction.OUTBOUND, _summary(stage, lead)))
    if len(steps) > 1 and steps[1][1] == Stage.CONTACTED and not quiet:
        _conversations(history, brokerage, agent, lead, steps, _poisson(rng, talks), rng, now, touches)
    touches = sorted(touch for touch in touches if touch[0] <= now)
    for at, channel, direction, summary in touches:
        by_lead = direction == Direction.INBOUND and not summary.startswith("Coached")
        history.touches.append(Interaction(brokerage=brokerage, lead=lead, channel=channel, direction=direction,
                                           agent=None if by_lead else user,
                                           occurred_at=at, summary=summary))
    outbound = [at for at, _, direction, _ in touches if direction == Direction.OUTBOUND]
    inbound = [at for at, _, direction, _ in touches if direction == Direction.INBOUND]
    lead.first_contacted_at = outbound[0] if outbound else None
    lead.last_contacted_at = touches[-1][0] if touches else None
    lead.last_inbound_at = inbound[-1] if inbound else None
    history.leads.append(lead)


def _summary(stage: str, lead: Lead) -> str:
    area = (lead.areas or ["Dubai"])[0]
    return {
        Stage.CONTACTED: f"Intro call: looking for {lead.get_property_type_display().lower()} in {area}.",
        Stage.QUALIFIED: "Shared three listings on WhatsApp that fit the budget and timeline.",
        Stage.VIEWING: f"Viewing in {area} with the family.",
        Stage.OFFER: "Emailed the offer summary and the DLD fee breakdown.",
        Stage.WON: "Signed the MOU at the office.",
        Stage.LOST: "Call: the lead has decided not to go ahead.",
    }[stage]


def _conversations(history: History, brokerage, agent: Agent, lead: Lead, steps, count: int, rng: random.Random,
                   now: dt.datetime, touches: list) -> None:
    """`count` coached conversations with the lead between its first contact and its close (or now)."""
    start = steps[1][2] + dt.timedelta(hours=1)
    end = min(steps[-1][2] if lead.stage in (Stage.WON, Stage.LOST) else now, now) - dt.timedelta(hours=1)
    if end <= start:
        return
    for _ in range(min(count, 4)):
        started = start + (end - start) * rng.random()
        skill = agent.form((now - started) / DAY).skill
        noisy = {area: min(max(skill + rng.uniform(-0.1, 0.1), 0.05), 0.95) for area in Area.values}
        lines = compose(rng, noisy, lead.name.split()[0])
        channel = rng.choice(("call", "whatsapp", "whatsapp"))
        analysis = analyse([MessageIn(speaker, text, started + 2 * index * MINUTE)
                            for index, (speaker, text) in enumerate(lines)], final=True)
        conversation = Conversation(
            brokerage=brokerage, agent=agent.user, lead=lead, channel=channel,
            external_id=f"{PREFIX}{agent.user.pk}-{len(history.conversations) + 1}", started_at=started,
            ended_at=started + 2 * (len(lines) - 1) * MINUTE, message_count=len(lines),
            analysis=analysis.to_dict(), quality_score=analysis.overall_quality_score, analysis_engine=analysis.engine)
        history.conversations.append((conversation, lines))
        # What `conversation_end` puts on the lead's timeline; the lead opens every composed conversation.
        touches.append((started, channel, Direction.INBOUND,
                        f"Coached {conversation.get_channel_display().lower()}: quality "
                        f"{analysis.overall_quality_score:.0f}/100, {len(lines)} messages."))


def _save(brokerage: Brokerage, history: History) -> None:
    Lead.objects.bulk_create(history.leads, batch_size=500)
    permission = Permission.objects.get(content_type__app_label="nurturing", codename="work_lead")
    LeadUserObjectPermission.objects.bulk_create(
        [LeadUserObjectPermission(user=lead.assigned_agent, permission=permission, content_object=lead)
         for lead in history.leads], batch_size=500)
    StageChange.objects.bulk_create(history.changes, batch_size=1000)
    Interaction.objects.bulk_create(history.touches, batch_size=1000)
    Conversation.objects.bulk_create([conversation for conversation, _ in history.conversations], batch_size=500)
    Message.objects.bulk_create(
        [Message(brokerage=brokerage, conversation=conversation, position=index + 1, speaker=speaker, text=text,
                 sent_at=conversation.started_at + 2 * index * MINUTE)
         for conversation, lines in history.conversations for index, (speaker, text) in enumerate(lines)],
        batch_size=1000)


def _coaching(brokerage: Brokerage, owner: User | None, agent: Agent | None, now: dt.datetime,
              rng: random.Random) -> CoachingSession | None:
    """The improving agent's intensive coaching session of six months ago (completed after COACHING_DAYS), the
    conversations it monitored, and the 45-day training plan he finished during it."""
    if agent is None:
        return None
    started = now - COACHED_DAYS_AGO * DAY
    ended = started + COACHING_DAYS * DAY
    mine = Conversation.objects.filter(brokerage=brokerage, agent=agent.user, quality_score__isnull=False)
    before = [score for score in mine.filter(ended_at__gte=started - 30 * DAY, ended_at__lt=started)
              .values_list("quality_score", flat=True)]
    monitored = mine.filter(started_at__gte=started, ended_at__lte=ended)
    scores = list(monitored.values_list("quality_score", flat=True))
    session = CoachingSession.objects.create(
        brokerage=brokerage, agent=agent.user, started_by=owner, status=CoachingSession.Status.COMPLETED,
        intensity=Intensity.INTENSIVE, started_at=started, ended_at=ended, conversations_monitored=len(scores),
        baseline_quality_score=round(sum(before) / len(before), 1) if before else None,
        current_quality_score=round(sum(scores) / len(scores), 1) if scores else None)
    monitored.update(session=session)
    areas = (Area.CLOSING, Area.OBJECTION_HANDLING, Area.LEAD_QUALIFICATION)
    modules = [TrainingModule.objects.filter(brokerage=None, area=area, is_active=True,
                                             level__in=("beginner", "intermediate")).order_by("level", "key")
               .first() for area in areas]
    modules = [module for module in modules if module is not None]
    if not modules:
        return session
    plan = TrainingPlan.objects.create(
        brokerage=brokerage, agent=agent.user, created_by=owner, created_at=started + DAY,
        target_completion_date=(started + 46 * DAY).date(), status=TrainingPlan.Status.COMPLETED,
        priority_skills=list(areas), improvement_goals=[
            "Agree a next step (viewing or call) at the end of every conversation.",
            "Answer price objections with DLD transaction data.",
            "Qualify budget, financing and timeline before sending listings."],
        target_quality_score=70.0, target_conversion_rate=0.5, target_expertise_level="intermediate",
        baseline_metrics={"quality_score": session.baseline_quality_score, "conversion_rate": STRUGGLING.win},
        current_metrics={"quality_score": session.current_quality_score},
        rationale="Closing, objection handling and qualification were his widest gaps to the team.")
    TrainingPlanItem.objects.bulk_create([
        TrainingPlanItem(brokerage=brokerage, plan=plan, module=module, position=position,
                         status=TrainingPlanItem.Status.COMPLETED, reason=f"Skill gap in {module.get_area_display()}.",
                         started_at=started + (2 + 12 * (position - 1)) * DAY,
                         completed_at=started + (2 + 12 * (position - 1) + rng.randint(4, 10)) * DAY)
        for position, module in enumerate(modules, start=1)])
    return session
