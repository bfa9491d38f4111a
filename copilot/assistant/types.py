"""What the assistant's workflow analysis returns: the seed's `AssistantAnalysis` (recommendations, automation
opportunities, efficiency score) with the facts it measured and the score's formula, so every figure the page
shows can be traced to the data behind it."""

import datetime as dt
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class LeadRef:
    """One lead named as an example of a finding, with how long it has waited."""

    id: int
    name: str
    waited: str  # "12 days", "3 h", "25 min"
    url: str


@dataclass(frozen=True)
class LeadGroup:
    """Leads that share a finding. `lead_ids` are all of them, longest-waiting first; `draftable_ids` are the
    ones a follow-up can be drafted for (they may be contacted and have no draft waiting yet)."""

    count: int = 0
    longest_minutes: int | None = None
    lead_ids: tuple[int, ...] = ()
    draftable_ids: tuple[int, ...] = ()
    examples: tuple[LeadRef, ...] = ()


@dataclass(frozen=True)
class StuckStage:
    stage: str
    label: str
    limit_days: int
    leads: LeadGroup


@dataclass(frozen=True)
class FollowupFacts:
    overdue: int = 0
    due_today: int = 0
    upcoming: int = 0
    calls: int = 0
    failed: int = 0
    oldest_overdue_days: int | None = None

    @property
    def open_drafts(self) -> int:
        return self.overdue + self.due_today + self.upcoming


@dataclass(frozen=True)
class ResponseFacts:
    """First responses to the leads received in the window (created at least the target's minutes ago, so each
    one could have been answered in time)."""

    received: int = 0
    answered: int = 0
    within_target: int = 0
    median_minutes: float | None = None  # over the answered ones

    @property
    def unanswered(self) -> int:
        return self.received - self.answered


@dataclass(frozen=True)
class RepeatedMessage:
    example: str  # the latest wording, as typed
    times: int
    leads: int
    words: int
    minutes_typing: float  # times × words ÷ TYPING_WORDS_PER_MINUTE


@dataclass(frozen=True)
class WeakSpot:
    area: str
    label: str
    score: float
    team_mean: float | None
    target: float


@dataclass(frozen=True)
class CoachingFacts:
    scored_conversations: int = 0
    average_quality: float | None = None
    weak_spots: tuple[WeakSpot, ...] = ()


@dataclass(frozen=True)
class ListingRef:
    id: int
    title: str
    status: str
    url: str


@dataclass(frozen=True)
class WorkflowFacts:
    """What was measured, and the settings and limits it was measured against."""

    window_days: int
    considered_leads: int  # the agent's open leads and the leads they received in the window
    forgotten_lead_days: int
    response_target_minutes: int
    open_leads: int
    contactable_open_leads: int
    waiting_first_contact: LeadGroup
    gone_quiet: LeadGroup
    viewings_without_next_step: LeadGroup
    viewing_leads_judged: int  # viewing-stage leads past the grace period (the denominator of the score part)
    staged_open_leads: int  # open leads in a stage with a time limit (the denominator of pipeline flow)
    stuck: tuple[StuckStage, ...]
    followups: FollowupFacts
    response: ResponseFacts
    repeated_messages: tuple[RepeatedMessage, ...]
    coaching: CoachingFacts
    listings_without_description: tuple[ListingRef, ...] = ()  # the oldest few
    more_listings_without_description: bool = False  # more than those few

    @property
    def stuck_count(self) -> int:
        return sum(stage.leads.count for stage in self.stuck)


@dataclass(frozen=True)
class Recommendation:
    kind: str
    priority: str  # "high", "medium" or "low"
    title: str
    fact: str  # the measured finding behind it, e.g. "7 open leads were last contacted 10 or more days ago"
    action: str
    url: str  # the page that fixes it
    link_label: str
    examples: tuple[LeadRef, ...] = ()


@dataclass(frozen=True)
class AutomationOpportunity:
    """A runnable automation: `POST /api/copilot/assistant/automate` (or the page's button) with `type` and
    `parameters` as they are."""

    type: str  # "lead_followup", "report_creation" or "content_generation"
    label: str
    parameters: dict
    finding: str  # the kind of the recommendation it acts on ("" for the weekly report)

    @property
    def parameters_json(self) -> str:
        return json.dumps(self.parameters, separators=(",", ":"))


@dataclass(frozen=True)
class ScoreComponent:
    key: str
    label: str
    weight: int
    value: float | None  # 0–1; None without data, and then left out of the score
    measured: str  # "23 of 30 open leads contacted in the last 10 days", or why there is no value

    @property
    def percent(self) -> float | None:
        return None if self.value is None else round(self.value * 100, 1)


@dataclass(frozen=True)
class EfficiencyScore:
    score: float | None
    components: tuple[ScoreComponent, ...]
    formula: str
    reason: str = ""  # why there is no score ("" when there is one)

    @property
    def weight_with_data(self) -> int:
        return sum(component.weight for component in self.components if component.value is not None)


@dataclass(frozen=True)
class AssistantAnalysis:
    """The seed's AssistantAnalysis. `efficiency_score` is None ("not enough data") rather than a guess."""

    analysis_type: str
    agent_id: int
    agent_name: str
    generated_at: dt.datetime
    recommendations: tuple[Recommendation, ...]
    automation_opportunities: tuple[AutomationOpportunity, ...]
    efficiency_score: float | None
    score: EfficiencyScore
    facts: WorkflowFacts

    def to_dict(self) -> dict:
        """JSON-ready (datetimes as ISO text, tuples as lists)."""
        data = asdict(self)
        data["generated_at"] = self.generated_at.isoformat()
        data["score"]["weight_with_data"] = self.score.weight_with_data
        return json.loads(json.dumps(data))
