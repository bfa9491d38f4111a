"""What an isolation case is: shared by tests/test_isolation.py and the per-app case modules."""

from dataclasses import dataclass, field
from typing import Callable

from brokerages.models import Role, User

from .conftest import Tenant

OWNER, AGENT, SUPPORT = Role.BROKERAGE_OWNER, Role.AGENT, Role.SUPPORT_STAFF
EVERYONE = frozenset({OWNER, AGENT, SUPPORT})
MANAGERS = frozenset({OWNER, SUPPORT})
PUBLIC = frozenset({"public"})
# Routes a server calls without a user, proving itself with a signature over the body (the inbound lead webhook).
SIGNED = frozenset({"signed"})



@dataclass(frozen=True)
class Case:
    """One way to call a route: with `methods`, allowed to `roles`; URL arguments are fixed (`kwargs`) or name
    objects of a tenant (`objects(tenant, member)`, where member is who the object belongs to when that matters:
    the caller, or for an intruder the victim's member of the same role)."""

    roles: frozenset
    methods: tuple[str, ...] = ("GET",)
    objects: Callable[[Tenant, User], dict] | None = None
    kwargs: dict = field(default_factory=dict)
    api: bool = False
    label: str = ""
    data: dict = field(default_factory=dict)
