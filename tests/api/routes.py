"""Isolation cases for the API routes added for integrators (merged into tests/test_isolation.py's ROUTES)."""

from tests.coaching.routes import _own_and_colleagues, _plan_item, coached, colleague
from tests.isolation import EVERYONE, MANAGERS, Case
from tests.nurturing.routes_followups import held_call, held_lead


def own_plan(tenant, member) -> dict:
    return {"pk": _plan_item(coached(tenant, member)).plan_id}


def colleagues_plan(tenant, member) -> dict:
    return {"pk": _plan_item(colleague(tenant, member)).plan_id}


ROUTES: dict = {
    "api-brokerage-knowledge-base": [Case(MANAGERS, ("POST",), api=True)],
    "api-nurturing-interactions": [Case(EVERYONE, ("GET",), api=True)],
    "api-nurturing-lead-followups": [Case(EVERYONE, ("POST",), objects=held_lead, api=True)],
    "api-nurturing-followup-called": [Case(EVERYONE, ("POST",), objects=held_call, api=True)],
    "api-coaching-training-modules": [Case(EVERYONE, ("GET",), api=True)],
    "api-coaching-training-plans": [Case(EVERYONE, ("GET",), api=True)],
    "api-coaching-training-plan": _own_and_colleagues(own_plan, colleagues_plan, api=True),
    # Any other address under /api/ answers the JSON 404 to everyone, so no role case applies; its own
    # tests are in tests/api/test_routes.py.
    "api-not-found": [Case(EVERYONE, (), api=True, label="unknown address")],
}
