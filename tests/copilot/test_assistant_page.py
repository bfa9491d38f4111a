"""The dual-mode Co-Pilot page (Mentor and Assistant as tabs of one page that keep each other's work), the
Assistant's "Analyze my workflow" (htmx and without JavaScript), its opportunity buttons, and the seed's
`POST /api/copilot/assistant/analyze`."""

import re
from types import ModuleType

import pytest
from django.http import HttpResponse
from django.urls import URLResolver, include, path, reverse

import config.urls
from brokerages.models import Role
from copilot import services
from copilot import urls as copilot_urls

from ..api_helpers import api_as, assert_error
from ..factories import UserFactory
from .assistant_data import DAY, lead
from .assistant_data import now as current_time

pytestmark = pytest.mark.django_db

ANALYZE_API = "/api/copilot/assistant/analyze"
WORKFLOW = {"analysis_type": "workflow_efficiency"}


def analyze(client, data=None, htmx=True):
    headers = {"HTTP_HX_REQUEST": "true"} if htmx else {}
    return client.post(reverse("copilot:assistant_analyze"), data or WORKFLOW, **headers)


def panel(html: str, name: str) -> str:
    """The opening tag of a tab panel."""
    return re.search(rf'<section class="{name}" id="panel-{name}"[^>]*>', html).group(0)


@pytest.fixture
def untouched(tenant):
    """Seven of the agent's leads untouched for 8+ days (the brokerage forgets a lead after 7)."""
    now = current_time()
    return [lead(tenant.agent, now=now, last_contact=(8 + n) * DAY, in_stage=DAY) for n in range(7)]


# --- two tabs, one page ---------------------------------------------------------------------------------------

def test_the_mentor_tab_opens_by_default_with_the_assistant_on_the_same_page(tenant, login):
    html = login(tenant.agent).get(reverse("copilot:copilot")).content.decode()

    assert "hidden" not in panel(html, "mentor") and "hidden" in panel(html, "assistant")
    assert f'href="{reverse("copilot:assistant")}"' in html and 'aria-selected="true" data-tab="mentor"' in html
    assert "Analyze my workflow" in html and "Ask the mentor" in html
    assert "js/copilot_tabs.js" in html and "coming soon" not in html.lower()


@pytest.mark.parametrize("url", ["/copilot/assistant/", "/copilot/?tab=assistant"])
def test_the_assistant_tab_keeps_the_mentors_answer_on_the_page(tenant, login, url):
    services.mentor_ask(brokerage=tenant.brokerage, actor=tenant.agent, question="How do I register Ejari?")

    html = login(tenant.agent).get(url).content.decode()

    assert "hidden" in panel(html, "mentor") and "hidden" not in panel(html, "assistant")
    assert 'aria-selected="true" data-tab="assistant"' in html
    assert 'id="answer"' in html and "How do I register Ejari?" in html  # the mentor's work is still there
    assert 'hx-post="/copilot/assistant/analyze/"' in html and 'action="/copilot/assistant/analyze/"' in html


def test_analysing_swaps_only_the_assistants_panel_so_the_mentors_answer_stays(tenant, login, untouched):
    client = login(tenant.agent)
    answer = client.post(reverse("copilot:mentor_ask"), {"question": "How do I register Ejari?"},
                         HTTP_HX_REQUEST="true").content.decode()
    assert answer.lstrip().startswith('<div id="answer"')

    response = analyze(client)

    html = response.content.decode()
    assert response.status_code == 200 and html.lstrip().startswith('<div id="analysis"')
    assert 'id="answer"' not in html and "<html" not in html and 'id="panel-mentor"' not in html
    assert "Follow up the 7 leads untouched for 7+ days" in html
    assert "7 open leads were last contacted 7 or more days ago (longest: 14 days)." in html
    assert untouched[-1].name in html and reverse("nurturing:lead", kwargs={"pk": untouched[-1].pk}) in html


