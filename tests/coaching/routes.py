"""Isolation cases for every coaching page and API route.

Owners and agents are coached on their own conversations (`use_coaching`); owners and support staff coach the
team (`manage_coaching`). So a record of the caller's own (or, for support staff, who have none, the agent's) is
open to every role, and a record of *another* agent of the same brokerage only to the managers: the cases
labelled "another agent's" prove an agent gets 403 on a colleague's conversation, session, alert or profile.
"""

import datetime as dt

from django.utils import timezone

from brokerages.models import Role
from coaching.models import CoachingAlert, CoachingSession, TrainingModule, TrainingPlan, TrainingPlanItem
from tests.factories import UserFactory, make_conversation
from tests.isolation import AGENT, EVERYONE, MANAGERS, OWNER, Case

COACHED = frozenset({OWNER, AGENT})
NOBODY = frozenset()
MESSAGES = [("lead", "Hi, is the JVC apartment still available?"), ("agent", "Hello! Yes, it is.")]


def coached(tenant, member):
    """The member when they are coached; support staff, who are not, act on the tenant's agent."""
    return member if member.role in (Role.AGENT, Role.BROKERAGE_OWNER) else tenant.agent


def colleague(tenant, member):
    """Another agent of the same brokerage."""
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)


def _conversation(agent):
    return make_conversation(agent.brokerage, agent, MESSAGES, ended=False)


def own_conversation(tenant, member) -> dict:
    return {"pk": _conversation(coached(tenant, member)).pk}


def colleagues_conversation(tenant, member) -> dict:
    return {"pk": _conversation(colleague(tenant, member)).pk}


def _session(agent, started_by):
    return CoachingSession.objects.create(brokerage=agent.brokerage, agent=agent, started_by=started_by)


def own_session(tenant, member) -> dict:
    agent = coached(tenant, member)
    return {"pk": _session(agent, started_by=member).pk}


def colleagues_session(tenant, member) -> dict:
    return {"pk": _session(colleague(tenant, member), started_by=tenant.owner).pk}


def _alert(agent):
    conversation = _conversation(agent)
    return CoachingAlert.objects.create(
        brokerage=agent.brokerage, agent=agent, conversation=conversation, area="objection_handling",
        code="objection_price_without_data", title="Back the price with data", text="Use recent sales.",
        priority="HIGH")


def own_alert(tenant, member) -> dict:
    return {"pk": _alert(coached(tenant, member)).pk}


def colleagues_alert(tenant, member) -> dict:
    return {"pk": _alert(colleague(tenant, member)).pk}


def own_agent(tenant, member) -> dict:
    return {"pk": coached(tenant, member).pk}


def colleague_pk(tenant, member) -> dict:
    return {"pk": colleague(tenant, member).pk}


def _plan_item(agent):
    plan = TrainingPlan.objects.create(
        brokerage=agent.brokerage, agent=agent, target_completion_date=timezone.localdate() + dt.timedelta(days=30),
        target_quality_score=75, target_conversion_rate=0.2, target_expertise_level="intermediate")
    module = TrainingModule.objects.filter(brokerage=None).first()
    return TrainingPlanItem.objects.create(brokerage=agent.brokerage, plan=plan, module=module, position=1)


def own_plan_item(tenant, member) -> dict:
    return {"pk": _plan_item(coached(tenant, member)).pk}


def colleagues_plan_item(tenant, member) -> dict:
    return {"pk": _plan_item(colleague(tenant, member)).pk}


def _own_and_colleagues(objects, colleagues, methods=("GET",), *, api=False, data=None, roles=EVERYONE,
                        colleague_roles=MANAGERS):
    return [Case(roles, methods, objects=objects, api=api, data=data or {}),
            Case(colleague_roles, methods, objects=colleagues, api=api, data=data or {}, label="another agent's")]


TRANSCRIPT = {"channel": "call", "date": "2025-01-15",
              "transcript": "Lead: Hi, is the JVC apartment still available?\nAgent: Hello! Yes, it is."}
MESSAGE = {"speaker": "agent", "text": "Would Saturday at 11 work for a viewing?"}

