"""Reads of workflow automations: the list, one automation, its run log as a member may see it, and the names
its actions refer to; and the brokerage's inbound lead webhook, whose leads set the automations off."""

from django.db.models import Count, Max, QuerySet
from django.shortcuts import get_object_or_404

from brokerages.models import Brokerage, Role, User

from ..models import AutomationRun, LeadWebhook, NurturingSequence, WorkflowAutomation
from ..permissions import on_visible_leads


def automation_get(brokerage: Brokerage, pk: int) -> WorkflowAutomation:
    return get_object_or_404(WorkflowAutomation.objects.select_related("created_by", "last_assigned_agent"),
                             brokerage=brokerage, pk=pk)


def automations(brokerage: Brokerage) -> QuerySet[WorkflowAutomation]:
    """Every automation of the brokerage by name, with `last_run_at` and `run_count`."""
    return WorkflowAutomation.objects.filter(brokerage=brokerage).annotate(
        last_run_at=Max("runs__created_at"), run_count=Count("runs")).order_by("name")


def automation_runs(brokerage: Brokerage, automation: WorkflowAutomation, user: User,
                    perms: frozenset[str]) -> QuerySet[AutomationRun]:
    """The automation's runs on leads the user may see (every run for lead managers), newest first."""
    queryset = on_visible_leads(AutomationRun.objects.filter(brokerage=brokerage, automation=automation),
                                user, perms, brokerage)
    return queryset.select_related("lead").order_by("-created_at", "-pk")


def action_names(brokerage: Brokerage, automations: list[WorkflowAutomation]) -> dict[str, dict[int, str]]:
    """The names of the sequences and agents the automations' actions name (two queries for any number)."""
    sequence_ids, agent_ids = set(), set()
    for automation in automations:
        for action in automation.actions:
            if action.get("type") == "enrol_in_sequence":
                sequence_ids.add(action["sequence_id"])
            if action.get("type") == "assign_agent" and isinstance(action.get("agent_id"), int):
                agent_ids.add(action["agent_id"])
    sequences = dict(NurturingSequence.objects.filter(brokerage=brokerage, pk__in=sequence_ids).values_list(
        "pk", "name")) if sequence_ids else {}
    agents = {agent.pk: agent.display_name for agent in User.objects.filter(brokerage=brokerage, pk__in=agent_ids)
              } if agent_ids else {}
    return {"sequences": sequences, "agents": agents}


def round_robin_agents(brokerage: Brokerage | int) -> QuerySet[User]:
    """Whom round robin shares leads between: the brokerage's active agents, in a stable order."""
    return User.objects.filter(brokerage=brokerage, is_active=True, role=Role.AGENT).order_by("pk")


def lead_webhook_of(brokerage: Brokerage) -> LeadWebhook | None:
    return LeadWebhook.objects.filter(brokerage=brokerage).first()
