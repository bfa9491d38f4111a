"""The CRM core as agents and managers meet it: who sees which lead, the lead page's actions, and the rules the
lead services keep (stage history, contact stamps, opting out, closing a lead)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from brokerages.models import AuditLog, Role
from nurturing.models import Enrollment, FollowUp, Lead, NurturingSequence, StageChange
from nurturing.services import leads as services
from tests.factories import UserFactory, make_lead

pytestmark = pytest.mark.django_db


@pytest.fixture
def colleague(tenant):
    return UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Farouk")


def _draft(lead, reason=FollowUp.Reason.FORGOTTEN_LEAD):
    return FollowUp.objects.create(brokerage=lead.brokerage, lead=lead, agent=lead.assigned_agent, reason=reason,
                                   channel="email", content="Hello", suggested_send_date=timezone.localdate())


def _enrol(lead):
    sequence = NurturingSequence.objects.create(brokerage=lead.brokerage, name=f"Seq {lead.pk}",
                                                sequence_type="new_lead",
                                                steps=[{"delay_days": 1, "channel": "email", "body": "Hi"}])
    return Enrollment.objects.create(brokerage=lead.brokerage, lead=lead, sequence=sequence,
                                     enrolled_at=timezone.now())


def test_an_agent_sees_only_their_own_leads_and_managers_see_all(login, tenant, colleague):
    mine = make_lead(tenant.brokerage, agent=tenant.agent, name="Mine Mansour")
    theirs = make_lead(tenant.brokerage, agent=colleague, name="Theirs Tamimi")

    page = login(tenant.agent).get(reverse("nurturing:leads")).content.decode()
    assert "Mine Mansour" in page and "Theirs Tamimi" not in page
    assert login(tenant.agent).get(reverse("nurturing:lead", args=[theirs.pk])).status_code == 403
    assert login(tenant.agent).get(reverse("nurturing:lead", args=[mine.pk])).status_code == 200

    for manager in (tenant.owner, tenant.support):
        page = login(manager).get(reverse("nurturing:leads")).content.decode()
        assert "Mine Mansour" in page and "Theirs Tamimi" in page


def test_the_list_filters_by_stage_search_and_overlapping_budget(login, tenant):
    make_lead(tenant.brokerage, agent=tenant.agent, name="Cheap Flat", budget_min=500_000, budget_max=800_000)
    make_lead(tenant.brokerage, agent=tenant.agent, name="Big Villa", budget_min=4_000_000, budget_max=6_000_000,
              stage="qualified")
    client = login(tenant.owner)

    page = client.get(reverse("nurturing:leads"), {"budget_min": "1000000"}).content.decode()
    assert "Big Villa" in page and "Cheap Flat" not in page
    page = client.get(reverse("nurturing:leads"), {"stage": "qualified"}).content.decode()
    assert "Big Villa" in page and "Cheap Flat" not in page
    page = client.get(reverse("nurturing:leads"), {"q": "cheap"}).content.decode()
    assert "Cheap Flat" in page and "Big Villa" not in page


def test_the_list_pages_through_leads_and_htmx_gets_only_the_results(login, tenant):
    for number in range(30):
        make_lead(tenant.brokerage, agent=tenant.agent, name=f"Lead {number:02d}")
    client = login(tenant.agent)
    first = client.get(reverse("nurturing:leads")).content.decode()
    assert "Page 1 of 2" in first and "30 leads" in first
    partial = client.get(reverse("nurturing:leads"), {"page": 2}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "Page 2 of 2" in partial and partial.count("/leads/") >= 5


def test_an_agent_creates_a_lead_that_is_theirs(login, tenant):
    response = login(tenant.agent).post(reverse("nurturing:lead_new"), {
        "name": "  Hana Yusuf ", "email": "HANA@Example.com", "phone": "00971 50 123 4567", "source": "website",
        "priority": "high", "areas": "Dubai Marina, JVC, Dubai Marina", "tags": "Investor"})
    lead = Lead.objects.get(name="Hana Yusuf")
    assert response.status_code == 302 and response["Location"] == reverse("nurturing:lead", args=[lead.pk])
    assert lead.assigned_agent == tenant.agent and tenant.agent.has_perm("nurturing.work_lead", lead)
    assert (lead.email, lead.phone, lead.areas, lead.tags) == (
        "hana@example.com", "+971501234567", ["Dubai Marina", "JVC"], ["investor"])
    assert lead.stage_changes.get().to_stage == "new"
    assert AuditLog.objects.filter(action="lead.created", resource_id=str(lead.pk)).exists()


def test_a_budget_upside_down_is_refused_with_a_message(login, tenant):
    response = login(tenant.agent).post(reverse("nurturing:lead_new"), {
        "name": "Hana", "source": "website", "priority": "medium", "budget_min": "2000000", "budget_max": "1000000"})
    assert response.status_code == 400
    assert "maximum is below its minimum" in response.content.decode()
    assert not Lead.objects.exists()


def test_reassigning_moves_the_lead_and_its_open_drafts(login, tenant, colleague):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    draft = _draft(lead)
    response = login(tenant.owner).post(reverse("nurturing:lead_assign", args=[lead.pk]), {"agent": colleague.pk})
    assert response.status_code == 302
    assert login(colleague).get(reverse("nurturing:lead", args=[lead.pk])).status_code == 200
    assert login(tenant.agent).get(reverse("nurturing:lead", args=[lead.pk])).status_code == 403
    draft.refresh_from_db()
    assert draft.agent == colleague


def test_a_lead_cannot_go_to_someone_of_another_brokerage(tenant, other_tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    with pytest.raises(ValidationError, match="active member of this brokerage"):
        services.lead_assign(brokerage=tenant.brokerage, actor=tenant.owner, lead=lead, agent=other_tenant.agent)


def test_losing_a_lead_needs_a_reason_and_stops_its_sequences_and_drafts(login, tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    enrollment, draft = _enrol(lead), _draft(lead)
    client = login(tenant.agent)

    response = client.post(reverse("nurturing:lead_change_stage", args=[lead.pk]), {"stage": "lost"})
    assert response.status_code == 400 and "Say why the lead was lost" in response.content.decode()
    lead.refresh_from_db()
    assert lead.stage == "new"

    client.post(reverse("nurturing:lead_change_stage", args=[lead.pk]),
                {"stage": "lost", "lost_reason": "Bought through another agency"})
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    draft.refresh_from_db()
    assert (lead.stage, lead.lost_reason) == ("lost", "Bought through another agency")
    assert enrollment.status == "stopped" and draft.status == "dismissed"
    assert list(StageChange.objects.filter(lead=lead).values_list("from_stage", "to_stage")) == [
        ("new", "lost"), ("", "new")]


def test_winning_records_the_sale_and_the_timeline_shows_it(login, tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, stage="offer")
    client = login(tenant.agent)
    client.post(reverse("nurturing:lead_change_stage", args=[lead.pk]), {
        "stage": "won", "sale_price": "2450000", "commission": "49000", "satisfaction_score": "5"})
    lead.refresh_from_db()
    assert (lead.sale_price, lead.commission, lead.satisfaction_score) == (Decimal("2450000"), Decimal("49000"), 5)
    page = client.get(reverse("nurturing:lead", args=[lead.pk])).content.decode()
    assert "Offer → <strong>Won</strong>" in page and "2,450,000" in page


def test_a_sale_price_on_an_open_lead_is_refused(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    with pytest.raises(ValidationError, match="belong to a won lead"):
        services.lead_change_stage(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, stage="offer",
                                   sale_price=Decimal("100"))


def test_first_contact_stamps_the_response_time_and_moves_a_new_lead_on(login, tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    draft = _draft(lead)
    client = login(tenant.agent)
    client.post(reverse("nurturing:lead_log_interaction", args=[lead.pk]),
                {"channel": "note", "direction": "internal", "summary": "Looks serious"})
    lead.refresh_from_db()
    assert lead.first_contacted_at is None and lead.stage == "new", "a note is not contact"

    response = client.post(reverse("nurturing:lead_log_interaction", args=[lead.pk]),
                           {"channel": "call", "direction": "outbound", "summary": "Discussed JVC townhouses"})
    assert response.status_code == 302
    lead.refresh_from_db()
    draft.refresh_from_db()
    assert lead.first_contacted_at is not None and lead.last_contacted_at == lead.first_contacted_at
    assert lead.stage == "contacted" and lead.response_minutes == 0
    assert draft.status == "dismissed", "a contacted lead is no longer forgotten"
    page = client.get(reverse("nurturing:lead", args=[lead.pk])).content.decode()
    assert "Discussed JVC townhouses" in page and "First contact" in page


def test_a_reply_stops_the_sequence_but_keeps_a_draft_the_agent_may_still_want(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, stage="qualified")
    enrollment = _enrol(lead)
    services.interaction_log(brokerage=tenant.brokerage, actor=None, lead=lead, channel="whatsapp",
                             direction="inbound", summary="Is the Marina flat still available?")
    enrollment.refresh_from_db()
    lead.refresh_from_db()
    assert enrollment.status == "stopped" and enrollment.stop_reason == "The lead replied"
    assert lead.last_inbound_at is not None


def test_an_opted_out_lead_is_not_contacted(login, tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    enrollment, draft = _enrol(lead), _draft(lead)
    client = login(tenant.agent)
    client.post(reverse("nurturing:lead_contact_preferences", args=[lead.pk]), {"do_not_contact": "on"})
    enrollment.refresh_from_db()
    draft.refresh_from_db()
    assert enrollment.status == "stopped" and draft.status == "dismissed"

    response = client.post(reverse("nurturing:lead_log_interaction", args=[lead.pk]),
                           {"channel": "sms", "direction": "outbound", "summary": "Special offer"})
    assert response.status_code == 400 and "asked not to be contacted" in response.content.decode()
    assert not lead.interactions.exists()


def test_an_interaction_in_the_future_is_refused(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent)
    with pytest.raises(ValidationError, match="future"):
        services.interaction_log(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, channel="call",
                                 summary="Call", occurred_at=timezone.now() + dt.timedelta(days=1))


def test_lead_text_is_shown_escaped(login, tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, name="<script>alert(1)</script>",
                     notes="<img src=x onerror=alert(2)>")
    page = login(tenant.agent).get(reverse("nurturing:lead", args=[lead.pk])).content.decode()
    assert "<script>alert(1)" not in page and "&lt;script&gt;" in page and "<img src=x" not in page


def test_a_lead_keeps_the_furthest_stage_it_reached_when_it_falls_back_or_is_lost(tenant):
    lead = make_lead(tenant.brokerage, agent=tenant.agent, stage="contacted")
    assert lead.furthest_stage == "contacted"
    for stage, furthest in (("viewing", "viewing"), ("qualified", "viewing"), ("offer", "offer"),
                            ("lost", "offer")):
        services.lead_change_stage(brokerage=tenant.brokerage, actor=tenant.agent, lead=lead, stage=stage,
                                   lost_reason="Moved abroad")
        lead.refresh_from_db()
        assert (lead.stage, lead.furthest_stage) == (stage, furthest)
    assert make_lead(tenant.brokerage, agent=tenant.agent, stage="lost").furthest_stage == "new"


def test_the_edit_form_keeps_the_next_follow_up_date_for_the_browsers_date_picker(login, tenant):
    """A date input only takes ISO dates: in the site's format (21/11/2026) the browser shows it empty and
    saving the form would clear the date."""
    lead = make_lead(tenant.brokerage, agent=tenant.agent, next_followup_date=dt.date(2026, 12, 1))
    page = login(tenant.agent).get(reverse("nurturing:lead_edit", args=[lead.pk])).content.decode()
    assert 'type="date"' in page and 'value="2026-12-01"' in page