ROUTES: dict = {
    # Pages: the agent's own coaching.
    "coaching:live": [Case(COACHED)],
    "coaching:conversations": [Case(EVERYONE)],
    "coaching:conversation_start": [Case(COACHED, ("POST",), data={"channel": "call"})],
    "coaching:transcript": [Case(EVERYONE, ("GET", "POST"), data=TRANSCRIPT)],
    "coaching:conversation": _own_and_colleagues(own_conversation, colleagues_conversation),
    "coaching:conversation_message": _own_and_colleagues(own_conversation, colleagues_conversation, ("POST",),
                                                         data=MESSAGE),
    "coaching:conversation_end": _own_and_colleagues(own_conversation, colleagues_conversation, ("POST",)),
    # Only the agent an alert is for acknowledges it: nobody else, managers included.
    "coaching:alert_ack": _own_and_colleagues(own_alert, colleagues_alert, ("POST",), roles=COACHED,
                                              colleague_roles=NOBODY),
    "coaching:session_start": [Case(EVERYONE, ("POST",), data={"intensity": "MODERATE"})],
    "coaching:session_pause": _own_and_colleagues(own_session, colleagues_session, ("POST",)),
    "coaching:session_resume": _own_and_colleagues(own_session, colleagues_session, ("POST",)),
    "coaching:session_stop": _own_and_colleagues(own_session, colleagues_session, ("POST",)),
    "coaching:session_cancel": _own_and_colleagues(own_session, colleagues_session, ("POST",)),
    "coaching:performance": [Case(COACHED)],
    "coaching:training": [Case(COACHED)],
    "coaching:training_generate": [Case(COACHED, ("POST",), data={"target_completion_days": "30"})],
    "coaching:plan_item_status": _own_and_colleagues(own_plan_item, colleagues_plan_item, ("POST",),
                                                     data={"status": "in_progress"}),
    # Pages: coaching the team.
    "coaching:team": [Case(MANAGERS)],
    "coaching:escalations": [Case(MANAGERS)],
    "coaching:agent": [Case(MANAGERS, objects=own_agent)],
    "coaching:agent_training_generate": [Case(MANAGERS, ("POST",), objects=own_agent,
                                              data={"target_completion_days": "30"})],
    "coaching:metrics": [Case(MANAGERS)],
    # API.
    "api-coaching-conversations": [Case(EVERYONE, ("GET", "POST"), api=True)],
    "api-coaching-conversation": _own_and_colleagues(own_conversation, colleagues_conversation, api=True),
    "api-coaching-conversation-messages": _own_and_colleagues(own_conversation, colleagues_conversation,
                                                              ("GET", "POST"), api=True),
    "api-coaching-conversation-end": _own_and_colleagues(own_conversation, colleagues_conversation, ("POST",),
                                                         api=True),
    "api-coaching-conversation-analysis": _own_and_colleagues(own_conversation, colleagues_conversation,
                                                              api=True),
    "api-coaching-alerts": [Case(EVERYONE, api=True)],
    "api-coaching-alert-acknowledge": _own_and_colleagues(own_alert, colleagues_alert, ("POST",), api=True,
                                                          roles=COACHED, colleague_roles=NOBODY),
    "api-coaching-sessions": [Case(EVERYONE, ("GET", "POST"), api=True)],
    "api-coaching-session": _own_and_colleagues(own_session, colleagues_session, api=True),
    "api-coaching-session-stop": _own_and_colleagues(own_session, colleagues_session, ("POST",), api=True),
    "api-coaching-session-pause": _own_and_colleagues(own_session, colleagues_session, ("POST",), api=True),
    "api-coaching-session-resume": _own_and_colleagues(own_session, colleagues_session, ("POST",), api=True),
    "api-coaching-session-cancel": _own_and_colleagues(own_session, colleagues_session, ("POST",), api=True),
    "api-coaching-agent-performance": _own_and_colleagues(own_agent, colleague_pk, api=True),
    "api-coaching-agent-training-plans": _own_and_colleagues(own_agent, colleague_pk, ("POST",), api=True),
    "api-coaching-metrics": [Case(MANAGERS, api=True)],
}