def test_without_javascript_the_analysis_comes_back_on_the_assistant_tab_with_the_mentor_history(
        tenant, login, untouched):
    services.mentor_ask(brokerage=tenant.brokerage, actor=tenant.agent, question="How do I register Ejari?")

    response = analyze(login(tenant.agent), htmx=False)

    html = response.content.decode()
    assert response.status_code == 200
    assert "hidden" in panel(html, "mentor") and "hidden" not in panel(html, "assistant")
    assert "How do I register Ejari?" in html and "Follow up the 7 leads untouched for 7+ days" in html


def test_the_score_is_shown_with_its_formula_and_parts(tenant, login, untouched):
    html = analyze(login(tenant.agent)).content.decode()

    assert "Efficiency score" in html and "The parts, their weights and what was measured" in html
    assert "score = 100 × Σ (weight × rate) ÷ Σ weight, over the parts that have data" in html
    assert "Leads kept in touch</td><td>30</td><td>0%</td>" in html
    assert "0 of 7 open leads contacted in the last 7 days" in html
    assert "Conversation quality</td><td>10</td><td>no data</td>" in html


def test_a_new_agent_sees_not_enough_data_and_what_to_do(tenant, login):
    html = analyze(login(tenant.agent)).content.decode()

    assert "Not enough data: 0 leads to judge, the score needs at least 5." in html
    assert "No leads to analyse yet." in html and "Let the assistant do it" not in html


def test_an_unknown_analysis_type_is_explained(tenant, login):
    client = login(tenant.agent)

    fragment = analyze(client, {"analysis_type": "crystal_ball"})
    page = analyze(client, {"analysis_type": "crystal_ball"}, htmx=False)

    assert fragment.status_code == 200 and page.status_code == 400
    for response in (fragment, page):
        assert "Unknown analysis type “crystal_ball”. Known types: workflow_efficiency." in response.content.decode()


# --- opportunity buttons --------------------------------------------------------------------------------------

def _automate_stub(request):
    return HttpResponse("ran")


def _urlconf(with_automate: bool) -> ModuleType:
    """The project's URLs with the co-pilot's `assistant_automate` route present or absent, whatever is built."""
    patterns = [entry for entry in copilot_urls.urlpatterns if entry.name != "assistant_automate"]
    if with_automate:
        patterns.append(path("copilot/assistant/automate/", _automate_stub, name="assistant_automate"))
    others = [entry for entry in config.urls.urlpatterns
              if not (isinstance(entry, URLResolver) and entry.namespace == "copilot")]
    urlconf = ModuleType(f"assistant_urls_{'with' if with_automate else 'without'}_automate")
    urlconf.urlpatterns = [path("", include((patterns, "copilot"))), *others]
    return urlconf


def test_opportunity_buttons_wait_for_the_automation_runner(tenant, login, untouched, settings):
    settings.ROOT_URLCONF = _urlconf(with_automate=False)

    html = analyze(login(tenant.agent)).content.decode()

    assert re.search(r'<button class="btn" type="button" disabled>Draft follow-ups for the 7 leads untouched for '
                     r'7\+ days</button> <span class="muted">coming next</span>', html)


def test_opportunity_buttons_post_their_type_and_parameters_to_the_automation_runner(
        tenant, login, untouched, settings):
    settings.ROOT_URLCONF = _urlconf(with_automate=True)

    html = analyze(login(tenant.agent)).content.decode()

    form = re.search(r'<form method="post" action="/copilot/assistant/automate/">.*?</form>', html, re.S).group(0)
    ids = ",".join(str(item.pk) for item in reversed(untouched))
    assert '<input type="hidden" name="type" value="lead_followup">' in form
    assert (f'<input type="hidden" name="parameters" value="{{&quot;lead_ids&quot;:[{ids}],&quot;reason&quot;:'
            '&quot;forgotten&quot;}">') in form
    assert "csrfmiddlewaretoken" in form and "Draft follow-ups for the 7 leads untouched for 7+ days" in form
    assert "coming next" not in html


# --- who may analyse whose workflow ---------------------------------------------------------------------------

