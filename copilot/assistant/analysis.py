"""The Agentic Assistant's workflow analysis: what to fix first in an agent's work, from their own data.

`analyze_workflow` measures the agent's workload (`facts`), turns each finding into a recommendation with the
fact behind it and the page that fixes it, offers the automations that do the busywork (`opportunities`), and
scores the whole (`score`). It is deterministic and writes nothing but the cached performance profile it reads;
nothing is drafted or sent until the agent runs an automation.
"""

import datetime as dt
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse
from django.utils import timezone

from brokerages.models import Brokerage, User
from brokerages.selectors import team_member_get

from .facts import MESSAGES_WINDOW_DAYS, VIEWING_GRACE_DAYS, waited, workflow_facts
from .opportunities import automation_opportunities
from .repetition import TYPING_WORDS_PER_MINUTE
from .score import efficiency_score
from .types import AssistantAnalysis, Recommendation, WorkflowFacts

ANALYSIS_TYPES: dict[str, str] = {"workflow_efficiency": "Workflow efficiency"}
# Who may analyse another member's workflow (owners; support staff hold it too but not the assistant itself).
ANALYSE_OTHERS_PERM = "view_team_performance"
PRIORITIES = ("high", "medium", "low")
# A first response slower than this many times the target is a high-priority finding.
SLOW_RESPONSE_FACTOR = 4
OVERDUE_HIGH_DAYS = 3
GONE_QUIET_HIGH_LEADS = 5
WEAK_AREA_SCORE = 60.0


def analysis_subject(*, brokerage: Brokerage, actor: User, perms: frozenset[str], agent_id: int | None = None
                     ) -> User:
    """Whose workflow `actor` asks about: their own, or — holding ANALYSE_OTHERS_PERM — another member's of the
    brokerage. Another brokerage's member (or no member) answers 404 (Http404), whatever the actor's role; a
    colleague without the permission, 403 (PermissionDenied)."""
    if agent_id is None or agent_id == actor.pk:
        return actor
    subject = team_member_get(brokerage, agent_id)
    if ANALYSE_OTHERS_PERM not in perms:
        raise PermissionDenied("You can analyse your own workflow only.")
    return subject


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


@dataclass(frozen=True)
class _Links:
    """The pages that fix each finding. When a manager looks at an agent's work, lists are filtered to that
    agent and coaching opens the agent's page."""

    agent_id: int
    own: bool

    def _with(self, name: str, **query) -> str:
        if not self.own:
            query["agent"] = self.agent_id
        query = {key: value for key, value in query.items() if value}
        return reverse(name) + (f"?{urlencode(query)}" if query else "")

    def leads(self, stage: str = "") -> str:
        return self._with("nurturing:leads", stage=stage)

    def followups(self) -> str:
        return self._with("nurturing:followups")

    def coaching(self) -> str:
        return reverse("coaching:training") if self.own else reverse("coaching:agent", kwargs={"pk": self.agent_id})

    def page(self, name: str) -> str:
        return reverse(name)


