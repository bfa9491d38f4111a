"""The routes added so an integrator can do what the pages do: the seed's knowledge-base item, interactions
across leads, drafting a follow-up and closing a call, a conversation's messages, the training library and plans."""

import datetime as dt

import pytest
from django.utils import timezone

from brokerages.models import Role
from coaching.models import TrainingModule, TrainingPlan, TrainingPlanItem
from copilot.models import KnowledgeArticle
from nurturing.models import FollowUp, Interaction
from nurturing.services.followups import followup_create
from nurturing.services.leads import interaction_log
from tests.api_helpers import api_as, assert_error
from tests.factories import UserFactory, make_conversation, make_lead

pytestmark = pytest.mark.django_db
ARTICLE = {"title": "Ejari", "category": "Leasing", "content": "Register every tenancy.", "tags": ["Leasing"]}


def test_the_seeds_knowledge_base_route_creates_an_article_like_the_articles_route(tenant):
    created = api_as(tenant.support).post("/api/brokerage/knowledge-base", ARTICLE)
    assert created.status_code == 201, created.content
    article = KnowledgeArticle.objects.get(pk=created.json()["id"])
    assert article.brokerage == tenant.brokerage and article.created_by == tenant.support
    listed = api_as(tenant.agent).get("/api/knowledge/articles").json()["results"]
    assert listed == [created.json()]
    error = assert_error(api_as(tenant.owner).post("/api/brokerage/knowledge-base", ARTICLE), 400)
    assert "already exists" in " ".join(error["fields"]["title"])
    assert_error(api_as(tenant.agent).post("/api/brokerage/knowledge-base", {**ARTICLE, "title": "Pets"}), 403)


def test_articles_are_retired_not_deleted(tenant):
    article_id = api_as(tenant.owner).post("/api/knowledge/articles", ARTICLE).json()["id"]
    url = f"/api/knowledge/articles/{article_id}"
    assert_error(api_as(tenant.owner).delete(url), 405)
    assert api_as(tenant.owner).patch(url, {"is_active": False}).json()["is_active"] is False
    assert_error(api_as(tenant.agent).get(url), 404)
    assert api_as(tenant.agent).get("/api/knowledge/articles").json()["count"] == 0


def test_interactions_across_leads_are_the_callers_and_filter(tenant):
    mine = make_lead(tenant.brokerage, agent=tenant.agent, name="Mine")
    theirs = make_lead(tenant.brokerage, agent=UserFactory(brokerage=tenant.brokerage, role=Role.AGENT))
    call = interaction_log(brokerage=tenant.brokerage, actor=None, lead=mine, channel="call", summary="Intro call")
    old = interaction_log(brokerage=tenant.brokerage, actor=None, lead=mine, channel="email", summary="Brochure",
                          occurred_at=timezone.now() - dt.timedelta(days=40))
    interaction_log(brokerage=tenant.brokerage, actor=None, lead=theirs, channel="call", summary="Not yours")

    def ids(member, **query):
        return [row["id"] for row in api_as(member).get("/api/nurturing/interactions", query).json()["results"]]

    assert ids(tenant.agent) == [call.pk, old.pk]
    assert len(ids(tenant.owner)) == 3
    assert ids(tenant.agent, channel="email") == [old.pk]
    since = (timezone.now() - dt.timedelta(days=1)).date().isoformat()
    assert ids(tenant.agent, since=since) == [call.pk]
    assert ids(tenant.agent, lead=theirs.pk) == []
    assert ids(tenant.owner, lead=theirs.pk) != []
    assert set(assert_error(api_as(tenant.agent).get("/api/nurturing/interactions", {"channel": "fax"}),
                            400)["fields"]) == {"channel"}


