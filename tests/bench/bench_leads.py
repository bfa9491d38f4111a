"""The lead list page with 50,000 leads in the brokerage (issue 4 target: p95 <= 100 ms).

GET /leads/ through Django's test client signed in (the whole stack: session, tenant middleware, permission
check, the `leads` selector, pagination with its count, the template), for a mix of what people do on the page —
first page, a deep page, a stage filter, a name search, a budget range, an agent filter, the htmx partial — as
the owner (every lead) and as an agent who holds 10,000 of them through guardian object permissions. ROUNDS
rounds after a warm-up. The baseline, in the same rounds through the same client, is GET /account/ (a signed-in
page that reads no leads).
"""

import random
import time
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.db import connection, transaction
from django.test import Client
from django.utils import timezone
from django_scopes import scopes_disabled

from brokerages.models import Role
from nurturing.models import Lead, LeadUserObjectPermission
from tests.factories import BrokerageFactory, UserFactory

from .conftest import database_label
from .timing import BenchResult, Stats, sample

LIMIT_P95_MS = 100.0
ROUNDS = 3
LEADS = 50_000
AGENTS = 5
STAGES = ("new", "contacted", "qualified", "viewing", "offer", "won", "lost")
QUERIES = [{}, {"page": "2"}, {"page": "400"}, {"stage": "qualified"}, {"q": "haddad"}, {"q": "+97150"},
           {"budget_min": "2000000", "budget_max": "3000000"}, {"stage": "won", "page": "3"},
           {"source": "portal", "priority": "high"}, {"clients": "on"}]


def _build(brokerage, agents) -> float:
    """50,000 leads spread over the agents, each agent holding the object permission on theirs."""
    rng = random.Random(4)
    now = timezone.now()
    started = time.perf_counter()
    with transaction.atomic():
        leads = Lead.objects.bulk_create([
            Lead(brokerage=brokerage, assigned_agent=agents[n % AGENTS], name=f"Lead {n} {rng.choice(['Haddad', 'Khan', 'Sharma', 'Petrova'])}",
                 email=f"lead{n}@example.test", phone=f"+9715{rng.randint(10000000, 99999999)}",
                 source=rng.choice(["website", "portal", "referral"]), stage=rng.choice(STAGES),
                 priority=rng.choice(["low", "medium", "high"]), budget_min=Decimal(rng.randint(5, 60) * 100_000),
                 budget_max=Decimal(rng.randint(61, 90) * 100_000), areas=["Dubai Marina"],
                 created_at=now - timezone.timedelta(minutes=n))
            for n in range(LEADS)], batch_size=2000)
        permission = Permission.objects.get(codename="work_lead")
        LeadUserObjectPermission.objects.bulk_create([
            LeadUserObjectPermission(user=lead.assigned_agent, permission=permission, content_object=lead)
            for lead in leads], batch_size=2000)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


@pytest.fixture(scope="module")
def crm(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), scopes_disabled():
        brokerage = BrokerageFactory(name="Bench CRM Realty", slug="bench-crm")
        owner = UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email="owner@bench-crm.test")
        agents = [UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent{n}@bench-crm.test")
                  for n in range(AGENTS)]
        seconds = _build(brokerage, agents)
    yield brokerage, owner, agents[0], seconds
    with django_db_blocker.unblock(), scopes_disabled():
        Lead.objects.filter(brokerage=brokerage).delete()


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["owner", "agent"])
def test_lead_list_page(who, crm):
    brokerage, owner, agent, build_seconds = crm
    client = Client()
    client.force_login(owner if who == "owner" else agent)
    rng = random.Random(9)
    requests = [(query, rng.random() < 0.3) for query in QUERIES * 5]

    def lead_list(item):
        query, partial = item
        return client.get("/leads/", query, **({"HTTP_HX_REQUEST": "true"} if partial else {}))

    def check(item, response):
        assert response.status_code == 200, response.content[:300]

    def account(_):
        return client.get("/account/")

    sample(lead_list, requests, check=check)  # warm-up
    target, baseline = [], []
    for _ in range(ROUNDS):
        baseline += sample(account, range(len(requests)), check=check)
        target += sample(lead_list, rng.sample(requests, len(requests)), check=check)

    visible = Lead.objects.filter(brokerage=brokerage).count() if who == "owner" else \
        Lead.objects.filter(brokerage=brokerage, assigned_agent=agent).count()
    result = BenchResult(
        issue=4, name=f"lead_list_{who}_{connection.vendor}",
        description=f"lead list page as {who}, {visible:,} of {LEADS:,} leads visible",
        database=database_label(), target=Stats.of(target), baseline_name="GET /account/",
        baseline=Stats.of(baseline), limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS,
        dataset={"leads": LEADS, "visible": visible, "agents": AGENTS, "build_seconds": round(build_seconds, 1)},
        notes={"requests_per_round": len(requests), "queries": QUERIES, "htmx_share": 0.3},
    )
    result.publish()
    assert result.met, result.line()