def _contact(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    found = []
    waiting, quiet, target = facts.waiting_first_contact, facts.gone_quiet, facts.response_target_minutes
    if waiting.count:
        drafted = waiting.count - len(waiting.draftable_ids)
        found.append(Recommendation(
            "waiting_first_contact", "high", f"Contact the {_plural(waiting.count, 'new lead')} nobody has reached yet",
            f"{_plural(waiting.count, 'open lead')} had no contact since arriving; the oldest has waited "
            f"{waited(waiting.longest_minutes)} (target: first contact within {target} min)"
            + (f"; {drafted} already {'has' if drafted == 1 else 'have'} a draft in the queue." if drafted else "."),
            "Call or message them now: the longer a new lead waits, the colder it gets.",
            links.leads(), "Open the leads", waiting.examples))
    if quiet.count:
        days = facts.forgotten_lead_days
        drafted = quiet.count - len(quiet.draftable_ids)
        high = quiet.count >= GONE_QUIET_HIGH_LEADS or quiet.longest_minutes >= 2 * days * 24 * 60
        found.append(Recommendation(
            "gone_quiet", "high" if high else "medium",
            f"Follow up the {_plural(quiet.count, 'lead')} untouched for {days}+ days",
            f"{_plural(quiet.count, 'open lead')} {'was' if quiet.count == 1 else 'were'} last contacted {days} or more "
            f"days ago (longest: {waited(quiet.longest_minutes)})"
            + (f"; {drafted} already {'has' if drafted == 1 else 'have'} a draft in the queue." if drafted else "."),
            "Send each a short, personal check-in; the assistant can draft them for you to review.",
            links.followups(), "Open the follow-up queue", quiet.examples))
    return found


def _followups(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    found, counts = [], facts.followups
    if counts.overdue:
        found.append(Recommendation(
            "followups_overdue", "high" if counts.oldest_overdue_days >= OVERDUE_HIGH_DAYS else "medium",
            f"Review {_plural(counts.overdue, 'overdue follow-up draft')}",
            f"{_plural(counts.overdue, 'draft')} {'was' if counts.overdue == 1 else 'were'} suggested for an earlier "
            f"day; the oldest is {_plural(counts.oldest_overdue_days, 'day')} overdue.",
            "Approve, edit or dismiss each one: a draft nobody sends helps no lead.",
            links.followups(), "Open the follow-up queue"))
    waiting = [text for count, text in (
        (counts.due_today, f"{_plural(counts.due_today, 'draft')} due today"),
        (counts.calls, f"{_plural(counts.calls, 'approved call')} to make"),
        (counts.failed, f"{_plural(counts.failed, 'message')} that failed to send")) if count]
    if waiting:
        found.append(Recommendation(
            "followups_pending", "low", "Clear today's follow-up queue", "Waiting for you: " + ", ".join(waiting) + ".",
            "Work through the queue once in the morning and once after lunch.", links.followups(),
            "Open the follow-up queue"))
    return found


def _response(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    response, target = facts.response, facts.response_target_minutes
    if not response.received or response.within_target == response.received:
        return []
    late = response.answered - response.within_target
    parts = [f"{response.within_target} within {target} min", f"{late} later"] + (
        [f"{response.unanswered} not yet"] if response.unanswered else [])
    median = response.median_minutes
    slow = median is None or median > SLOW_RESPONSE_FACTOR * target or response.within_target * 2 < response.received
    title = (f"Answer new leads faster: median first response {waited(median)} against the {target}-minute target"
             if median is not None else f"Answer new leads within {target} minutes")
    return [Recommendation(
        "response_time", "high" if slow else "medium", title,
        f"Of the {_plural(response.received, 'lead')} received in the last {facts.window_days} days: "
        + ", ".join(parts) + "." + (f" Median first response: {waited(median)}." if median is not None else ""),
        "Answer new leads first thing, or let an automation draft the first message the moment they arrive.",
        links.page("nurturing:automations"), "Open the automations")]


def _pipeline(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    found = []
    viewings = facts.viewings_without_next_step
    if viewings.count:
        found.append(Recommendation(
            "viewing_no_next_step", "high", f"Agree a next step with the {_plural(viewings.count, 'lead')} who viewed",
            f"{_plural(viewings.count, 'lead')} {'has' if viewings.count == 1 else 'have'} been at the viewing stage "
            f"for {VIEWING_GRACE_DAYS}+ days with no contact since and no follow-up planned.",
            "Ask how the viewing went and propose a second viewing or an offer while they are warm.",
            links.leads("viewing"), "Open the leads at the viewing stage", viewings.examples))
    if facts.stuck:
        worst = max(facts.stuck, key=lambda stage: stage.leads.count)
        found.append(Recommendation(
            "stuck", "medium", f"Move on the {_plural(facts.stuck_count, 'lead')} stuck in their stage",
            "; ".join(f"{stage.label}: {stage.leads.count} for more than {stage.limit_days} days (longest "
                      f"{waited(stage.leads.longest_minutes)})" for stage in facts.stuck) + ".",
            "Move each to its next stage, nudge it with a clear next step, or close it as lost with the reason.",
            links.leads(worst.stage), f"Open the leads at the {worst.label.lower()} stage",
            tuple(example for stage in facts.stuck for example in stage.leads.examples)[:3]))
    return found


def _repetition(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    if not facts.repeated_messages:
        return []
    top, others = facts.repeated_messages[0], len(facts.repeated_messages) - 1
    return [Recommendation(
        "repeated_messages", "low", f"Turn a message you typed {top.times} times into a template",
        f"“{top.example}” — typed {top.times} times to {_plural(top.leads, 'lead')} in the last {MESSAGES_WINDOW_DAYS}"
        f" days: about {top.minutes_typing:g} minutes of typing ({top.times} × {top.words} words at "
        f"{TYPING_WORDS_PER_MINUTE} words a minute)"
        + (f"; {_plural(others, 'other message')} typed 3+ times too." if others else "."),
        "A template or a sequence step would save that typing: the assistant then drafts it, personalised, for "
        "you to approve.", links.page("nurturing:sequences"), "Open the sequences")]


def _coaching(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    coaching = facts.coaching
    if not coaching.weak_spots:
        return []
    worst = coaching.weak_spots[0]
    areas = ", ".join(f"{spot.label} {spot.score:g}" + (f" (team {spot.team_mean:g})" if spot.team_mean is not None
                                                         else "") for spot in coaching.weak_spots)
    return [Recommendation(
        "coaching_weak_spot", "medium" if worst.score < WEAK_AREA_SCORE else "low",
        f"Work on {worst.label.lower()} ({worst.score:g}/100)",
        f"Lowest-scoring areas over {_plural(coaching.scored_conversations, 'scored conversation')} in the last "
        f"{facts.window_days} days: {areas}; target {worst.target:g}.",
        "Take the training module for it, and ask the mentor for the brokerage's scripts before your next calls.",
        links.coaching(), "Open the training plan")]


def _listings(facts: WorkflowFacts, links: _Links) -> list[Recommendation]:
    listings = facts.listings_without_description
    if not listings:
        return []
    names = ", ".join(f"“{listing.title}”" for listing in listings)
    url, label = (listings[0].url, "Open the listing") if len(listings) == 1 else (
        links.page("nurturing:listings") + ("?mine=on" if links.own else ""), "Open the listings")
    return [Recommendation(
        "listings_without_description", "medium",
        f"Write descriptions for {len(listings)}{'+' if facts.more_listings_without_description else ''} "
        f"listing{'s' if len(listings) > 1 else ''}",
        f"No description yet: {names}{', and more' if facts.more_listings_without_description else ''}.",
        "Let the assistant draft each from the listing's facts in the brokerage's voice, then check and approve it.",
        url, label)]


def _recommendations(facts: WorkflowFacts, links: _Links) -> tuple[Recommendation, ...]:
    found = (_contact(facts, links) + _pipeline(facts, links) + _followups(facts, links) + _response(facts, links)
             + _listings(facts, links) + _coaching(facts, links) + _repetition(facts, links))
    # Stable: within a priority, the order above (leads waiting first, then pipeline, queue, speed, …).
    return tuple(sorted(found, key=lambda recommendation: PRIORITIES.index(recommendation.priority)))


def analyze_workflow(*, brokerage: Brokerage, agent: User, analysis_type: str = "workflow_efficiency",
                     now: dt.datetime | None = None, viewer: User | None = None) -> AssistantAnalysis:
    """The seed's `analyze_workflow` for `agent` (a member of `brokerage`) at `now`. `viewer` is who reads it
    (the agent unless a manager looks): it decides where the links go and whom the weekly report names.

    Raises ValidationError naming the known types when `analysis_type` is unknown. A fixed number of queries
    whatever the agent's number of leads (see `facts.workflow_facts`)."""
    if analysis_type not in ANALYSIS_TYPES:
        raise ValidationError({"analysis_type": f"Unknown analysis type “{analysis_type}”. Known types: "
                                                f"{', '.join(ANALYSIS_TYPES)}."})
    if agent.brokerage_id != brokerage.pk:
        raise ValueError("The agent is not a member of this brokerage.")
    now = now or timezone.now()
    own = viewer is None or viewer.pk == agent.pk
    facts = workflow_facts(brokerage=brokerage, agent=agent, now=now)
    score = efficiency_score(facts)
    return AssistantAnalysis(
        analysis_type=analysis_type, agent_id=agent.pk, agent_name=agent.display_name, generated_at=now,
        recommendations=_recommendations(facts, _Links(agent.pk, own)),
        automation_opportunities=automation_opportunities(facts, agent_id=agent.pk, own=own),
        efficiency_score=score.score, score=score, facts=facts)

