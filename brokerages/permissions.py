"""Which role may do what, and how that is granted.

The access rules of the seed's RBAC section are object permissions on the `Brokerage`, held by one group per
brokerage and role. A user's permissions therefore follow their role: changing the role moves the user to
another group (`role_group_join`). Later apps add their codenames to `ROLE_PERMISSIONS`; `role_permissions_sync`
(run after every migrate) brings every brokerage's groups up to date.
"""

from django.contrib.auth.models import Group
from django.core.exceptions import PermissionDenied
from guardian.shortcuts import assign_perm, get_perms, remove_perm

from .models import Brokerage, BrokerageGroupObjectPermission, BrokerageUserObjectPermission, Role

# brokerage_management: owner (and system admins, who are superusers in the admin)
# team_performance: owner, support staff
# knowledge_base: owner, agent, support staff (reading and the mentor); owner and support staff write it
# workflow_automation: owner, agent (agents enrol their leads; owners build sequences and automations)
# leads: owners and support staff see and assign every lead; an agent works the leads they hold `work_lead` on
# coaching: owners and agents are coached on their own conversations; owners and support staff coach the team
# (start sessions, receive escalations, read every agent's conversations, profile and plan)
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.BROKERAGE_OWNER: frozenset(
        {"view_brokerage", "manage_brokerage", "view_team_performance", "view_knowledge_base",
         "manage_knowledge_base", "use_workflow_automation", "view_audit_log", "work_leads", "manage_leads",
         "manage_nurturing", "use_coaching", "manage_coaching"}
    ),
    Role.AGENT: frozenset(
        {"view_brokerage", "view_knowledge_base", "use_workflow_automation", "work_leads", "use_coaching"}
    ),
    Role.SUPPORT_STAFF: frozenset(
        {"view_brokerage", "view_team_performance", "view_knowledge_base", "manage_knowledge_base", "work_leads",
         "manage_leads", "manage_coaching"}
    ),
}
TENANT_ROLES = tuple(ROLE_PERMISSIONS)


def role_group_name(brokerage: Brokerage, role: str) -> str:
    return f"brokerage-{brokerage.pk}-{role}"


def role_groups_sync(brokerage: Brokerage) -> dict[str, Group]:
    """Make the brokerage's role groups hold exactly the permissions of `ROLE_PERMISSIONS`."""
    groups = {}
    for role, codenames in ROLE_PERMISSIONS.items():
        group, _ = Group.objects.get_or_create(name=role_group_name(brokerage, role))
        held = set(get_perms(group, brokerage))
        for codename in codenames - held:
            assign_perm(f"brokerages.{codename}", group, brokerage)
        for codename in held - codenames:
            remove_perm(f"brokerages.{codename}", group, brokerage)
        groups[role] = group
    return groups


def role_permissions_sync() -> None:
    for brokerage in Brokerage.objects.all():
        role_groups_sync(brokerage)


def role_group_join(user) -> None:
    """Put the user in their brokerage's group for their role and in no other role group of any brokerage
    (a member moved to another brokerage keeps nothing of the old one)."""
    target = None
    if user.brokerage_id is not None and user.role in ROLE_PERMISSIONS:
        target = Group.objects.get(name=role_group_name(user.brokerage, user.role))
    user.groups.remove(*user.groups.filter(name__startswith="brokerage-").exclude(pk=getattr(target, "pk", None)))
    if target is not None:
        user.groups.add(target)


def brokerage_perms(user, brokerage: Brokerage) -> frozenset[str]:
    """The user's codenames on the brokerage, as guardian's `get_perms` answers them, in one query instead of
    guardian's two (it runs on every API call, the live coaching path included; cache per request with
    `request_perms`)."""
    if not user.is_authenticated or not user.is_active or brokerage is None:
        return frozenset()
    if user.is_superuser:
        return frozenset(get_perms(user, brokerage))
    held = BrokerageUserObjectPermission.objects.filter(user=user, content_object=brokerage)
    through_groups = BrokerageGroupObjectPermission.objects.filter(group__user=user, content_object=brokerage)
    return frozenset(held.values_list("permission__codename", flat=True).union(
        through_groups.values_list("permission__codename", flat=True)))


def request_perms(request) -> frozenset[str]:
    if not hasattr(request, "_brokerage_perms"):
        request._brokerage_perms = brokerage_perms(request.user, getattr(request, "brokerage", None))
    return request._brokerage_perms


def require_perm(request, codename: str) -> None:
    if codename not in request_perms(request):
        raise PermissionDenied("Your role does not allow this.")
