"""Knowledge search over 10,000 articles (issue 3 target: p95 <= 30 ms on SQLite and on PostgreSQL).

Measures `copilot.selectors.knowledge_search(brokerage, q)` — the selector behind the search page and
GET /api/knowledge/search — inside the brokerage's scope, as a request runs it, for 50 agent queries (trade
abbreviations, multi-word questions, rare and common words), ROUNDS rounds after one warm-up pass. The baseline,
measured in the same rounds, is a plain indexed lookup of one article by primary key.

A second, informational measurement searches the 34-article demo brokerage while the 10,000-article one shares
the database, to show whether a small tenant pays for a large neighbour's volume.

The `large_kb` fixture runs ANALYZE after its bulk load, so PostgreSQL plans with real statistics of the
search vectors (how many passages each lexeme matches) rather than defaults. That is not a benchmark-only
favour: in production autovacuum's auto-analyze does the same once a table has changed by 10% (its default
`autovacuum_analyze_scale_factor`), which a knowledge base import of this size does many times over. What keeps
PostgreSQL's p95 down is `search_index._rank_candidates`: only the passages with the question's rarest phrases
are ranked.
"""

import random

import pytest
from django.db import connection
from django_scopes import scope

from copilot import selectors
from copilot.models import KnowledgeArticle

from .conftest import database_label
from .timing import BenchResult, Stats, sample

LIMIT_P95_MS = 30.0
ROUNDS = 10

QUERIES = [
    # abbreviations of the trade
    "RERA", "DLD", "NOC", "MOU", "Form F", "SPA", "Ejari", "CMA", "BRN", "AML", "KYC", "Oqood", "Trakheesi",
    "POA", "LTV",
    # what agents type
    "commission split referral agent", "DLD transfer fee who pays", "developer NOC for resale",
    "ejari registration documents", "security deposit refund", "rental increase calculator", "golden visa property",
    "service charges per sq ft", "title deed", "off-plan payment plan", "mortgage pre-approval",
    "whatsapp template first message", "open house sign-in", "listing photos standards", "price too high objection",
    "buyer discovery questions", "first call new lead", "annual leave request", "marketing budget approval",
    "gift from developer conflict of interest", "client consent data protection", "new agent onboarding checklist",
    "tenancy renewal notice 90 days", "co-broking form I 50/50", "trustee office appointment",
    # places, names and rarer words
    "Dubai Marina", "Palm Jumeirah service charge", "Emaar handover passport", "goAML suspicious transaction report",
    "cheques post-dated rent", "VAT on commission", "escrow account off plan", "snagging inspection",
    "Mollak approved budget", "tipping off",
]


def measure(brokerage, rng: random.Random) -> tuple[list[float], list[float], dict[str, int]]:
    """(search durations, pk-lookup durations, results per query) inside the brokerage's scope."""
    with scope(brokerage=brokerage):
        article_ids = list(KnowledgeArticle.objects.filter(brokerage=brokerage).values_list("pk", flat=True))
        lookups = [rng.choice(article_ids) for _ in QUERIES]

        def search(query: str):
            return selectors.knowledge_search(brokerage, query)

        def lookup(pk: int):
            return KnowledgeArticle.objects.get(pk=pk)

        found = {query: len(search(query)) for query in QUERIES}  # warm-up pass, and what each query finds
        for pk in lookups:
            lookup(pk)
        target, baseline = [], []
        for _ in range(ROUNDS):
            baseline += sample(lookup, lookups)
            target += sample(search, rng.sample(QUERIES, len(QUERIES)))
    return target, baseline, found


def notes(found: dict[str, int]) -> dict:
    return {"queries": len(QUERIES), "results_per_query_limit": 20,
            "median_results": sorted(found.values())[len(found) // 2],
            "queries_without_results": sorted(q for q, n in found.items() if n == 0),
            "measured": "copilot.selectors.knowledge_search(brokerage, q) inside scope(brokerage)"}


@pytest.mark.django_db
def test_knowledge_search_10k_articles(large_kb):
    assert len(QUERIES) == 50
    target, baseline, found = measure(large_kb.brokerage, random.Random(7))
    empty = notes(found)["queries_without_results"]
    assert len(empty) <= 2, f"the benchmark queries should find passages; these found none: {empty}"
    result = BenchResult(
        issue=3, name=f"knowledge_search_10k_{connection.vendor}",
        description=f"knowledge_search {large_kb.articles:,} articles",
        database=database_label(), target=Stats.of(target), baseline_name="pk lookup", baseline=Stats.of(baseline),
        limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS, dataset=large_kb.dataset(), notes=notes(found),
    )
    result.publish()
    assert result.met, result.line()


@pytest.mark.django_db
def test_knowledge_search_small_brokerage_beside_10k(handbook_kb, large_kb):
    """The demo handbook's brokerage (34 articles) searched while another brokerage has 10,000 articles in the
    same database: shows whether one tenant's search pays for another tenant's volume. Not an issue target."""
    target, baseline, found = measure(handbook_kb.brokerage, random.Random(7))
    result = BenchResult(
        issue=3, name=f"knowledge_search_34_beside_10k_{connection.vendor}",
        description=f"knowledge_search {handbook_kb.articles} articles, other tenant has {large_kb.articles:,}",
        database=database_label(), target=Stats.of(target), baseline_name="pk lookup", baseline=Stats.of(baseline),
        limit_p95_ms=LIMIT_P95_MS, rounds=ROUNDS, informational=True,
        dataset={**handbook_kb.dataset(), "other_brokerage": large_kb.dataset()}, notes=notes(found),
    )
    result.publish()
