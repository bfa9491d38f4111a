"""Fault drill (issue 10): the model provider fails every call — it times out, answers 429 or 500, or sends JSON
that cannot be read — and every AI feature still answers, with the local engine, marked degraded, within its
latency target plus the model timeout.

The real anthropic and google-genai SDKs talk to a scripted server on 127.0.0.1 (tests/copilot/fake_llm_server.py).
The timeout is short (1 s) and the retries are production's (`LLM_MAX_RETRIES`, 2 unless the environment says
otherwise): `LLM_TIMEOUT_SECONDS` bounds a model call as a whole, retries included (copilot/llm/budget.py), so the
wait a user sees is the feature's own time plus at most one timeout.

Each case is one feature × provider × fault, driven the way a user or the worker drives it: the API request (and
the mentor's page), or the Celery task of the deep conversation analysis. It asserts the answer, its time, the
degraded marker where the result is shown, and that exactly one complete local result was stored.

Latency targets (tests/bench, docs/benchmarks.md, the issues):
- mentor answer through the API: 150 ms (#3);
- assistant content generation, the whole automate request: 200 ms (#7);
- follow-up draft: no target of its own; the automate request's 200 ms (#7), whose `lead_followup` runs the same
  drafting service;
- deep conversation analysis (the Celery task at a conversation's end): no issue sets a target for the task.
  #5's 20 ms covers the analysis alone; the task also stores it, raises its alerts and refreshes the session
  (15-50 ms measured here), so the drill allows 100 ms: the 20 ms analysis plus 80 ms for those writes;
- training plan: 200 ms (#5);
- workflow analysis: 300 ms (#7); it calls no model, so a broken provider must not touch it.

The measured times are recorded as junit properties (`--junitxml`, with `-o junit_family=xunit1`): `wall_ms`
(what the user waited), `model_ms` (the model call, every attempt included), `bound_ms`, `model_requests`, and
for the mentor's page `page_ms`.
"""

import time
from dataclasses import dataclass
from typing import Callable

import pytest
from django.conf import settings as django_settings
from django.urls import resolve, reverse

from brokerages.models import AuditLog
from brokerages.services import settings_update
from coaching.analysis import MessageIn, analyse
from coaching.models import CoachingAlert, Conversation, TrainingPlan
from coaching.tasks import conversation_analyse_deep
from copilot import services as copilot_services
from copilot.demo import handbook_files
from copilot.llm import ProviderError, get_provider
from copilot.models import AssistantRun, MentorQuestion
from copilot.vocabulary import concepts
from nurturing.models import FollowUp
from tests.api_helpers import api_as
from tests.coaching.test_performance import scored, talk
from tests.copilot.fake_llm_server import (
    FakeLLMServer,
    Reply,
    anthropic_error,
    anthropic_message,
    gemini_error,
    gemini_response,
)
from tests.factories import ListingFactory, make_conversation, make_lead

pytestmark = pytest.mark.django_db

TIMEOUT = 1.0
# How far past the budget a model call may end: a timer firing and a thread switch, not another attempt.
BUDGET_SLACK_MS = 50
# The fake holds a "late" answer this long: far past the timeout, cut short when the server stops.
LATE = 30.0

# Areas in coaching.analysis.AREAS order: weak at objections and closing, so a plan has gaps to work on.
STRUGGLING_AREAS = (68, 85, 40, 55, 80)
POLICIES = {"commission-split-policy.md", "agent-commission-tiers-payout.md", "form-i-agent-to-agent.md"}
QUESTION = "how much commission do we split with a referral agent?"
CALL = [("agent", "Good morning, this is Sara from Palm Crest about the Marina flat."),
        ("lead", "This asking price is too high, similar flats in Dubai Marina sold for less."),
        ("agent", "Take it or leave it, that's the price and the owner won't budge."),
        ("lead", "Then I will keep looking, thanks.")]


# --- the provider and its faults ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Provider:
    name: str
    ok: Callable[..., dict]
    error: Callable[[int], dict]


PROVIDERS = {"anthropic": Provider("anthropic", anthropic_message, anthropic_error),
             "gemini": Provider("gemini", gemini_response, gemini_error)}

# Fault name → (the reply to every request, the degraded reason the product must record).
FAULTS: dict[str, tuple[Callable[[Provider], Reply], str]] = {
    "timeout": (lambda p: Reply(body=p.ok("{}"), delay=LATE), "timeout"),
    "429": (lambda p: Reply(status=429, body=p.error(429)), "rate_limited"),
    "500": (lambda p: Reply(status=500, body=p.error(500)), "server_error"),
    # A 200 whose body is cut off mid-JSON (a proxy or a broken stream), and a well-formed answer whose text
    # holds no JSON object.
    "malformed body": (lambda p: Reply(body='{"id": "msg_01", "content": [{"type": "te'), "malformed"),
    "malformed answer": (lambda p: Reply(body=p.ok('Here it is: {"answer": "Split 25%", "citations": [1')),
                         "malformed"),
}


