"""The lead analytics page as owners and support staff use it: the figures of the period's leads, the leaking
leads to open, empty states that say what to do, CSV downloads of every table, and the filter's in-place reload."""

import csv
import datetime as dt
import io

import pytest
from django.urls import reverse
from django.utils import timezone

from brokerages.models import Role
from nurturing.models import Lead
from tests.factories import UserFactory, make_lead

URL = reverse("analytics:leads")


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def lead(tenant, *, agent=None, created=None, first=None, last=None, stage="new", name="Layla Haddad",
         source="website", lost_reason=""):
    made = make_lead(tenant.brokerage, agent=agent or tenant.agent, stage=stage, created_at=created or ago(days=10),
                     name=name, source=source)
    Lead.objects.filter(pk=made.pk).update(first_contacted_at=first, last_contacted_at=last or first,
                                           lost_reason=lost_reason)
    return made


def rows(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.fixture
def pipeline(tenant):
    """Four leads of the last 30 days: one answered in 3 minutes and still talking, one forgotten, one lost,
    one won; and a lead of another brokerage that must never show."""
    created = ago(days=12)
    talking = lead(tenant, created=created, first=created + dt.timedelta(minutes=3), last=ago(days=1),
                   stage="viewing", name="Talking Lead", source="portal")
    forgotten = lead(tenant, created=created, name="Forgotten Lead", source="portal")
    lead(tenant, created=created, first=created + dt.timedelta(hours=2), stage="lost", name="Lost Lead",
         lost_reason="Bought elsewhere", source="referral")
    lead(tenant, created=created, first=created + dt.timedelta(days=2), stage="won", name="Won Lead")
    return {"talking": talking, "forgotten": forgotten}


@pytest.mark.parametrize("role", [Role.BROKERAGE_OWNER, Role.SUPPORT_STAFF])
def test_managers_see_the_period_s_lead_figures(tenant, other_tenant, login, pipeline, role):
    lead(other_tenant, name="Someone Else's Lead")

    response = login(tenant.member(role)).get(URL)

    assert response.status_code == 200
    assert response.context["tab"] == "leads"
    page = response.content.decode()
    for heading in ("Speed to lead", "Leakage", "Stage funnel", "Retention", "Why leads were lost", "By agent",
                    "By source"):
        assert heading in page
    metrics = response.context["metrics"]
    assert (metrics.leads, metrics.totals.contacted, metrics.leaking) == (4, 3, 1)
    assert "Someone Else" not in page
    assert "Bought elsewhere" in page
    assert "Property portal" in page


def test_agents_are_not_shown_the_team_s_lead_analytics(tenant, login):
    assert login(tenant.agent).get(URL).status_code == 403


def test_leaking_leads_link_to_the_lead(tenant, login, pipeline):
    page = login(tenant.owner).get(URL).content.decode()

    detail = reverse("nurturing:lead", args=[pipeline["forgotten"].pk])
    assert f'href="{detail}"' in page
    assert reverse("nurturing:lead", args=[pipeline["talking"].pk]) not in page
    assert "is still open and has had no contact for 7 days or more" in page


def test_leakage_of_a_past_period_is_judged_at_its_end(tenant, login):
    lead(tenant, created=ago(days=60), name="Forgotten Then")
    end = timezone.localdate() - dt.timedelta(days=20)

    page = login(tenant.owner).get(URL, {"period": "custom", "start": (end - dt.timedelta(days=59)).isoformat(),
                                         "end": end.isoformat()}).content.decode()

    assert f"was still open with no contact for 7 days or more at the end of {end:%-d %b %Y}" in page
    assert "Forgotten Then" in page


def test_an_empty_crm_says_how_to_get_leads_in(tenant, login):
    owner_page = login(tenant.owner).get(URL).content.decode()
    assert "No leads yet" in owner_page
    assert reverse("nurturing:import") in owner_page
    assert reverse("nurturing:lead_webhook_settings") in owner_page
    assert "Speed to lead" not in owner_page

    support_page = login(tenant.support).get(URL).content.decode()
    assert reverse("nurturing:import") in support_page
    assert reverse("nurturing:lead_webhook_settings") not in support_page
    assert "Ask the brokerage owner to connect the lead webhook" in support_page


def test_a_quiet_period_or_agent_asks_for_another_filter(tenant, login, pipeline):
    newcomer = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT, full_name="Omar Saleh")

    page = login(tenant.owner).get(URL, {"agent": newcomer.pk}).content.decode()

    assert "No leads were created in" in page and "for Omar Saleh" in page
    assert "“All agents”" in page
    assert "No leads yet" not in page


def test_every_table_downloads_as_csv_with_the_filter_kept(tenant, login, pipeline):
    client = login(tenant.owner)

    by_agent = rows(client.get(URL, {"period": "last_30", "export": "by_agent"}))
    assert by_agent[0][:6] == ["agent", "leads", "contacted", "contact rate", "within 5 minutes rate", "leaking"]
    assert by_agent[1][:6] == [tenant.agent.display_name, "4", "3", "0.75", "0.25", "1"]

    speed = rows(client.get(URL, {"export": "speed_to_lead"}))
    assert speed[1:] == [["Within 5 minutes", "1", "0.25"], ["5 minutes to 1 hour", "0", "0.0"],
                         ["1 to 24 hours", "1", "0.25"], ["After 24 hours", "1", "0.25"],
                         ["Not contacted yet", "1", "0.25"]]

    leaking = rows(client.get(URL, {"export": "leaking"}))
    assert [row[1:4] for row in leaking[1:]] == [["Forgotten Lead", tenant.agent.display_name, "New"]]

    funnel = rows(client.get(URL, {"export": "funnel"}))
    assert [row[:2] for row in funnel[1:]] == [["New", "4"], ["Contacted", "3"], ["Qualified", "2"],
                                               ["Viewing", "2"], ["Offer", "1"], ["Won", "1"]]

    for table in ("retention", "lost_reasons", "by_source"):
        assert len(rows(client.get(URL, {"export": table}))) > 1

    only_newcomer = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    assert rows(client.get(URL, {"agent": only_newcomer.pk, "export": "by_agent"}))[1:] == []
    assert client.get(URL, {"export": "pie_chart"}).status_code == 404


def test_csv_cells_cannot_run_as_spreadsheet_formulas(tenant, login):
    lead(tenant, created=ago(days=20), name="=HYPERLINK(\"http://evil.test\")")

    leaking = rows(login(tenant.owner).get(URL, {"export": "leaking"}))

    assert leaking[1][1].startswith("'=HYPERLINK")


def test_the_filter_reloads_the_body_in_place(tenant, login, pipeline):
    lead(tenant, created=ago(days=60), name="Older Lead")
    client = login(tenant.owner)

    response = client.get(URL, {"period": "last_90"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    page = response.content.decode()
    assert 'id="analytics-body"' in page
    assert response.context["metrics"].leads == 5
    assert "export=by_agent" in page and "period=last_90" in page


def test_a_reversed_period_is_explained_and_the_default_shown(tenant, login, pipeline):
    today = timezone.localdate()
    response = login(tenant.owner).get(URL, {"period": "custom", "start": today.isoformat(),
                                             "end": (today - dt.timedelta(days=3)).isoformat()})

    assert response.status_code == 400
    page = response.content.decode()
    assert "swap the dates" in page
    assert response.context["metrics"].leads == 4
