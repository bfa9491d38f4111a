"""What every conversation analyser takes and returns, whichever engine produced it."""

import datetime as dt
from dataclasses import asdict, dataclass, field

AREAS = ("lead_qualification", "property_presentation", "objection_handling", "closing", "market_expertise")
AREA_LABELS = {
    "lead_qualification": "Lead qualification",
    "property_presentation": "Property presentation",
    "objection_handling": "Objection handling",
    "closing": "Closing",
    "market_expertise": "Market expertise",
}

# The seed's real-estate expertise domains; a domain the conversation never touches scores None.
EXPERTISE_AREAS = ("pricing_valuation", "neighbourhood_knowledge", "financing", "regulation_process", "investment")
EXPERTISE_LABELS = {
    "pricing_valuation": "Pricing and valuation",
    "neighbourhood_knowledge": "Neighbourhood knowledge",
    "financing": "Financing and mortgages",
    "regulation_process": "Regulation and process (DLD, RERA, Ejari)",
    "investment": "Investment and yields",
}

# Severity of a finding, lowest first; alert priorities map onto these one to one (LOW … CRITICAL).
SEVERITIES = ("low", "medium", "high", "critical")


@dataclass(frozen=True)
class MessageIn:
    speaker: str  # "agent" or "lead"
    text: str
    sent_at: dt.datetime | None = None


@dataclass(frozen=True)
class Finding:
    """Something the agent did (or failed to do) in one area, with the messages that show it.

    `code` is stable across analyses of the same conversation (e.g. "objection_price_without_data"), which is what
    alerts are deduplicated on. `positive` findings are strengths, never alerted on.
    """

    area: str
    code: str
    severity: str
    title: str
    message: str
    suggested_action: str = ""
    evidence: tuple[str, ...] = ()
    message_index: int | None = None  # 0-based index of the message that triggered it
    positive: bool = False


@dataclass(frozen=True)
class Analysis:
    overall_quality_score: float | None
    quality_scores_by_area: dict[str, float | None]
    expertise_scores: dict[str, float | None]
    talk_ratio: float | None  # the agent's share of the words, 0–1
    questions_asked: int
    response_gaps: dict = field(default_factory=dict)  # {"average_seconds", "longest_seconds", "slow_replies"}
    findings: tuple[Finding, ...] = ()
    final: bool = False  # True when the whole conversation was judged (it has ended)
    engine: str = "local"
    degraded: bool = False
    degraded_reason: str | None = None

    def to_dict(self) -> dict:
        data = asdict(self)
        data["findings"] = [asdict(finding) | {"evidence": list(finding.evidence)} for finding in self.findings]
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "Analysis":
        findings = tuple(Finding(**(item | {"evidence": tuple(item.get("evidence", ()))}))
                         for item in data.get("findings", ()))
        return cls(**(data | {"findings": findings}))
