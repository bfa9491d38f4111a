"""Fixtures of the benchmarks: a file-backed SQLite test database (as in production, not the in-memory one the
suite uses), the demo handbook brokerage and a 10,000-article brokerage, each built once per session through the
real indexing path, and a summary of every benchmark's line at the end of the run."""

import functools
import time
from collections import Counter
from dataclasses import dataclass

import pytest
from django.db import connection, transaction
from django_scopes import scopes_disabled
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from brokerages.models import Brokerage, Role, User
from copilot import search_index, vocabulary
from copilot.demo import handbook_files
from copilot.models import KnowledgeArticle, KnowledgePassage, KnowledgeTerm, MentorQuestion
from copilot.services import articles_import
from tests.factories import BrokerageFactory, UserFactory

from . import corpus
from .timing import SUMMARY_LINES

LARGE_KB_ARTICLES = 10_000


def pytest_terminal_summary(terminalreporter):
    if SUMMARY_LINES:
        terminalreporter.section("benchmarks")
        for line in SUMMARY_LINES:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix, tmp_path_factory):
    """SQLite runs on a file with the production connection options (WAL), not in memory; PostgreSQL as given."""
    from django.conf import settings

    database = settings.DATABASES["default"]
    if database["ENGINE"] == "django.db.backends.sqlite3":
        database.setdefault("TEST", {})["NAME"] = str(tmp_path_factory.mktemp("bench-db") / "bench.sqlite3")


def database_label() -> str:
    if connection.vendor == "sqlite":
        import sqlite3

        return f"sqlite {sqlite3.sqlite_version}, file"
    if connection.vendor == "postgresql":
        version = connection.pg_version  # e.g. 150012
        return f"postgresql {version // 10000}.{version % 100}"
    return connection.vendor


def _assert_test_database() -> None:
    """Session fixtures run before any test body; make sure the test database is the one in use (pytest-django
    only creates it when a collected test is marked `django_db`)."""
    name = str(connection.settings_dict["NAME"])
    expected = connection.settings_dict.get("TEST", {}).get("NAME") or "test_"
    if not (name == expected or name.startswith("test_")):
        raise RuntimeError(f"benchmark data would go to {name!r}, not a test database: mark the test django_db")


@dataclass
class KnowledgeBase:
    brokerage: Brokerage
    agent: User
    token: str
    articles: int
    passages: int
    terms: int
    build_seconds: float

    def api(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        return client

    def dataset(self) -> dict:
        return {"brokerage": self.brokerage.slug, "articles": self.articles, "passages": self.passages,
                "terms": self.terms, "build_seconds": round(self.build_seconds, 1)}


def _member(brokerage: Brokerage) -> tuple[User, str]:
    agent = UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent@{brokerage.slug}.bench")
    return agent, Token.objects.create(user=agent).key


def _knowledge_base(brokerage: Brokerage, agent: User, token: str, build_seconds: float) -> KnowledgeBase:
    return KnowledgeBase(
        brokerage, agent, token,
        articles=KnowledgeArticle.objects.filter(brokerage=brokerage, is_active=True).count(),
        passages=KnowledgePassage.objects.filter(brokerage=brokerage).count(),
        terms=KnowledgeTerm.objects.filter(brokerage=brokerage).count(), build_seconds=build_seconds)


def _drop_knowledge(brokerage: Brokerage) -> None:
    """Remove a benchmark brokerage's knowledge base and its index rows (the SQLite FTS table has no foreign key
    to cascade). The brokerage, its member and the audit entries stay: the audit log is append-only, and the
    test database is dropped at the end of the session anyway."""
    with scopes_disabled(), transaction.atomic():
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute(f"DELETE FROM {search_index.FTS_TABLE} WHERE rowid IN "  # noqa: S608
                               "(SELECT id FROM copilot_knowledgepassage WHERE brokerage_id = %s)", [brokerage.pk])
        MentorQuestion.objects.filter(brokerage=brokerage).delete()
        KnowledgeTerm.objects.filter(brokerage=brokerage).delete()
        KnowledgePassage.objects.filter(brokerage=brokerage).delete()
        KnowledgeArticle.objects.filter(brokerage=brokerage).delete()


@pytest.fixture(scope="session")
def handbook_kb(django_db_setup, django_db_blocker):
    """The demo handbook (34 articles), imported as `seed_demo` does it: `articles_import` → `article_create`."""
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        brokerage = BrokerageFactory(name="Bench Handbook Realty", slug="bench-handbook")
        agent, token = _member(brokerage)
        started = time.perf_counter()
        report = articles_import(brokerage=brokerage, actor=None, files=handbook_files())
        assert not report.errors, report.errors
        kb = _knowledge_base(brokerage, agent, token, time.perf_counter() - started)
    yield kb
    with django_db_blocker.unblock():
        _drop_knowledge(brokerage)


@pytest.fixture(scope="session")
def large_kb(django_db_setup, django_db_blocker):
    """10,000 generated articles (see corpus.py) in one brokerage, indexed by `search_index.index_article`.

    Built in 20-40 s on SQLite (about 75 s on PostgreSQL, whose GIN index is kept without a pending list) instead of the 7+ minutes 10,000 `article_create` calls would take (measured: ~41 ms per
    article over the first 2,000 on SQLite, mostly Django's `bulk_update` of the term counts and stemming), with
    the same end state: rows are bulk-inserted; each article then goes through `index_article` (passages, FTS5
    rows or tsvectors) in one transaction, while the term-count deltas it produces are summed and handed to
    the real `_adjust_term_counts` once at the end (counts are additive, so the rows are the same) and the
    stemmer is memoised (same output). Both patches are undone before any measurement. No audit entries.
    """
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        brokerage = BrokerageFactory(name="Bench Large Realty", slug="bench-large")
        agent, token = _member(brokerage)
        started = time.perf_counter()
        generated = corpus.generate(LARGE_KB_ARTICLES)
        deltas: Counter = Counter()
        with transaction.atomic(), pytest.MonkeyPatch.context() as patch:
            patch.setattr(vocabulary, "stem", functools.lru_cache(maxsize=None)(vocabulary.stem))
            patch.setattr(search_index, "_adjust_term_counts", lambda brokerage_id, delta: deltas.update(delta))
            rows = KnowledgeArticle.objects.bulk_create(
                [KnowledgeArticle(brokerage=brokerage, title=a.title, category=a.category, content=a.content,
                                  tags=a.tags, created_by=None) for a in generated],
                batch_size=500)
            for article in rows:
                search_index.index_article(article)
            patch.undo()
            search_index._adjust_term_counts(brokerage.pk, deltas)
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        kb = _knowledge_base(brokerage, agent, token, time.perf_counter() - started)
    yield kb
    with django_db_blocker.unblock():
        _drop_knowledge(brokerage)


@pytest.fixture(scope="module")
def deferred_test_transaction(django_db_setup, django_db_blocker):
    """pytest-django wraps the test in a transaction, and the project's SQLite connections begin theirs with
    IMMEDIATE, which takes the write lock: every write of the server would then wait for the test to end. The
    test writes nothing itself, so its transaction may be a deferred one (it would lock only on a write)."""
    from django.db import connection

    if connection.vendor != "sqlite":
        yield
        return
    with django_db_blocker.unblock():
        connection.ensure_connection()
    mode, connection.transaction_mode = connection.transaction_mode, None
    yield
    connection.transaction_mode = mode
