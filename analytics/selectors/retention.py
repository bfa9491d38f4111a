"""The seed's LeadRetentionTracker: what became of the leads that came in during a period.

The lifecycle itself is already tracked — every stage change is a `StageChange` row written by the CRM's
services — so this module only reads. Its subject is the period's *cohort*: the leads created in it (the
brokerage's days, both ends included), or one agent's when the filter names an agent. For the cohort it
measures how fast leads were answered, how many were reached at all, how many went quiet before closing
(leakage), how far down the pipeline they got (funnel), how many were still alive 30/60/90 days on (retention),
why the lost ones were lost, and the same core figures per agent and per source.

Every figure's formula is in `FORMULAS` (the page prints it next to the figure). A rate with nothing to divide
by is None, never 0, and a retention window the cohort is too young for is None with a reason. Whatever the
number of leads, the work is a fixed handful of grouped queries (`nurturing.selectors.activity`'s cohort
readers count in the database): the brokerage's setting, the cohort's counts by agent and source, the
stages reached, the lost reasons, and the agents' names.
"""

import datetime as dt
from dataclasses import dataclass, fields

from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.selectors import setting_value
from nurturing.models import LADDER, Source, Stage
from nurturing.selectors import activity

from ..period import Period

# (key, label, limit): the speed-to-lead bands, each up to and including its limit.
SPEED_BANDS = (
    ("5_minutes", "Within 5 minutes", dt.timedelta(minutes=5)),
    ("1_hour", "5 minutes to 1 hour", dt.timedelta(hours=1)),
    ("24_hours", "1 to 24 hours", dt.timedelta(hours=24)),
)
RETENTION_DAYS = (30, 60, 90)
LOST_REASONS_SHOWN = 8
NO_REASON = "No reason given"
OTHER_REASONS = "Other reasons"
UNASSIGNED = "Unassigned"

FORMULAS = {
    "leads": "Leads created in the period (the cohort every other figure on this page is about).",
    "contacted": "Leads of the cohort with a first contact recorded (at any time up to now).",
    "contact_rate": "Contacted leads ÷ leads of the cohort.",
    "speed_to_lead": (
        "Minutes from a lead's creation to its first contact, in bands: within 5 minutes (5:00 exactly "
        "included), over 5 minutes up to 1 hour, over 1 hour up to 24 hours, later, and not contacted yet. "
        "Each band's share = its leads ÷ leads of the cohort."),
    "within_5_minutes": "Leads first contacted within 5 minutes of creation ÷ leads of the cohort.",
    "leaking": (
        "Leads of the cohort still open (not won or lost) at the end of the period — or now, if the period "
        "runs to today — with no contact either way for the brokerage's “forgotten lead” days or more by "
        "then (counted from creation for a lead never contacted). Leads that asked not to be contacted are "
        "not counted."),
    "leakage_rate": "Leaking leads ÷ leads of the cohort.",
    "funnel": (
        "Leads of the cohort that reached each stage New → Contacted → Qualified → Viewing → Offer → Won. Every "
        "lead starts New; a lead reached a later stage when its stage history or its current stage holds that "
        "stage or a later one (and reached Contacted once a first contact is recorded). A lead that skipped a "
        "stage counts for it (it got past it); a lost lead counts for the stages it reached before it was "
        "lost."),
    "funnel_step": "Leads that reached a stage ÷ leads that reached the stage before it.",
    "retention": (
        "Of the cohort's leads at least D days old, the share retained at D days: won within D days of "
        "creation, or not lost within D days and contacted either way on or after day D. Leads younger than "
        "D days are left out; with none old enough there is no figure."),
    "won": "Leads of the cohort that are won now.",
    "lost": "Leads of the cohort that are lost now.",
    "win_rate": "Won ÷ (won + lost) among the cohort's leads (closed leads only).",
    "lost_reasons": (
        "Lost leads of the cohort by the reason recorded when they were lost (a blank reason is “No reason "
        "given”); share = the reason's leads ÷ lost leads."),
}


