"""Who may work which lead: owners and support staff every lead of their brokerage (`manage_leads` on the
brokerage), an agent the leads they hold the guardian object permission `work_lead` on — granted to the assigned
agent by `lead_assign` and withdrawn when the lead moves to someone else."""

from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, remove_perm

from .models import Lead

LEAD_PERM = "nurturing.work_lead"


def can_work_lead(user, perms: frozenset[str], lead: Lead) -> bool:
    return "manage_leads" in perms or ("work_leads" in perms and user.has_perm(LEAD_PERM, lead))


def can_work_lead_of(user, perms: frozenset[str], record) -> bool:
    """A record that belongs to a lead (follow-up, enrolment, interaction) is workable when its lead is."""
    return can_work_lead(user, perms, record.lead)


def leads_visible_to(user, perms: frozenset[str], queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """`queryset` (already the brokerage's) narrowed to what the user may see."""
    if "manage_leads" in perms:
        return queryset
    if "work_leads" not in perms:
        return queryset.none()
    # The same rows guardian's get_objects_for_user(use_groups=False) gives, as a join on the direct-FK table
    # rather than its `pk IN (subquery)`: SQLite and PostgreSQL then start from the agent's permission rows
    # instead of walking every lead of the brokerage (measured in tests/bench/bench_leads.py).
    return queryset.filter(leaduserobjectpermission__user=user,
                           leaduserobjectpermission__permission__codename=LEAD_PERM.split(".")[1])


def lead_holder_set(lead: Lead, previous, agent) -> None:
    """Move the lead's object permission from the previous assigned agent to the new one."""
    if previous is not None and previous != agent:
        remove_perm(LEAD_PERM, previous, lead)
    if agent is not None:
        assign_perm(LEAD_PERM, agent, lead)


def on_visible_leads(queryset: QuerySet, user, perms: frozenset[str], brokerage) -> QuerySet:
    """`queryset` (rows with a `lead`, already the brokerage's) narrowed to the leads the user may see."""
    if "manage_leads" in perms:
        return queryset
    visible = leads_visible_to(user, perms, Lead.objects.filter(brokerage=brokerage))
    return queryset.filter(lead__in=visible.values("pk"))
