"""Who may work which lead: owners and support staff every lead of their brokerage (`manage_leads` on the
brokerage), an agent the leads they hold the guardian object permission `work_lead` on — granted to the assigned
agent by `lead_assign` and withdrawn when the lead moves to someone else."""

from django.db.models import QuerySet
from guardian.shortcuts import assign_perm, get_objects_for_user, remove_perm

from .models import Lead

LEAD_PERM = "nurturing.work_lead"


def can_work_lead(user, perms: frozenset[str], lead: Lead) -> bool:
    return "manage_leads" in perms or ("work_leads" in perms and user.has_perm(LEAD_PERM, lead))


def leads_visible_to(user, perms: frozenset[str], queryset: QuerySet[Lead]) -> QuerySet[Lead]:
    """`queryset` (already the brokerage's) narrowed to what the user may see."""
    if "manage_leads" in perms:
        return queryset
    if "work_leads" not in perms:
        return queryset.none()
    return get_objects_for_user(user, LEAD_PERM, klass=queryset, use_groups=False, with_superuser=False,
                                accept_global_perms=False)


def lead_holder_set(lead: Lead, previous, agent) -> None:
    """Move the lead's object permission from the previous assigned agent to the new one."""
    if previous is not None and previous != agent:
        remove_perm(LEAD_PERM, previous, lead)
    if agent is not None:
        assign_perm(LEAD_PERM, agent, lead)
