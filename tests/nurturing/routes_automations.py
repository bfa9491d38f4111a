"""Isolation cases for the automations routes (merged into tests/test_isolation.py's ROUTES).

Owners build automations (manage_nurturing); owners and agents, who use them (use_workflow_automation), read
the list, an automation and its runs."""

from brokerages.models import User
from nurturing.services.automations import automation_create

from ..conftest import Tenant
from ..isolation import AGENT, OWNER, Case

BUILDERS = frozenset({OWNER})
USERS = frozenset({OWNER, AGENT})


def automation(tenant: Tenant, member: User) -> dict:
    created = automation_create(brokerage=tenant.brokerage, actor=tenant.owner, name="Tag new leads",
                                trigger_conditions={"trigger": "lead_created"},
                                actions=[{"type": "add_tag", "tag": "new"}])
    return {"pk": created.pk}


ROUTES = {
    "nurturing:automations": [Case(USERS)],
    "nurturing:automation_new": [Case(BUILDERS, ("GET", "POST"))],
    "nurturing:automation_action_form": [Case(BUILDERS)],
    "nurturing:automation": [Case(USERS, objects=automation)],
    "nurturing:automation_edit": [Case(BUILDERS, ("GET", "POST"), objects=automation)],
    "nurturing:automation_toggle": [Case(BUILDERS, ("POST",), objects=automation)],
    "api-nurturing-automations": [Case(USERS, ("GET",), api=True), Case(BUILDERS, ("POST",), api=True)],
    "api-nurturing-automation": [Case(USERS, ("GET",), objects=automation, api=True),
                                 Case(BUILDERS, ("PATCH",), objects=automation, api=True)],
    "api-nurturing-automation-runs": [Case(USERS, ("GET",), objects=automation, api=True)],
}
