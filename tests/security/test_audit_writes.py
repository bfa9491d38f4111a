"""Every write leaves an audit entry naming its actor.

The walk covers routes, not services: every case of the isolation matrix (tests/test_isolation.py, which names
every URL of the project, so a new route joins this walk as soon as it gets its isolation case) that writes
(POST, PUT, PATCH, DELETE) is performed successfully, with valid data, by the least privileged role allowed to,
and the brokerage's audit log must then hold at least one more entry naming that member.

Two lists say where a post is not expected to leave an entry, each with its reason: `NOT_WRITES` (posts that
store nothing: previews, checks, analyses) and `THE_RECORD_IS_THE_LOG` (writes whose own row already says who
did what and when, kept out of the log by design; their services' docstrings say so). A post of the first list
is proved to store nothing of the brokerage's.
"""

import datetime as dt
import json
from dataclasses import dataclass
from typing import Callable

import pytest
from django.apps import apps
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.authtoken.models import Token

from brokerages.models import AuditLog, User, WebhookDelivery
from brokerages.settings_registry import SETTINGS
from tests.conftest import Tenant, make_tenant
from tests.factories import PASSWORD, ListingFactory, make_conversation, make_lead
from tests.images import png_bytes
from tests.isolation import AGENT, OWNER, PUBLIC, SIGNED, SUPPORT
from tests.test_isolation import ROUTES

pytestmark = pytest.mark.django_db

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}

NOT_WRITES: dict[str, str] = {
    "nurturing:import": "keeps the uploaded file aside for the mapping step; nothing enters the CRM until "
                        "nurturing:import_map imports it, which is audited",
    "copilot:template_preview": "renders a template with sample data; nothing is saved",
    "copilot:compliance_check": "checks a text against the rules and shows the findings; nothing is saved",
    "api-compliance-check": "the same check through the API",
    "copilot:assistant_analyze": "computes the workflow analysis from the CRM and shows it; nothing is saved",
    "api-assistant-analyze": "the same analysis through the API",
}
THE_RECORD_IS_THE_LOG: dict[str, str] = {
    "coaching:conversation_message": "each coaching message row names its conversation, speaker and time; auditing "
                                     "every message would double the writes of the live coaching path",
    "api-coaching-conversation-messages": "the same messages through the API",
    "copilot:mentor_ask": "the question row keeps who asked what, when, and what was answered",
    "api-mentor-ask": "the same question through the API",
    "nurturing:notification_read": "a member's read receipt on their own notification",
    "nurturing:notifications_read_all": "the same read receipts, all at once",
}

CSV = b"Full Name,E-mail\nLayla Haddad,layla.import@example.test\n"
WEBHOOK_URL = "https://93.184.215.14/hooks/aep"  # a public address that needs no DNS: tests run offline


@dataclass
class Ctx:
    tenant: Tenant
    user: User
    objects: dict


@dataclass(frozen=True)
class Write:
    """How to make one write succeed: its body (a dict, or built from the context), what must hold before it
    (`setup`), objects that replace the isolation case's, and whether the body is a multipart upload."""

    body: dict | Callable[[Ctx], dict] | None = None
    setup: Callable[[Ctx], None] | None = None
    objects: Callable[[Tenant, User], dict] | None = None
    multipart: bool = False


# --- what the writes need -----------------------------------------------------------------------------------------

def _worked_lead(ctx: Ctx):
    """A lead the acting member may work."""
    agent = ctx.user if ctx.user.role == AGENT else ctx.tenant.agent
    return make_lead(ctx.tenant.brokerage, agent=agent, name="Sara Ali", email="sara@example.test")


def _sequence(ctx: Ctx, name: str = "Welcome back"):
    from nurturing.services.sequences import sequence_create

    return sequence_create(brokerage=ctx.tenant.brokerage, actor=ctx.tenant.owner, name=name,
                           sequence_type="new_lead",
                           steps=[{"delay_days": 0, "channel": "email", "subject": "Hi", "body": "Hello"}])


