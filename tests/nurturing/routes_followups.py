"""Isolation cases for the follow-up queue, the notifications pages and the follow-up API."""

from brokerages.models import Notification
from nurturing.models import FollowUp
from nurturing.services.followups import followup_create
from tests.factories import make_lead
from tests.isolation import EVERYONE, OWNER, AGENT, Case


def _lead(tenant, member):
    """A lead the member may work: theirs when they are an agent (owners and support see every lead)."""
    agent = member if member.role == "agent" else tenant.agent
    return make_lead(tenant.brokerage, agent=agent, name="Layla Haddad", phone="+971501234567")


def held_lead(tenant, member) -> dict:
    return {"pk": _lead(tenant, member).pk}


def held_followup(tenant, member) -> dict:
    """An e-mail draft (with a subject, for a lead with an address) that can be edited, sent and dismissed."""
    followup = followup_create(brokerage=tenant.brokerage, actor=None, lead=_lead(tenant, member),
                               reason=FollowUp.Reason.MANUAL, channel="email")
    return {"pk": followup.pk}


def held_call(tenant, member) -> dict:
    followup = followup_create(brokerage=tenant.brokerage, actor=None, lead=_lead(tenant, member),
                               reason=FollowUp.Reason.MANUAL, channel="call")
    return {"pk": followup.pk}


def own_notification(tenant, member) -> dict:
    notification = Notification.objects.create(brokerage=tenant.brokerage, recipient=member, kind="speed_to_lead",
                                               message="Layla has waited 7 minutes", key=f"test-{member.pk}")
    return {"pk": notification.pk}


ROUTES: dict = {
    "nurturing:followups": [Case(EVERYONE)],
    "nurturing:followups_sweep": [Case(frozenset({OWNER}), ("POST",))],
    "nurturing:followup_card": [Case(EVERYONE, objects=held_followup)],
    "nurturing:followup_edit": [Case(EVERYONE, ("GET", "POST"), objects=held_followup, data={
        "f0-channel": "email", "f0-subject": "Hello", "f0-content": "Hi", "f0-suggested_send_date": "2099-01-01"})],
    "nurturing:followup_send": [Case(EVERYONE, ("POST",), objects=held_followup)],
    "nurturing:followup_called": [Case(EVERYONE, ("POST",), objects=held_call, data={"note": "Left a voicemail"})],
    "nurturing:followup_dismiss": [Case(EVERYONE, ("POST",), objects=held_followup, data={"reason": "Duplicate"})],
    "nurturing:followup_redraft": [Case(EVERYONE, ("POST",), objects=held_followup)],
    "nurturing:followup_new": [Case(EVERYONE, ("POST",), objects=held_lead)],
    "nurturing:notifications": [Case(EVERYONE)],
    "nurturing:notifications_read_all": [Case(EVERYONE, ("POST",))],
    "nurturing:notification_read": [Case(EVERYONE, ("POST",), objects=own_notification)],
    "api-nurturing-monitor-leads": [Case(frozenset({OWNER, AGENT}), ("POST",), api=True)],
    "api-nurturing-followups": [Case(EVERYONE, ("GET",), api=True)],
    "api-nurturing-followup": [Case(EVERYONE, ("GET", "PATCH"), objects=held_followup, api=True)],
    "api-nurturing-followup-send": [Case(EVERYONE, ("POST",), objects=held_followup, api=True)],
    "api-nurturing-followup-dismiss": [Case(EVERYONE, ("POST",), objects=held_followup, api=True)],
}