@pytest.fixture(scope="module")
def model_server():
    # Costs a process pays once, whatever the provider does, are paid here rather than timed as part of the
    # first feature: the SDKs load on the first model call (1.6 s for anthropic, 0.5 s for google-genai) and
    # the mentor's word frequencies on the first question (about 2 s), the URLconf on the first request.
    import copilot.llm.anthropic_provider  # noqa: F401
    import copilot.llm.gemini_provider  # noqa: F401

    concepts(QUESTION)
    resolve("/")  # the first request of a process imports every view (about 4 s under load)
    server = FakeLLMServer()
    server.start()
    yield server
    server.stop()


@dataclass
class Drill:
    tenant: object
    provider: Provider
    server: FakeLLMServer
    model_ms: list[float]  # how long each model call took, all its attempts included


@pytest.fixture(params=sorted(PROVIDERS))
def drill(request, tenant, settings, monkeypatch, model_server) -> Drill:
    provider = PROVIDERS[request.param]
    prefix = provider.name.upper()
    setattr(settings, f"{prefix}_API_KEY", f"drill-{provider.name}-key")
    setattr(settings, f"{prefix}_MODEL", f"{provider.name}-drill")
    setattr(settings, f"{prefix}_BASE_URL", model_server.base_url)
    settings.LLM_TIMEOUT_SECONDS = TIMEOUT
    settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"ai_provider": provider.name})
    # One healthy call builds this configuration's client (kept per process) and sets up the SDK's request
    # machinery, 25-150 ms paid once per process.
    model_server.script(Reply(body=provider.ok("ready")))
    client = get_provider(provider.name)
    client.complete(system="warm-up", prompt="warm-up")
    # The features reach this same client (one per configuration and process); time its calls there.
    model_ms, complete = [], client.complete

    def timed_complete(**kwargs):
        started = time.perf_counter()
        try:
            return complete(**kwargs)
        finally:
            model_ms.append((time.perf_counter() - started) * 1000)

    monkeypatch.setattr(client, "complete", timed_complete, raising=False)
    # The first request of a test process sets up DRF, the middleware and their caches: not the feature's time.
    api_as(tenant.agent).get("/api/brokerage/profile")
    return Drill(tenant, provider, model_server, model_ms)


def timed(call: Callable):
    started = time.perf_counter()
    result = call()
    return (time.perf_counter() - started) * 1000, result


# --- the features -------------------------------------------------------------------------------------------
# Each takes the drill and returns (wall ms, what the user got); `check` then proves the marker is shown and
# one complete local result is stored.

@dataclass(frozen=True)
class Feature:
    target_ms: float
    prepare: Callable[[Drill], dict]
    act: Callable[[Drill, dict], tuple[float, object]]
    check: Callable[[Drill, dict, object, str], None]


def mentor_prepare(drill: Drill) -> dict:
    files = [(name, data) for name, data in handbook_files() if name in POLICIES]
    copilot_services.articles_import(brokerage=drill.tenant.brokerage, actor=drill.tenant.owner, files=files)
    return {"api": api_as(drill.tenant.agent)}


def mentor_act(drill: Drill, ctx: dict):
    return timed(lambda: ctx["api"].post("/api/copilot/mentor/ask", {"question": QUESTION}, format="json"))


def mentor_check(drill: Drill, ctx: dict, response, reason: str) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["degraded"] is True and body["provider"] == "local" and not body["abstained"]
    assert "[1]" in body["answer"] and body["sources"][0]["title"] == "Commission Split Policy"
    [record] = MentorQuestion.objects.filter(brokerage=drill.tenant.brokerage)
    assert (record.provider, record.degraded, record.answer) == ("local", True, body["answer"])
    # The page an agent asks on: the same fallback, in the same time, saying so.
    client = ctx.setdefault("client", _logged_in(drill.tenant.agent))
    elapsed, page = timed(lambda: client.post(reverse("copilot:mentor_ask"), {"question": QUESTION},
                                              HTTP_HX_REQUEST="true"))
    assert page.status_code == 200
    assert "(degraded: the AI provider failed, local answer shown)" in page.content.decode()
    ctx["page_ms"] = elapsed