def _pause_enrollment(ctx: Ctx) -> None:
    from nurturing.models import Enrollment

    Enrollment.objects.filter(pk=ctx.objects["pk"]).update(status=Enrollment.Status.PAUSED, next_due_at=None)


def _pause_session(ctx: Ctx) -> None:
    from coaching.models import CoachingSession

    CoachingSession.objects.filter(pk=ctx.objects["pk"]).update(status="PAUSED", paused_at=timezone.now())


def _coached_history(ctx: Ctx) -> None:
    """Analysed conversations of the member a training plan is for, so it has skill gaps to work from."""
    agent = User.objects.get(pk=ctx.objects["pk"]) if "pk" in ctx.objects else ctx.user
    for _ in range(2):
        make_conversation(ctx.tenant.brokerage, agent, [
            ("lead", "2.4 million is far too much for a two-bed in JVC."), ("agent", "It is the price."),
            ("lead", "Then I will look elsewhere."), ("agent", "Okay.")])


def _failed_delivery(ctx: Ctx) -> None:
    import uuid

    WebhookDelivery.objects.create(brokerage=ctx.tenant.brokerage, endpoint_id=ctx.objects["pk"],
                                   event="lead.created", event_id=uuid.uuid4(), payload={"id": "x"},
                                   status=WebhookDelivery.Status.FAILED)


def _forgotten_lead(ctx: Ctx) -> None:
    make_lead(ctx.tenant.brokerage, agent=ctx.tenant.agent, name="Forgotten Lead", phone="+971501234567",
              created_at=timezone.now() - dt.timedelta(days=20))


def _token(ctx: Ctx) -> None:
    Token.objects.get_or_create(user=ctx.user)


def _content_run(tenant: Tenant, member: User) -> dict:
    """A listing description the assistant wrote for the member, waiting for review."""
    from copilot.assistant.automations import automation_run

    listing = ListingFactory(brokerage=tenant.brokerage, listing_agent=member)
    run = automation_run(brokerage=tenant.brokerage, actor=member, automation_type="content_generation",
                         parameters={"listing_id": listing.pk})
    return {"pk": run.pk}


def _second_photo(tenant: Tenant, member: User) -> dict:
    """A listing's second photo, which can become its cover."""
    from nurturing.models import ListingPhoto

    listing = ListingFactory(brokerage=tenant.brokerage, listing_agent=member, status="draft")
    photos = [ListingPhoto.objects.create(brokerage=tenant.brokerage, listing=listing, position=position,
                                          image=SimpleUploadedFile(f"photo{position}.png", png_bytes()))
              for position in range(2)]
    return {"pk": photos[1].pk}


def _sequence_form(name: str, initial: int) -> dict:
    return {"name": name, "sequence_type": "new_lead", "is_active": "on", "steps-TOTAL_FORMS": "1",
            "steps-INITIAL_FORMS": str(initial), "steps-0-delay_days": "1", "steps-0-channel": "email",
            "steps-0-subject": "Hello", "steps-0-body": "Hello {{ first_name }}"}


AUTOMATION_FORM = {"name": "Portal leads", "workflow_type": "nurturing", "trigger": "lead_created", "is_active": "on",
                   "actions-TOTAL_FORMS": "1", "actions-INITIAL_FORMS": "0", "actions-MIN_NUM_FORMS": "0",
                   "actions-MAX_NUM_FORMS": "10", "actions-0-type": "add_tag", "actions-0-tag": "portal"}


def _settings_form(ctx: Ctx) -> dict:
    from brokerages.selectors import settings_values

    current = settings_values(ctx.tenant.brokerage)
    data = {}
    for spec in SETTINGS:
        value = current[spec.key]
        if spec.type == "bool":
            if value:
                data[spec.key] = "on"
        elif spec.type == "time":
            data[spec.key] = value.strftime("%H:%M")
        else:
            data[spec.key] = str(value)
    data["forgotten_lead_days"] = str(int(current["forgotten_lead_days"]) + 1)
    return data


ARTICLE = {"title": "Ejari", "category": "Leasing", "content": "## Ejari\nRegister every tenancy within 30 days."}

