"""A small brokerage for the API fuzz run: one object of each kind a route's `{id}` can name, made by the real
services (so permissions and search indexes are as in production), and which object each route's id names."""

import datetime as dt
import uuid

from django.utils import timezone
from django_scopes import scope

from brokerages.exports.services import data_export_build, data_export_request
from brokerages.models import User, WebhookDelivery, WebhookEndpoint
from coaching.models import CoachingAlert, CoachingSession, TrainingModule, TrainingPlan, TrainingPlanItem
from copilot.models import AssistantRun
from copilot.services import article_create
from nurturing.models import FollowUp
from nurturing.services.automations import automation_create
from nurturing.services.followups import followup_create
from nurturing.services.leads import interaction_log
from nurturing.services.sequences import enrollment_enrol, sequence_create
from tests.conftest import make_tenant
from tests.factories import ListingFactory, make_conversation, make_lead

MESSAGES = [("lead", "Hi, is the JVC apartment still available?"), ("agent", "Hello! Yes, it is. Budget?"),
            ("lead", "Around 1.2M, it feels expensive though.")]
STEPS = [{"delay_days": 0, "channel": "email", "subject": "Welcome", "body": "Hello {{ first_name }}"}]


def seed_brokerage() -> tuple[User, dict[str, int]]:
    """The owner who calls the API, and the id each kind of route names (keyed by the URL segment before
    `{id}`). The owner is also coached, so coaching records are the owner's own."""
    tenant = make_tenant("Fuzz Realty")
    brokerage, owner = tenant.brokerage, tenant.owner
    lead = make_lead(brokerage, agent=owner, name="Layla Haddad", phone="+971501234567",
                     budget_min=1_000_000, budget_max=2_000_000, areas=["JVC"])
    interaction = interaction_log(brokerage=brokerage, actor=owner, lead=lead, channel="call", summary="Intro call")
    sequence = sequence_create(brokerage=brokerage, actor=owner, name="Welcome", sequence_type="new_lead",
                               steps=STEPS)
    enrollment = enrollment_enrol(brokerage=brokerage, actor=owner, lead=make_lead(brokerage, agent=owner),
                                  sequence=sequence)
    followup = followup_create(brokerage=brokerage, actor=owner, lead=lead, reason=FollowUp.Reason.MANUAL,
                               channel="email")
    automation = automation_create(brokerage=brokerage, actor=owner, name="Tag new leads",
                                   trigger_conditions={"trigger": "lead_created"},
                                   actions=[{"type": "add_tag", "tag": "new"}])
    listing = ListingFactory(brokerage=brokerage, listing_agent=owner, status="draft")
    article = article_create(brokerage=brokerage, actor=owner, title="Ejari", category="Leasing",
                             content="## Ejari\nRegister every tenancy within 30 days.")
    conversation = make_conversation(brokerage, owner, MESSAGES, lead=lead, ended=False)
    alert = CoachingAlert.objects.create(
        brokerage=brokerage, agent=owner, conversation=conversation, area="objection_handling",
        code="objection_price_without_data", title="Back the price with data", text="Use recent sales.",
        priority="HIGH")
    session = CoachingSession.objects.create(brokerage=brokerage, agent=owner, started_by=owner)
    plan = TrainingPlan.objects.create(
        brokerage=brokerage, agent=owner, target_completion_date=timezone.localdate() + dt.timedelta(days=30),
        target_quality_score=75, target_conversion_rate=0.2, target_expertise_level="intermediate")
    module = TrainingModule.objects.create(brokerage=brokerage, key="price-objections", area="objection_handling",
                                           level="beginner", title="Answering price objections",
                                           duration_minutes=20, topics=["Comparable sales"])
    TrainingPlanItem.objects.create(brokerage=brokerage, plan=plan, module=module, position=1)
    run = AssistantRun.objects.create(brokerage=brokerage, agent=owner, automation_type="lead_followup",
                                      status="succeeded", inputs={"lead_ids": [lead.pk]}, engine="local")
    # Written directly: registering through the service resolves the address, and the fuzz run has no DNS.
    endpoint = WebhookEndpoint.objects.create(brokerage=brokerage, url="https://hooks.example.com/aep",
                                              events=["lead.created"], secret="whsec_" + "f" * 40, created_by=owner)
    delivery = WebhookDelivery.objects.create(brokerage=brokerage, endpoint=endpoint, event="lead.created",
                                              event_id=uuid.uuid4(), payload={"event": "lead.created"},
                                              status=WebhookDelivery.Status.FAILED, attempts=9)
    with scope(brokerage=brokerage):
        export = data_export_request(brokerage=brokerage, actor=owner, include_media=False)
        data_export_build(export_id=export.pk)
    return owner, {
        "team": tenant.agent.pk, "agents": owner.pk, "leads": lead.pk, "interactions": interaction.pk,
        "sequences": sequence.pk, "enrollments": enrollment.pk, "followups": followup.pk,
        "automations": automation.pk, "listings": listing.pk, "articles": article.pk,
        "conversations": conversation.pk, "alerts": alert.pk, "sessions": session.pk, "training-plans": plan.pk,
        "runs": run.pk, "webhooks": endpoint.pk, "deliveries": delivery.pk,
        "exports": export.pk,
    }


def object_for(path: str, ids: dict[str, int]) -> int | None:
    """The seeded id for the route `path` (an OpenAPI path such as /api/nurturing/leads/{id}/stage)."""
    segments = path.strip("/").split("/")
    if "{id}" not in segments:
        return None
    return ids.get(segments[segments.index("{id}") - 1])