def followup_prepare(drill: Drill) -> dict:
    lead = make_lead(drill.tenant.brokerage, agent=drill.tenant.agent, name="Omar Saleh", phone="+971501234567")
    return {"api": api_as(drill.tenant.agent), "lead": lead}


def followup_act(drill: Drill, ctx: dict):
    return timed(lambda: ctx["api"].post(f"/api/nurturing/leads/{ctx['lead'].pk}/followups", {}, format="json"))


def followup_check(drill: Drill, ctx: dict, response, reason: str) -> None:
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["engine"], body["degraded"]) == ("local", True) and "Omar" in body["content"]
    [stored] = FollowUp.objects.filter(lead=ctx["lead"])
    assert (stored.engine, stored.degraded, stored.content) == ("local", True, body["content"])
    entry = AuditLog.objects.get(action="nurturing.followup_created", resource_id=str(stored.pk))
    assert entry.details["degraded"] is True
    page = _logged_in(drill.tenant.agent).get(reverse("nurturing:followups"))
    assert "the AI provider failed, so the local engine wrote it" in page.content.decode()


def content_prepare(drill: Drill) -> dict:
    listing = ListingFactory(brokerage=drill.tenant.brokerage, listing_agent=drill.tenant.agent)
    return {"api": api_as(drill.tenant.agent), "listing": listing}


def content_act(drill: Drill, ctx: dict):
    request = {"automation_type": "content_generation",
               "parameters": {"listing_id": ctx["listing"].pk, "content_type": "listing_description"}}
    return timed(lambda: ctx["api"].post("/api/copilot/assistant/automate", request, format="json"))


def content_check(drill: Drill, ctx: dict, response, reason: str) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] and body["degraded"] is True and body["status"] == "succeeded"
    assert body["text"].startswith(ctx["listing"].title) and body["result"]["compliance"]["passed"]
    [run] = AssistantRun.objects.filter(brokerage=drill.tenant.brokerage)
    assert run.degraded and run.output["degraded_reason"] == reason and run.output["text"] == body["text"]
    page = _logged_in(drill.tenant.agent).get(reverse("copilot:assistant_run", kwargs={"pk": run.pk}))
    assert "so the local engine did the work" in page.content.decode()


def analysis_prepare(drill: Drill) -> dict:
    # An ended call, judged by the local engine at its end; the deep analysis is the worker's task.
    conversation = make_conversation(drill.tenant.brokerage, drill.tenant.agent, CALL)
    local = analyse([MessageIn(speaker, text) for speaker, text in CALL], final=True)
    return {"conversation": conversation, "local": local}


def analysis_act(drill: Drill, ctx: dict):
    return timed(lambda: conversation_analyse_deep(conversation_id=ctx["conversation"].pk))


def analysis_check(drill: Drill, ctx: dict, response, reason: str) -> None:
    conversation = Conversation.objects.get(pk=ctx["conversation"].pk)
    local = ctx["local"]
    assert (conversation.analysis_engine, conversation.analysis_degraded) == ("local", True)
    assert conversation.quality_score == local.overall_quality_score
    assert conversation.analysis["findings"] == local.to_dict()["findings"]
    assert conversation.analysis["degraded_reason"] == reason
    assert not CoachingAlert.objects.filter(conversation=conversation).exists()  # no model finding half-kept
    body = api_as(drill.tenant.agent).get(f"/api/coaching/conversations/{conversation.pk}/analysis").json()
    assert body["degraded"] is True and body["analysis"]["degraded_reason"] == reason
    page = _logged_in(drill.tenant.agent).get(reverse("coaching:conversation", kwargs={"pk": conversation.pk}))
    assert "<strong>degraded</strong>" in page.content.decode()


def plan_prepare(drill: Drill) -> dict:
    for days_ago in (10, 4):
        talk(drill.tenant.brokerage, drill.tenant.agent, days_ago, scored(60, STRUGGLING_AREAS))
    return {"api": api_as(drill.tenant.owner)}


def plan_act(drill: Drill, ctx: dict):
    return timed(lambda: ctx["api"].post(f"/api/coaching/agents/{drill.tenant.agent.pk}/training-plans",
                                         {"target_completion_days": 30}, format="json"))


def plan_check(drill: Drill, ctx: dict, response, reason: str) -> None:
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["engine"], body["degraded"]) == ("local", True) and body["training_modules"]
    [plan] = TrainingPlan.objects.filter(agent=drill.tenant.agent)
    assert (plan.engine, plan.degraded, plan.status) == ("local", True, "active")
    assert [item.module.key for item in plan.items.order_by("position")] == [
        module["key"] for module in body["training_modules"]]
    entry = AuditLog.objects.get(action="coaching.training_plan_created", resource_id=str(plan.pk))
    assert entry.details["degraded_reason"] == reason
    page = _logged_in(drill.tenant.agent).get(reverse("coaching:training"))
    assert "engine: local (degraded)" in page.content.decode()