WRITES: dict[str, Write] = {
    # nurturing: leads
    "api-nurturing-leads": Write({"name": "Sara Ali", "email": "sara@example.test"}),
    "api-nurturing-lead": Write({"priority": "high"}),
    "api-nurturing-lead-stage": Write({"stage": "qualified"}),
    "api-nurturing-lead-assign": Write(lambda ctx: {"agent_id": ctx.tenant.owner.pk}),
    "api-nurturing-lead-contact-preferences": Write({"do_not_contact": True}),
    "api-nurturing-lead-interactions": Write({"channel": "call", "summary": "Called about the viewing"}),
    "api-nurturing-interaction": Write({"summary": "Called about the second viewing"}),
    "api-nurturing-leads-import": Write({"file": SimpleUploadedFile("leads.csv", CSV),
                                         "mapping": json.dumps({"Full Name": "name", "E-mail": "email"})},
                                        multipart=True),
    "nurturing:import": Write({"file": SimpleUploadedFile("leads.csv", CSV)}),
    "nurturing:import_map": Write({"col_0": "name", "col_1": "email", "action": "import"}),
    # nurturing: sequences and enrolments
    "nurturing:sequence_new": Write(_sequence_form("Welcome", 0)),
    "nurturing:sequence_edit": Write(_sequence_form("Welcome, reworded", 1)),
    "nurturing:sequence_enrol": Write(lambda ctx: {"lead": _worked_lead(ctx).pk}),
    "nurturing:lead_enrol": Write(lambda ctx: {"sequence": _sequence(ctx).pk}),
    "nurturing:enrollment_resume": Write(setup=_pause_enrollment),
    "api-nurturing-sequences": Write({"name": "Welcome", "type": "new_lead", "steps": [
        {"delay_days": 0, "channel": "email", "subject": "Hi", "body": "Hello {{ first_name }}"}]}),
    "api-nurturing-sequence": Write({"name": "Welcome, renamed"}),
    "api-nurturing-sequence-enrollments": Write(lambda ctx: {"lead_id": _worked_lead(ctx).pk}),
    "api-nurturing-enrollment-action[resume]": Write(setup=_pause_enrollment),
    # nurturing: follow-ups
    "nurturing:followups_sweep": Write(setup=_forgotten_lead),
    "api-nurturing-monitor-leads": Write(setup=_forgotten_lead),
    "nurturing:followup_edit": Write(lambda ctx: {f"f{ctx.objects['pk']}-{name}": value for name, value in {
        "channel": "email", "subject": "About the viewing", "content": "Hi Layla, shall we meet on Saturday?",
        "suggested_send_date": (timezone.localdate() + dt.timedelta(days=3)).isoformat()}.items()}),
    "api-nurturing-followup": Write({"subject": "About the viewing"}),
    "api-nurturing-followup-dismiss": Write({"reason": "Duplicate"}),
    # nurturing: automations
    "nurturing:automation_new": Write(AUTOMATION_FORM),
    "nurturing:automation_edit": Write({**AUTOMATION_FORM, "name": "Portal leads, renamed"}),
    "api-nurturing-automations": Write({"name": "Tag portal leads", "trigger_conditions": {"trigger": "lead_created"},
                                        "actions": [{"type": "add_tag", "tag": "portal"}]}),
    "api-nurturing-automation": Write({"name": "Renamed"}),
    # nurturing: listings
    "nurturing:listing_photo_add": Write(lambda ctx: {"caption": "Front",
                                                      "image": SimpleUploadedFile("front.png", png_bytes())}),
    "nurturing:listing_photo_cover": Write(objects=_second_photo),
    "api-listings": Write({"title": "Bloom Towers studio", "community": "JVC", "property_type": "apartment",
                           "purpose": "rent"}),
    "api-listing": Write({"title": "Bloom Towers studio, renovated"}),
    # coaching
    "coaching:session_resume": Write(setup=_pause_session),
    "api-coaching-session-resume": Write(setup=_pause_session),
    "coaching:training_generate": Write(setup=_coached_history),
    "coaching:agent_training_generate": Write(setup=_coached_history),
    "api-coaching-agent-training-plans": Write(setup=_coached_history),
    "coaching:conversation_message": Write(),
    "api-coaching-conversation-messages": Write({"speaker": "agent", "text": "Would Saturday at 11 work?"}),
    # co-pilot
    "copilot:assistant_automate": Write({"type": "report_creation", "parameters": '{"report": "agent_weekly"}'}),
    "api-assistant-automate": Write({"automation_type": "report_creation", "parameters": {"report": "agent_weekly"}}),
    "copilot:assistant_run_edit": Write(objects=_content_run),
    "copilot:assistant_run_approve": Write(objects=_content_run),
    "copilot:article_new": Write(ARTICLE),
    "copilot:article_edit": Write({**ARTICLE, "content": "## Ejari\nRegister every tenancy within 14 days."}),
    "copilot:import": Write(lambda ctx: {"files": [SimpleUploadedFile(
        "ejari-import.md", b"---\ntitle: Ejari import\ncategory: Leasing\n---\n## Ejari\nRegister it.\n")]}),
    "api-knowledge-articles": Write(ARTICLE),
    "api-brokerage-knowledge-base": Write(ARTICLE),
    "api-knowledge-article": Write({"content": "## Ejari\nRegister every tenancy within 14 days."}),
    "api-mentor-ask": Write({"question": "How do I register Ejari?"}),
    "api-compliance-check": Write({"text": "Guaranteed returns!", "kind": "social"}),
    # brokerage
    "brokerages:webhooks": Write({"url": WEBHOOK_URL, "events": ["lead.created"], "description": "Our CRM"}),
    "brokerages:webhook": Write({"url": WEBHOOK_URL, "events": ["lead.created", "lead.updated"],
                                 "description": "Our CRM"}),
    "brokerages:webhook_redeliver_failed": Write(setup=_failed_delivery),
    "api-brokerage-webhooks": Write({"url": WEBHOOK_URL, "events": ["lead.created"]}),
    "api-brokerage-webhook": Write({"description": "Our CRM"}),
    "api-brokerage-webhook-redeliver-failed": Write(setup=_failed_delivery),
    "brokerages:profile": Write(lambda ctx: {"name": "Palm Crest Realty LLC",
                                             "license_number": ctx.tenant.brokerage.license_number,
                                             "rera_number": ctx.tenant.brokerage.rera_number}),
    "brokerages:settings": Write(_settings_form),
    "brokerages:branding": Write({"primary_color": "#112233", "secondary_color": "#445566"}),
    "brokerages:brand_asset_upload": Write(lambda ctx: {"asset_type": "brochure", "asset_name": "Brochure",
                                                        "file": SimpleUploadedFile("brochure.png", png_bytes())}),
    "brokerages:team_invite": Write({"email": "invited@palm.test", "full_name": "Invited Agent", "role": "agent"}),
    "brokerages:team_member_role": Write({"role": "support_staff"}),
    "brokerages:team_member_active": Write({"active": "0"}),
    "api-brokerage-profile": Write({"phone": "+97140000000"}),
    "api-brokerage-team": Write({"email": "invited@palm.test", "full_name": "Invited Agent"}),
    "api-brokerage-team-member": Write({"role": "support_staff"}),
    "api-brokerage-settings": Write({"forgotten_lead_days": 9}),
    "account_token_revoke": Write(setup=_token),
    "password_change": Write({"old_password": PASSWORD, "new_password1": "Quiet-Harbour-Lantern-93",
                              "new_password2": "Quiet-Harbour-Lantern-93"}),
    # data rights
    "brokerages:data_export_create": Write({"include_media": ""}),
    "api-brokerage-exports": Write({"include_media": False}),
    "nurturing:lead_erase": Write({"reason": "The lead asked by e-mail", "confirm": "ERASE"}),
    "api-nurturing-lead-erase": Write({"reason": "The lead asked by e-mail", "confirm": "ERASE"}),
}