def test_a_recorded_time_outside_2000_to_2099_is_refused(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    error = assert_error(api_as(tenant.agent).post(f"/api/nurturing/leads/{lead.pk}/interactions", {
        "channel": "call", "summary": "Old call", "occurred_at": "1554-11-15T18:30:37+04:00"}), 400)
    assert error["fields"] == {"occurred_at": ["Give a time from the year 2000 to 2099."]}
    assert not Interaction.objects.exists()


def test_drafting_a_follow_up_for_a_lead_once(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, phone="+971501234567")
    url = f"/api/nurturing/leads/{lead.pk}/followups"
    created = api_as(tenant.agent).post(url, {"channel": "whatsapp", "instruction": "Offer a Saturday viewing"})
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["status"] == "draft" and body["channel"] == "whatsapp" and body["reason"] == "manual"
    error = assert_error(api_as(tenant.agent).post(url, {}), 409)
    assert error["code"] == "draft_exists" and lead.name in error["message"]
    assert FollowUp.objects.filter(lead=lead).count() == 1
    assert set(assert_error(api_as(tenant.agent).post(url, {"channel": "fax"}), 400)["fields"]) == {"channel"}


def test_a_call_follow_up_is_approved_then_marked_called(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, phone="+971501234567")
    call = followup_create(brokerage=tenant.brokerage, actor=None, lead=lead, reason=FollowUp.Reason.MANUAL,
                           channel="call")
    api = api_as(tenant.agent)
    assert api.post(f"/api/nurturing/followups/{call.pk}/send").json()["status"] == "approved"
    done = api.post(f"/api/nurturing/followups/{call.pk}/called", {"note": "Booked a viewing"}).json()
    assert done["status"] == "sent" and done["interaction_id"]
    assert "Booked a viewing" in Interaction.objects.get(pk=done["interaction_id"]).summary
    assert_error(api.post(f"/api/nurturing/followups/{call.pk}/called", {}), 400)
    email = followup_create(brokerage=tenant.brokerage, actor=None, lead=lead, reason=FollowUp.Reason.FORGOTTEN_LEAD,
                            channel="email")
    assert "send this one instead" in assert_error(api.post(f"/api/nurturing/followups/{email.pk}/called"),
                                                   400)["message"]


def test_a_conversations_messages_in_order_page_by_page(tenant):
    lines = [("lead", f"Message {number}") for number in range(1, 6)]
    conversation = make_conversation(tenant.brokerage, tenant.agent, lines, ended=False)
    url = f"/api/coaching/conversations/{conversation.pk}/messages"
    first = api_as(tenant.agent).get(url, {"page_size": 3}).json()
    assert first["count"] == 5 and [row["text"] for row in first["results"]] == ["Message 1", "Message 2",
                                                                                 "Message 3"]
    assert first["results"][0] == {"speaker": "lead", "text": "Message 1", "position": 1,
                                   "sent_at": first["results"][0]["sent_at"]}
    assert_error(api_as(UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)).get(url), 403)


def _plan(agent, status=TrainingPlan.Status.ACTIVE):
    plan = TrainingPlan.objects.create(
        brokerage=agent.brokerage, agent=agent, status=status, target_quality_score=75, target_conversion_rate=0.2,
        target_completion_date=timezone.localdate() + dt.timedelta(days=30), target_expertise_level="intermediate")
    module = TrainingModule.objects.filter(brokerage=None).first()
    TrainingPlanItem.objects.create(brokerage=agent.brokerage, plan=plan, module=module, position=1,
                                    status="completed")
    return plan


def test_training_plans_agent_sees_own_managers_see_all(tenant):
    own, colleague = _plan(tenant.agent), _plan(UserFactory(brokerage=tenant.brokerage, role=Role.AGENT))
    _plan(tenant.agent, status=TrainingPlan.Status.SUPERSEDED)

    def plan_ids(member, **query):
        return {row["plan_id"] for row in api_as(member).get("/api/coaching/training-plans", query).json()["results"]}

    assert len(plan_ids(tenant.agent)) == 2 and colleague.pk not in plan_ids(tenant.agent)
    assert plan_ids(tenant.agent, status="active") == {own.pk}
    assert plan_ids(tenant.support, agent=colleague.agent_id) == {colleague.pk}
    detail = api_as(tenant.agent).get(f"/api/coaching/training-plans/{own.pk}").json()
    assert detail["progress"]["completion_percentage"] == 100.0 and len(detail["training_modules"]) == 1
    assert_error(api_as(tenant.agent).get(f"/api/coaching/training-plans/{colleague.pk}"), 403)
    assert api_as(tenant.owner).get(f"/api/coaching/training-plans/{colleague.pk}").status_code == 200


def test_the_training_library_lists_and_filters_modules(tenant):
    library = api_as(tenant.agent).get("/api/coaching/training-modules", {"page_size": 100}).json()
    assert library["count"] == TrainingModule.objects.filter(brokerage=None, is_active=True).count() > 0
    assert all(row["library"] for row in library["results"])
    area = library["results"][0]["area"]
    narrowed = api_as(tenant.agent).get("/api/coaching/training-modules", {"area": area}).json()["results"]
    assert narrowed and {row["area"] for row in narrowed} == {area}
    assert set(assert_error(api_as(tenant.agent).get("/api/coaching/training-modules", {"level": "guru"}),
                            400)["fields"]) == {"level"}
