"""Automation opportunities: the findings the assistant can act on, as runnable automations with their parameters.

Contract with the automation runner (`POST /api/copilot/assistant/automate`, the page's buttons):
- `lead_followup` — `{"lead_ids": [...], "reason": <a key of LEAD_FOLLOWUP_REASONS>}`: draft one follow-up per
  lead for the agent to review; `LEAD_FOLLOWUP_REASONS` says which follow-up reason the draft is filed under and
  what the drafting engine is asked to write. Each lead is in at most one opportunity, at most
  MAX_LEADS_PER_RUN of them, the longest-waiting first, and only leads that may be contacted and have no draft
  waiting (a lead the sweep already drafted for is reviewed in the queue, not drafted twice);
- `report_creation` — `{"report": "agent_weekly"}` (plus `"agent_id"` when a manager looks at an agent's work);
- `content_generation` — `{"listing_id": ..., "content_type": "listing_description"}` for the agent's listings
  that have no description yet.
"""

from dataclasses import dataclass

from nurturing.models import FollowUp

from .types import AutomationOpportunity, WorkflowFacts

MAX_LEADS_PER_RUN = 50


@dataclass(frozen=True)
class FollowupReason:
    followup_reason: str  # the FollowUp.Reason the draft is filed under
    instruction: str  # the brief for the drafting engine ("" : the reason's own template)


LEAD_FOLLOWUP_REASONS: dict[str, FollowupReason] = {
    "forgotten": FollowupReason(FollowUp.Reason.FORGOTTEN_LEAD, ""),
    "viewing_next_step": FollowupReason(
        FollowUp.Reason.AUTOMATION,
        "The lead viewed a property and has heard nothing since. Ask how the viewing went and propose one "
        "concrete next step: a second viewing, similar properties, or talking through an offer."),
    "stuck": FollowupReason(
        FollowUp.Reason.AUTOMATION,
        "The lead has been at the same stage for weeks. Check in briefly, ask whether their plans changed, and "
        "propose the one next step that moves things forward."),
}


def _leads(count: int) -> str:
    return f"{count} lead{'s' if count != 1 else ''}"


def _followup(group_ids: tuple[int, ...], taken: set[int], reason: str, label: str, finding: str
              ) -> AutomationOpportunity | None:
    """One follow-up run for the group's leads not in another run yet; `label` names them as {leads}."""
    available = [pk for pk in group_ids if pk not in taken]
    if not available:
        return None
    ids = available[:MAX_LEADS_PER_RUN]
    taken.update(ids)
    leads = (f"the {len(ids)} longest-waiting of the {len(available)} leads" if len(available) > len(ids)
             else f"the {_leads(len(ids))}")
    return AutomationOpportunity("lead_followup", label.format(leads=leads), {"lead_ids": ids, "reason": reason},
                                 finding)


def automation_opportunities(facts: WorkflowFacts, *, agent_id: int, own: bool) -> tuple[AutomationOpportunity, ...]:
    """The runnable automations for the findings in `facts`, the warmest leads first (`own`: the agent looks at
    their own work; otherwise the report names the agent)."""
    taken: set[int] = set()
    candidates = [
        _followup(facts.viewings_without_next_step.draftable_ids, taken, "viewing_next_step",
                  "Draft next-step messages for {leads} who viewed and heard nothing since", "viewing_no_next_step"),
        _followup(facts.waiting_first_contact.draftable_ids, taken, "forgotten",
                  "Draft first messages for {leads} nobody has contacted yet", "waiting_first_contact"),
        _followup(facts.gone_quiet.draftable_ids, taken, "forgotten",
                  f"Draft follow-ups for {{leads}} untouched for {facts.forgotten_lead_days}+ days", "gone_quiet"),
        _followup(tuple(pk for stage in facts.stuck for pk in stage.leads.draftable_ids), taken, "stuck",
                  "Draft nudges for {leads} stuck in their stage", "stuck"),
    ]
    found = [candidate for candidate in candidates if candidate is not None]
    found += [AutomationOpportunity("content_generation", f"Write a description for “{listing.title}”",
                                    {"listing_id": listing.id, "content_type": "listing_description"},
                                    "listings_without_description")
              for listing in facts.listings_without_description]
    if facts.considered_leads:
        found.append(AutomationOpportunity(
            "report_creation", "Create the weekly report (PDF)" if own else "Create this agent's weekly report (PDF)",
            {"report": "agent_weekly"} if own else {"report": "agent_weekly", "agent_id": agent_id}, ""))
    return tuple(found)