# --- the walk -----------------------------------------------------------------------------------------------------

def _writes():
    for name, cases in ROUTES.items():
        for index, case in enumerate(cases):
            if case.roles in (PUBLIC, SIGNED) or not case.roles:
                continue
            for method in case.methods:
                if method in WRITE_METHODS:
                    yield pytest.param(name, index, method, id=f"{name}[{case.label or index}]-{method}")


def _least_privileged(roles) -> str:
    return next(role for role in (AGENT, SUPPORT, OWNER) if role in roles)


def _write(name: str, label: str) -> Write:
    return WRITES.get(f"{name}[{label}]") or WRITES.get(name) or Write()


def _brokerage_rows(brokerage) -> int:
    """Rows of every tenant model of the brokerage (the audit log aside): what a write would add to."""
    total = 0
    for model in apps.get_models():
        if model is AuditLog or not any(field.name == "brokerage" for field in model._meta.fields):
            continue
        total += model._default_manager.filter(brokerage=brokerage).count()
    return total


def _perform(client, name: str, index: int, method: str, tenant: Tenant, user: User):
    """Make the write as `user`; returns the response and the audit entries naming `user` it added."""
    case = ROUTES[name][index]
    write = _write(name, case.label or str(index))
    objects = (write.objects or case.objects)(tenant, user) if (write.objects or case.objects) else {}
    ctx = Ctx(tenant, user, objects)
    if write.setup:
        write.setup(ctx)
    body = write.body(ctx) if callable(write.body) else write.body
    url = reverse(name, kwargs={**case.kwargs, **objects})
    if case.api:
        token = Token.objects.get_or_create(user=user)[0].key
        headers = {"HTTP_AUTHORIZATION": f"Token {token}"}
    else:
        client.force_login(user)
        headers = {}
    before = AuditLog.objects.filter(brokerage=tenant.brokerage, actor=user).count()
    if case.api and write.multipart:
        response = client.post(url, body, **headers)
    elif case.api:
        response = client.generic(method, url, data=json.dumps(body or {}), content_type="application/json",
                                  **headers)
    else:
        response = getattr(client, method.lower())(url, data=case.data if body is None else body, **headers)
    added = AuditLog.objects.filter(brokerage=tenant.brokerage, actor=user).count() - before
    return response, added