FEATURES = {
    "mentor answer": Feature(150, mentor_prepare, mentor_act, mentor_check),
    "follow-up draft": Feature(200, followup_prepare, followup_act, followup_check),
    "assistant content": Feature(200, content_prepare, content_act, content_check),
    "deep conversation analysis": Feature(100, analysis_prepare, analysis_act, analysis_check),
    "training plan": Feature(200, plan_prepare, plan_act, plan_check),
}


def _logged_in(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


# --- the drill ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("fault", list(FAULTS))
@pytest.mark.parametrize("feature", list(FEATURES))
def test_every_ai_feature_answers_locally_marked_degraded_within_target_plus_timeout(drill, feature, fault,
                                                                                    record_property):
    spec = FEATURES[feature]
    make_reply, reason = FAULTS[fault]
    ctx = spec.prepare(drill)
    drill.server.script(make_reply(drill.provider))

    wall_ms, answer = spec.act(drill, ctx)
    requests = len(drill.server.requests)

    bound_ms = spec.target_ms + TIMEOUT * 1000
    [model_ms] = drill.model_ms
    record_property("wall_ms", round(wall_ms, 1))
    record_property("model_ms", round(model_ms, 1))
    record_property("bound_ms", bound_ms)
    record_property("model_requests", requests)
    # The model was asked (the fallback is not a shortcut), at most once per attempt production allows, and
    # the whole call, retries included, kept to the timeout.
    assert 1 <= requests <= django_settings.LLM_MAX_RETRIES + 1, requests
    assert model_ms <= TIMEOUT * 1000 + BUDGET_SLACK_MS, f"{feature}, {fault}: the model call took {model_ms:.0f} ms"
    assert wall_ms <= bound_ms, (f"{feature}, {fault}: {wall_ms:.0f} ms > {bound_ms:.0f} ms: the model call took "
                                 f"{model_ms:.0f} ms ({requests} requests), the rest {wall_ms - model_ms:.0f} ms")
    spec.check(drill, ctx, answer, reason)
    if "page_ms" in ctx:
        record_property("page_ms", round(ctx["page_ms"], 1))
        record_property("page_model_ms", round(drill.model_ms[1], 1))
        assert ctx["page_ms"] <= bound_ms, f"{feature} page, {fault}: {ctx['page_ms']:.0f} ms > {bound_ms:.0f} ms"


def test_the_workflow_analysis_calls_no_model_and_keeps_its_target(drill, record_property):
    drill.server.script(FAULTS["timeout"][0](drill.provider))
    api = api_as(drill.tenant.agent)

    wall_ms, response = timed(lambda: api.post("/api/copilot/assistant/analyze", {}, format="json"))

    record_property("wall_ms", round(wall_ms, 1))
    assert response.status_code == 200, response.content
    assert response.json()["recommendations"] is not None
    assert drill.server.requests == []
    assert wall_ms <= 300


@pytest.mark.parametrize(("replies", "outcome", "requests", "max_ms"), [
    # Asked to come back in 5 s, beyond the 1 s budget: the local engine answers now rather than never.
    ([Reply(status=429, headers={"retry-after": "5"})], "rate_limited", 1, 100),
    # A short Retry-After fits: the retry is made and its answer used.
    ([Reply(status=429, headers={"retry-after-ms": "100"}), None], "ok", 2, 400),
    # Errors straight away: retried while a useful attempt still fits, never past the budget.
    ([Reply(status=500)], "server_error", None, TIMEOUT * 1000),
])
def test_retries_stay_inside_the_call_budget(drill, replies, outcome, requests, max_ms):
    provider = drill.provider
    drill.server.script(*[Reply(status=reply.status, body=provider.error(reply.status), headers=reply.headers)
                          if reply else Reply(body=provider.ok("second time lucky")) for reply in replies])

    started = time.perf_counter()
    try:
        result = get_provider(provider.name).complete(system="s", prompt="p").text
    except ProviderError as error:
        result = error.kind
    elapsed_ms = (time.perf_counter() - started) * 1000

    assert result == ("second time lucky" if outcome == "ok" else outcome)
    assert elapsed_ms <= max_ms
    made = len(drill.server.requests)
    assert made == requests if requests else 1 <= made <= django_settings.LLM_MAX_RETRIES + 1