def test_support_staff_have_no_assistant(tenant, login):
    client = login(tenant.support)

    html = client.get(reverse("copilot:copilot") + "?tab=assistant").content.decode()

    assert 'id="panel-assistant"' not in html and "Agentic Assistant" not in html
    assert "hidden" not in panel(html, "mentor")
    assert client.get(reverse("copilot:assistant")).status_code == 403
    assert analyze(client).status_code == 403


def test_an_owner_analyses_an_agents_workflow_with_links_to_that_agent(tenant, login, untouched):
    client = login(tenant.owner)
    assert "Whose workflow" in client.get(reverse("copilot:assistant")).content.decode()

    html = analyze(client, {**WORKFLOW, "agent": tenant.agent.pk}).content.decode()

    assert f"Workflow of {tenant.agent.display_name}" in html
    assert "Follow up the 7 leads untouched for 7+ days" in html
    assert f'{reverse("nurturing:followups")}?agent={tenant.agent.pk}' in html


def test_an_agent_may_not_analyse_a_colleague(tenant, login):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    client = login(tenant.agent)

    assert "Whose workflow" not in client.get(reverse("copilot:assistant")).content.decode()
    assert analyze(client, {**WORKFLOW, "agent": colleague.pk}).status_code == 403


@pytest.mark.parametrize("role", [Role.BROKERAGE_OWNER, Role.AGENT])
def test_another_brokerages_member_does_not_exist(tenant, other_tenant, login, role):
    response = analyze(login(tenant.member(role)), {**WORKFLOW, "agent": other_tenant.agent.pk})

    assert response.status_code == 404


# --- the API --------------------------------------------------------------------------------------------------

def test_the_api_returns_the_seeds_assistant_analysis(tenant, untouched):
    response = api_as(tenant.agent).post(ANALYZE_API, WORKFLOW, format="json")

    assert response.status_code == 200
    body = response.json()
    assert {"recommendations", "automation_opportunities", "efficiency_score"} <= set(body)
    [quiet] = [item for item in body["recommendations"] if item["kind"] == "gone_quiet"]
    assert quiet["title"] == "Follow up the 7 leads untouched for 7+ days" and quiet["priority"] == "high"
    [followup] = [item for item in body["automation_opportunities"] if item["type"] == "lead_followup"]
    assert followup["parameters"] == {"lead_ids": [item.pk for item in reversed(untouched)], "reason": "forgotten"}
    assert body["efficiency_score"] == body["score"]["score"] and body["score"]["formula"].startswith("score = ")
    assert body["facts"]["gone_quiet"]["count"] == 7 and body["agent_id"] == tenant.agent.pk


def test_the_api_refuses_an_unknown_analysis_type_with_the_known_ones(tenant):
    error = assert_error(api_as(tenant.agent).post(ANALYZE_API, {"analysis_type": "crystal_ball"}, format="json"),
                         400)

    assert error["fields"] == {"analysis_type": ["Unknown analysis type “crystal_ball”. Known types: "
                                                 "workflow_efficiency."]}


def test_the_api_refuses_unknown_fields_and_guards_other_members(tenant, other_tenant):
    colleague = UserFactory(brokerage=tenant.brokerage, role=Role.AGENT)
    agent, owner = api_as(tenant.agent), api_as(tenant.owner)

    assert assert_error(agent.post(ANALYZE_API, {**WORKFLOW, "brokerage": 9}, format="json"), 400)["fields"] == {
        "brokerage": ["Unknown field."]}
    assert_error(agent.post(ANALYZE_API, {"agent_id": colleague.pk}, format="json"), 403)
    assert_error(owner.post(ANALYZE_API, {"agent_id": other_tenant.agent.pk}, format="json"), 404)
    assert owner.post(ANALYZE_API, {"agent_id": colleague.pk}, format="json").json()["agent_id"] == colleague.pk
    assert_error(api_as(tenant.support).post(ANALYZE_API, WORKFLOW, format="json"), 403)