@pytest.mark.parametrize(("name", "index", "method"), list(_writes()))
def test_every_write_leaves_an_audit_entry_naming_its_actor(client, name, index, method):
    """A09 Security logging and monitoring failures: a successful write by a member is in the audit log with
    the member as its actor (and, for the two listed kinds of post, nothing is stored, or the row itself is
    the record)."""
    tenant = make_tenant("Palm Crest Realty")
    case = ROUTES[name][index]
    user = tenant.member(_least_privileged(case.roles))
    response, added = _perform(client, name, index, method, tenant, user)
    assert response.status_code < 400, (response.status_code, response.content[:500])
    if response.status_code == 200 and not case.api and b'class="errorlist' in response.content:
        pytest.fail(f"the form was refused: {response.content.decode()[:2000]}")
    if name in NOT_WRITES:
        # The first call may fill caches or seed defaults on first use; asking again must store nothing at all.
        rows = _brokerage_rows(tenant.brokerage)
        response, added = _perform(client, name, index, method, tenant, user)
        assert response.status_code < 400 and added == 0, NOT_WRITES[name]
        assert _brokerage_rows(tenant.brokerage) == rows, NOT_WRITES[name]
    elif name not in THE_RECORD_IS_THE_LOG:
        assert added >= 1, f"{method} {name} stored its change but no audit entry names {user.role} {user.pk}"


def test_the_lists_of_exceptions_name_routes_that_exist():
    """A09 Security logging and monitoring failures: the exceptions stay true to the routes, so a renamed or
    removed route does not linger here as an excuse."""
    writing = {param.values[0] for param in _writes()}
    assert set(NOT_WRITES) | set(THE_RECORD_IS_THE_LOG) <= writing
    assert {key.split("[")[0] for key in WRITES} <= writing
