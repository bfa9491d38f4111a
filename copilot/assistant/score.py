"""The efficiency score: how much of the agent's work is done on time, 0–100, from named parts with weights.

    score = 100 × Σ (weight × rate) ÷ Σ weight, over the parts that have data

A part without data (no open leads, no drafts, no scored conversation…) is left out rather than counted as
perfect or as zero. There is no score — "not enough data" — when the agent has fewer than MIN_LEADS leads to
judge (open, or received in the window) or the parts with data weigh less than MIN_WEIGHT of the 100 (contact
coverage and one more part at least).
"""

from .facts import VIEWING_GRACE_DAYS
from .types import EfficiencyScore, ScoreComponent, WorkflowFacts

FORMULA = "score = 100 × Σ (weight × rate) ÷ Σ weight, over the parts that have data"
MIN_LEADS = 5
MIN_WEIGHT = 40

# (key, label, weight): the weights add up to 100.
PARTS = (
    ("contact_coverage", "Leads kept in touch", 30),
    ("speed_to_lead", "New leads answered within the target", 25),
    ("followup_discipline", "Follow-up drafts handled on time", 15),
    ("pipeline_flow", "Leads moving through the pipeline", 15),
    ("conversation_quality", "Conversation quality", 10),
    ("viewing_follow_through", "Viewings followed by a next step", 5),
)


def _share(good: int, total: int) -> float | None:
    return None if total == 0 else good / total


def _components(facts: WorkflowFacts) -> dict[str, tuple[float | None, str]]:
    forgotten = facts.waiting_first_contact.count + facts.gone_quiet.count
    contactable, response, followups = facts.contactable_open_leads, facts.response, facts.followups
    stuck, staged = facts.stuck_count, facts.staged_open_leads
    viewings, missed = facts.viewing_leads_judged, facts.viewings_without_next_step.count
    quality = facts.coaching.average_quality
    return {
        "contact_coverage": (
            _share(contactable - forgotten, contactable),
            f"{contactable - forgotten} of {contactable} open leads contacted in the last {facts.forgotten_lead_days} "
            f"days or still within the {facts.response_target_minutes}-minute first-contact target" if contactable
            else "no open leads"),
        "speed_to_lead": (
            _share(response.within_target, response.received),
            f"{response.within_target} of {response.received} leads received in the last {facts.window_days} days "
            f"first contacted within {facts.response_target_minutes} min" if response.received
            else f"no leads received in the last {facts.window_days} days"),
        "followup_discipline": (
            _share(followups.open_drafts - followups.overdue, followups.open_drafts),
            f"{followups.open_drafts - followups.overdue} of {followups.open_drafts} open drafts not overdue"
            if followups.open_drafts else "no follow-up drafts waiting"),
        "pipeline_flow": (
            _share(staged - stuck, staged),
            f"{staged - stuck} of {staged} leads past the new stage within their stage's time limit"
            if staged else "no leads past the new stage"),
        "conversation_quality": (
            None if quality is None else quality / 100,
            f"average {quality:g}/100 over {facts.coaching.scored_conversations} scored conversations in the last "
            f"{facts.window_days} days" if quality is not None
            else f"no scored conversations in the last {facts.window_days} days"),
        "viewing_follow_through": (
            _share(viewings - missed, viewings),
            f"{viewings - missed} of {viewings} leads at the viewing stage for {VIEWING_GRACE_DAYS}+ days have a "
            "next step" if viewings else f"no leads at the viewing stage for {VIEWING_GRACE_DAYS}+ days"),
    }


def efficiency_score(facts: WorkflowFacts) -> EfficiencyScore:
    measured = _components(facts)
    components = tuple(ScoreComponent(key, label, weight, measured[key][0], measured[key][1])
                       for key, label, weight in PARTS)
    with_data = [component for component in components if component.value is not None]
    weight = sum(component.weight for component in with_data)
    if facts.considered_leads < MIN_LEADS:
        reason = (f"Not enough data: {facts.considered_leads} lead{'s' if facts.considered_leads != 1 else ''} "
                  f"to judge, the score needs at least {MIN_LEADS}.")
        return EfficiencyScore(None, components, FORMULA, reason)
    if weight < MIN_WEIGHT:
        reason = f"Not enough data: the parts with data weigh {weight} of 100, the score needs at least {MIN_WEIGHT}."
        return EfficiencyScore(None, components, FORMULA, reason)
    score = 100 * sum(component.weight * component.value for component in with_data) / weight
    return EfficiencyScore(round(score, 1), components, FORMULA)