@dataclass(frozen=True)
class Figures:
    """The core counts of a set of the cohort's leads (all of them, one agent's, one source's) and the rates
    computed from them (None where there is nothing to divide by). `within` is cumulative, one count per
    `SPEED_BANDS` limit; `old_enough`/`retained` have one count per `RETENTION_DAYS` window; `reached` one per
    stage of the funnel's `LADDER`."""

    leads: int = 0
    contacted: int = 0
    within: tuple[int, ...] = (0,) * len(SPEED_BANDS)
    leaking: int = 0
    won: int = 0
    lost: int = 0
    old_enough: tuple[int, ...] = (0,) * len(RETENTION_DAYS)
    retained: tuple[int, ...] = (0,) * len(RETENTION_DAYS)
    reached: tuple[int, ...] = (0,) * len(LADDER)

    @classmethod
    def of(cls, row: dict) -> "Figures":
        return cls(leads=row["leads"], contacted=row["contacted"],
                   within=tuple(row[f"within_{index}"] for index in range(len(SPEED_BANDS))),
                   leaking=row["leaking"], won=row["won"], lost=row["lost"],
                   old_enough=tuple(row[f"old_{days}"] for days in RETENTION_DAYS),
                   retained=tuple(row[f"retained_{days}"] for days in RETENTION_DAYS),
                   reached=tuple(row[f"reached_{stage.value}"] for stage in LADDER))

    def __add__(self, other: "Figures") -> "Figures":
        def plus(mine, theirs):
            return tuple(a + b for a, b in zip(mine, theirs, strict=True)) if isinstance(mine, tuple) else mine + theirs

        return Figures(**{item.name: plus(getattr(self, item.name), getattr(other, item.name))
                          for item in fields(self)})

    @property
    def never_contacted(self) -> int:
        return self.leads - self.contacted

    @property
    def contact_rate(self) -> float | None:
        return _ratio(self.contacted, self.leads)

    @property
    def within_5_minutes_rate(self) -> float | None:
        return _ratio(self.within[0], self.leads)

    @property
    def leakage_rate(self) -> float | None:
        return _ratio(self.leaking, self.leads)

    @property
    def win_rate(self) -> float | None:
        return _ratio(self.won, self.won + self.lost)

    def retention_rate(self, days: int) -> float | None:
        index = RETENTION_DAYS.index(days)
        return _ratio(self.retained[index], self.old_enough[index])

    @property
    def retention_rates(self) -> tuple[float | None, ...]:
        """One rate per `RETENTION_DAYS` window, in that order."""
        return tuple(self.retention_rate(days) for days in RETENTION_DAYS)

    def to_dict(self) -> dict:
        return {"leads": self.leads, "contacted": self.contacted, "never_contacted": self.never_contacted,
                "contact_rate": self.contact_rate, "within_5_minutes_rate": self.within_5_minutes_rate,
                "leaking": self.leaking, "leakage_rate": self.leakage_rate, "won": self.won, "lost": self.lost,
                "win_rate": self.win_rate,
                **{f"retention_{days}_days": self.retention_rate(days) for days in RETENTION_DAYS}}


@dataclass(frozen=True)
class Share:
    """A labelled count and its share of the whole it is part of (None when the whole is empty)."""

    key: str
    label: str
    count: int
    share: float | None


@dataclass(frozen=True)
class FunnelStep:
    stage: str
    label: str
    reached: int
    share: float | None  # of the cohort
    step_rate: float | None  # of the leads that reached the stage before (None for the first stage)


@dataclass(frozen=True)
class RetentionWindow:
    days: int
    old_enough: int
    retained: int
    rate: float | None
    reason: str = ""  # why there is no rate


@dataclass(frozen=True)
class Row:
    """One line of a breakdown: an agent (key = id, None for unassigned leads) or a source (key = its value)."""

    key: int | str | None
    label: str
    figures: Figures


