"""Who may see and act on coaching records.

Two brokerage permissions (see `brokerages.permissions.ROLE_PERMISSIONS`): `use_coaching` — the member is coached
on their own conversations (owners and agents) — and `manage_coaching` — the member coaches the team: every
agent's conversations, sessions, alerts, profile and plan (owners and support staff). Every coaching record
carries the agent it is about (`agent_id`), which is what the object-level checks compare.
"""

from django.db.models import QuerySet

COACHING_PERMS = frozenset({"use_coaching", "manage_coaching"})
# Only a manager may put an agent on CRITICAL: it escalates every finding to the managers themselves.
AGENT_INTENSITIES = ("LIGHT_TOUCH", "MODERATE", "INTENSIVE")


def is_coach(perms: frozenset[str]) -> bool:
    return "manage_coaching" in perms


def uses_coaching(perms: frozenset[str]) -> bool:
    """Coached, coaching, or both: anyone who has a reason to open the coaching pages."""
    return bool(perms & COACHING_PERMS)


def can_coach(user, perms: frozenset[str], obj) -> bool:
    """A record about an agent (conversation, session, alert, plan): managers all of them, an agent their own."""
    return is_coach(perms) or ("use_coaching" in perms and obj.agent_id == user.pk)


def can_coach_agent(user, perms: frozenset[str], agent) -> bool:
    """An agent's profile and plan: managers every agent's, an agent their own."""
    return is_coach(perms) or ("use_coaching" in perms and agent.pk == user.pk)


def can_update_plan_item(user, perms: frozenset[str], item) -> bool:
    return can_coach(user, perms, item.plan)


def can_acknowledge(user, perms: frozenset[str], alert) -> bool:
    """An alert is advice to its agent; only they can say they have seen it (managers read, never dismiss)."""
    return "use_coaching" in perms and alert.agent_id == user.pk


def visible_to(user, perms: frozenset[str], queryset: QuerySet) -> QuerySet:
    """`queryset` (rows with an `agent`, already the brokerage's) narrowed to what the user may see."""
    if is_coach(perms):
        return queryset
    if "use_coaching" in perms:
        return queryset.filter(agent=user)
    return queryset.none()
