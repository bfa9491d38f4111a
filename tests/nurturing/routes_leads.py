"""Isolation cases for the lead pages and the leads API."""

from nurturing.models import Lead
from nurturing.services.leads import interaction_log
from tests.factories import make_lead
from tests.isolation import EVERYONE, MANAGERS, Case


def held_lead(tenant, member) -> dict:
    """A lead the member may work: theirs when they are an agent (owners and support see every lead)."""
    agent = member if member.role == "agent" else tenant.agent
    return {"pk": make_lead(tenant.brokerage, agent=agent).pk}


def held_interaction(tenant, member) -> dict:
    lead = Lead.objects.get(pk=held_lead(tenant, member)["pk"])
    return {"pk": interaction_log(brokerage=tenant.brokerage, actor=None, lead=lead, channel="call",
                                  summary="Intro call").pk}


INTERACTION = {"channel": "call", "direction": "outbound", "summary": "Called about the viewing"}

ROUTES: dict = {
    "nurturing:leads": [Case(EVERYONE)],
    "nurturing:lead_new": [Case(EVERYONE, ("GET", "POST"), data={"name": "Sara Ali", "source": "website",
                                                                  "priority": "medium"})],
    "nurturing:lead": [Case(EVERYONE, objects=held_lead)],
    "nurturing:lead_edit": [Case(EVERYONE, ("GET", "POST"), objects=held_lead,
                                 data={"name": "Sara Ali", "source": "website", "priority": "high"})],
    "nurturing:lead_log_interaction": [Case(EVERYONE, ("POST",), objects=held_lead, data=INTERACTION)],
    "nurturing:lead_change_stage": [Case(EVERYONE, ("POST",), objects=held_lead, data={"stage": "qualified"})],
    "nurturing:lead_assign": [Case(MANAGERS, ("POST",), objects=held_lead, data={"agent": ""})],
    "nurturing:lead_contact_preferences": [Case(EVERYONE, ("POST",), objects=held_lead,
                                                data={"do_not_contact": "on"})],
    "api-nurturing-leads": [Case(EVERYONE, ("GET", "POST"), api=True)],
    "api-nurturing-lead": [Case(EVERYONE, ("GET", "PATCH"), objects=held_lead, api=True)],
    "api-nurturing-lead-stage": [Case(EVERYONE, ("POST",), objects=held_lead, api=True)],
    "api-nurturing-lead-assign": [Case(MANAGERS, ("POST",), objects=held_lead, api=True)],
    "api-nurturing-lead-contact-preferences": [Case(EVERYONE, ("POST",), objects=held_lead, api=True)],
    "api-nurturing-lead-interactions": [Case(EVERYONE, ("GET", "POST"), objects=held_lead, api=True)],
    "api-nurturing-interaction": [Case(EVERYONE, ("GET", "PATCH", "DELETE"), objects=held_interaction, api=True)],
}