@dataclass(frozen=True)
class LeadRetentionMetrics:
    period: Period
    agent_id: int | None
    as_of: dt.datetime  # when leakage was judged: the end of the period, or now if that is earlier
    forgotten_lead_days: int
    totals: Figures
    speed_to_lead: tuple[Share, ...]
    funnel: tuple[FunnelStep, ...]
    retention: tuple[RetentionWindow, ...]
    lost_reasons: tuple[Share, ...]
    by_agent: tuple[Row, ...]
    by_source: tuple[Row, ...]
    formulas: dict

    @property
    def leads(self) -> int:
        return self.totals.leads

    @property
    def contact_rate(self) -> float | None:
        return self.totals.contact_rate

    @property
    def leaking(self) -> int:
        return self.totals.leaking

    @property
    def leakage_rate(self) -> float | None:
        return self.totals.leakage_rate

    @property
    def within_5_minutes_rate(self) -> float | None:
        return self.totals.within_5_minutes_rate

    @property
    def leakage_by_agent(self) -> dict[int, int]:
        """Leaking leads per agent, agents with at least one (unassigned leads are left out)."""
        return {row.key: row.figures.leaking for row in self.by_agent if row.key is not None and row.figures.leaking}

    def to_dict(self) -> dict:
        """Plain values for the API and the reports."""
        return {
            "period": {"start": self.period.start.isoformat(), "end": self.period.end.isoformat()},
            "agent_id": self.agent_id, "as_of": self.as_of.isoformat(),
            "forgotten_lead_days": self.forgotten_lead_days, **self.totals.to_dict(),
            "speed_to_lead": [vars(band) for band in self.speed_to_lead],
            "funnel": [vars(step) for step in self.funnel],
            "retention": [vars(window) for window in self.retention],
            "lost_reasons": [vars(reason) for reason in self.lost_reasons],
            "by_agent": [{"agent_id": row.key, "name": row.label, **row.figures.to_dict()} for row in self.by_agent],
            "by_source": [{"source": row.key, "label": row.label, **row.figures.to_dict()}
                          for row in self.by_source],
            "formulas": self.formulas,
        }


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def cohort_rules(brokerage: Brokerage, period: Period, now: dt.datetime | None = None) -> activity.CohortRules:
    """The rules the cohort is judged by: leakage at the end of the period (or now, if earlier) with the
    brokerage's `forgotten_lead_days`. One query (the setting)."""
    now = now or timezone.now()
    return activity.CohortRules(now=now, as_of=min(period.bounds()[1], now),
                                quiet_days=setting_value(brokerage, "forgotten_lead_days"),
                                response_limits=tuple(limit for _, _, limit in SPEED_BANDS),
                                retention_days=RETENTION_DAYS)


def retention_metrics(*, brokerage: Brokerage, period: Period, agent_id: int | None = None,
                      now: dt.datetime | None = None) -> LeadRetentionMetrics:
    """The lead retention figures of the period's cohort (one agent's with `agent_id`). At most four queries
    whatever the number of leads (fewer when there is nothing to look up: no leads, none lost, none assigned)."""
    rules = cohort_rules(brokerage, period, now)
    start, end = period.bounds()
    rows = activity.cohort_counts(brokerage, start, end, rules, agent_id=agent_id)
    by_agent_figures, by_source_figures = _sums(rows, "agent_id"), _sums(rows, "source")
    totals = _sums(rows, None)[None]
    first_created = min((row["first_created"] for row in rows), default=None)
    names = _agent_names(brokerage, [key for key in by_agent_figures if key is not None])
    by_agent = sorted((Row(key, names.get(key, UNASSIGNED) if key else UNASSIGNED, figures)
                       for key, figures in by_agent_figures.items()),
                      key=lambda row: (row.key is None, -row.figures.leads, row.label.lower()))
    by_source = sorted((Row(key, _source_label(key), figures) for key, figures in by_source_figures.items()),
                       key=lambda row: (-row.figures.leads, row.label.lower()))
    lost = (activity.cohort_lost_reasons(brokerage, start, end, agent_id=agent_id, limit=LOST_REASONS_SHOWN)
            if totals.lost else [])
    return LeadRetentionMetrics(
        period=period, agent_id=agent_id, as_of=rules.as_of, forgotten_lead_days=rules.quiet_days, totals=totals,
        speed_to_lead=_speed_to_lead(totals), funnel=_funnel(totals),
        retention=_retention(totals, first_created, period),
        lost_reasons=_lost_reasons(lost, totals.lost), by_agent=tuple(by_agent), by_source=tuple(by_source),
        formulas=dict(FORMULAS))


