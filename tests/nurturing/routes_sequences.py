"""Isolation cases for the sequences routes (merged into tests/test_isolation.py's ROUTES).

Owners build sequences (manage_nurturing); owners and agents enrol leads and steer enrolments
(use_workflow_automation) on leads they work; every member reads sequences through the API (work_leads)."""

from brokerages.models import Role, User
from nurturing.services.sequences import enrollment_enrol, sequence_create

from ..conftest import Tenant
from ..factories import make_lead
from ..isolation import AGENT, EVERYONE, OWNER, Case

BUILDERS = frozenset({OWNER})
ENROLLERS = frozenset({OWNER, AGENT})
STEPS = [{"delay_days": 0, "channel": "email", "subject": "Welcome", "body": "Hello {{ first_name }}"},
         {"delay_days": 3, "channel": "whatsapp", "instruction": "Offer a viewing in their areas."}]


def _sequence(tenant: Tenant):
    return sequence_create(brokerage=tenant.brokerage, actor=tenant.owner, name="Welcome", sequence_type="new_lead",
                           steps=STEPS)


def _lead(tenant: Tenant, member: User):
    """A lead the member works: an agent's own; for the other roles, the tenant's agent's."""
    return make_lead(tenant.brokerage, agent=member if member.role == Role.AGENT else tenant.agent)


def sequence(tenant: Tenant, member: User) -> dict:
    return {"pk": _sequence(tenant).pk}


def lead(tenant: Tenant, member: User) -> dict:
    return {"pk": _lead(tenant, member).pk}


def enrollment(tenant: Tenant, member: User) -> dict:
    enrolled = enrollment_enrol(brokerage=tenant.brokerage, actor=tenant.owner, lead=_lead(tenant, member),
                                sequence=_sequence(tenant))
    return {"pk": enrolled.pk}


ROUTES = {
    "nurturing:sequences": [Case(ENROLLERS)],
    "nurturing:sequence_new": [Case(BUILDERS, ("GET", "POST"))],
    "nurturing:sequence": [Case(ENROLLERS, objects=sequence)],
    "nurturing:sequence_edit": [Case(BUILDERS, ("GET", "POST"), objects=sequence)],
    "nurturing:sequence_toggle": [Case(BUILDERS, ("POST",), objects=sequence)],
    "nurturing:sequence_enrol": [Case(ENROLLERS, ("POST",), objects=sequence)],
    "nurturing:lead_enrol": [Case(ENROLLERS, ("POST",), objects=lead)],
    "nurturing:enrollment_pause": [Case(ENROLLERS, ("POST",), objects=enrollment)],
    "nurturing:enrollment_resume": [Case(ENROLLERS, ("POST",), objects=enrollment)],
    "nurturing:enrollment_stop": [Case(ENROLLERS, ("POST",), objects=enrollment)],
    "api-nurturing-sequences": [Case(EVERYONE, ("GET",), api=True), Case(BUILDERS, ("POST",), api=True)],
    "api-nurturing-sequence": [Case(EVERYONE, ("GET",), objects=sequence, api=True),
                               Case(BUILDERS, ("PATCH",), objects=sequence, api=True)],
    "api-nurturing-sequence-enrollments": [Case(EVERYONE, ("GET",), objects=sequence, api=True),
                                           Case(ENROLLERS, ("POST",), objects=sequence, api=True)],
    "api-nurturing-enrollment-action": [
        Case(ENROLLERS, ("POST",), objects=enrollment, kwargs={"action": action}, api=True, label=action)
        for action in ("pause", "resume", "stop")],
}