def leakage_by_agent(brokerage: Brokerage, period: Period, now: dt.datetime | None = None) -> dict[int, int]:
    """Leaking leads of the period's cohort per agent (agents with none are absent, unassigned leads too): what
    the dashboard's "agents needing attention" reads. Two queries."""
    rules = cohort_rules(brokerage, period, now)
    start, end = period.bounds()
    leaking = _sums(activity.cohort_counts(brokerage, start, end, rules), "agent_id")
    return {key: figures.leaking for key, figures in leaking.items() if key is not None and figures.leaking}


def leaking_leads(brokerage: Brokerage, period: Period, *, agent_id: int | None = None, limit: int = 50,
                  now: dt.datetime | None = None) -> list[dict]:
    """The cohort's leaking leads, the longest untouched first (at most `limit`): id, name, agent id, stage,
    created at, last contacted at. Two queries."""
    rules = cohort_rules(brokerage, period, now)
    start, end = period.bounds()
    keys = ("id", "name", "agent_id", "stage", "created_at", "last_contacted_at")
    return [dict(zip(keys, values, strict=True)) for values in
            activity.cohort_leaking_leads(brokerage, start, end, rules, agent_id=agent_id, limit=limit)]


COUNTS = ("leads", "contacted", *[f"within_{index}" for index in range(len(SPEED_BANDS))], "leaking", "won", "lost",
          *[f"old_{days}" for days in RETENTION_DAYS], *[f"retained_{days}" for days in RETENTION_DAYS],
          *[f"reached_{stage.value}" for stage in LADDER])


def _sums(rows: list[dict], key: str | None) -> dict:
    """The reader's (agent, source) rows summed by one of the two (by nothing: the total, under None)."""
    sums: dict = {None: dict.fromkeys(COUNTS, 0)} if key is None else {}
    for row in rows:
        into = sums.setdefault(row[key] if key else None, dict.fromkeys(COUNTS, 0))
        for name in COUNTS:
            into[name] += row[name]
    return {value: Figures.of(counts) for value, counts in sums.items()}


def _agent_names(brokerage: Brokerage, ids: list[int]) -> dict[int, str]:
    if not ids:
        return {}
    return {user.pk: user.display_name for user in
            User.objects.filter(brokerage=brokerage, pk__in=ids).only("full_name", "email")}


def _source_label(value: str) -> str:
    return Source(value).label if value in Source.values else value


def _speed_to_lead(totals: Figures) -> tuple[Share, ...]:
    """The bands as counts of their own (the reader's counts are cumulative)."""
    counts, below = [], 0
    for index in range(len(SPEED_BANDS)):
        counts.append(totals.within[index] - below)
        below = totals.within[index]
    counts += [totals.contacted - below, totals.never_contacted]
    keys = [(key, label) for key, label, _ in SPEED_BANDS] + [("later", "After 24 hours"),
                                                              ("never", "Not contacted yet")]
    return tuple(Share(key, label, count, _ratio(count, totals.leads))
                 for (key, label), count in zip(keys, counts, strict=True))


def _funnel(totals: Figures) -> tuple[FunnelStep, ...]:
    steps, previous = [], None
    for stage, count in zip(LADDER, totals.reached, strict=True):
        steps.append(FunnelStep(stage.value, Stage(stage).label, count, _ratio(count, totals.leads),
                                None if previous is None else _ratio(count, previous)))
        previous = count
    return tuple(steps)


def _retention(totals: Figures, first_created: dt.datetime | None, period: Period) -> tuple[RetentionWindow, ...]:
    windows = []
    for index, days in enumerate(RETENTION_DAYS):
        old, retained = totals.old_enough[index], totals.retained[index]
        reason = ""
        if not totals.leads:
            reason = "No leads were created in the period."
        elif not old:
            ready = (first_created + dt.timedelta(days=days)).astimezone(period.zone)
            reason = (f"None of the period's leads is {days} days old yet; the first one will be on "
                      f"{ready:%-d %b %Y}.")
        windows.append(RetentionWindow(days, old, retained, _ratio(retained, old), reason))
    return tuple(windows)


def _lost_reasons(reasons: list[tuple[str, int]], lost: int) -> tuple[Share, ...]:
    shares = [Share(reason or "", reason or NO_REASON, count, _ratio(count, lost)) for reason, count in reasons]
    rest = lost - sum(count for _, count in reasons)
    if rest > 0:
        shares.append(Share("other", OTHER_REASONS, rest, _ratio(rest, lost)))
    return tuple(shares)
