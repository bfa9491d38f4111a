"""The nurture sweep over 100,000 leads in 20 brokerages (issue 4 target: <= 10 s on PostgreSQL with the local
engine; queries per brokerage do not grow with its lead count).

Data: 20 brokerages of 5,000 leads each, bulk-inserted with a realistic mix (recently contacted, forgotten for
8–60 days, never contacted, past clients quiet or recent, lost, a few who opted out), one or two interactions
per contacted lead, and a nurturing sequence with enrolments whose next step is due. A round resets the
sweep's effects (drafts, escalation stamps, notifications, enrolment positions), so every round is the heavy
first sweep that drafts a follow-up for every forgotten lead and inactive client, then runs it twice:

- as deployed: `nurture_sweep_all` fans out one task per brokerage, so the sweep runs on the Celery workers
  at once. WORKERS worker processes (one per CPU, Celery's default concurrency), each with its own database
  connection, take the 20 brokerages from a queue; the time until the last one is done is the target;
- on a single worker, one brokerage after the other (reported, not asserted).

The baseline, measured in the same rounds, reads every lead of the 20 brokerages once (ids and contact
stamps), the least any sweep must do; a bare `count(*)` per brokerage is reported too.

Query counts are measured on a 500-lead brokerage and on a 5,000-lead one with the same mix: they must be
equal.

The test runs outside a transaction (the workers must see the data and each other's commits); the data it
makes stays in the throwaway test database.
"""

import django
from django.apps import apps

# The benchmark's worker processes import this module to find their functions before anything else runs, so
# Django must be set up first (pytest has already done it in the main process).
if not apps.ready:
    django.setup()

import datetime as dt
import multiprocessing
import os
import random
import time
from concurrent.futures import ProcessPoolExecutor
from decimal import Decimal

import pytest
from django.conf import settings
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from brokerages.models import Brokerage, Notification, Role, User
from copilot.llm import provider_name_for
from nurturing.models import Enrollment, FollowUp, Interaction, Lead, NurturingSequence
from nurturing.services.sweeps import nurture_sweep

from .conftest import _assert_test_database, database_label
from .timing import BenchResult, Stats

LIMIT_MS = 10_000.0
ROUNDS = 3
BROKERAGES = 20
LEADS_PER_BROKERAGE = 5_000
SMALL_BROKERAGE_LEADS = 500
AGENTS_PER_BROKERAGE = 5
DUE_ENROLMENT_SHARE = 0.02
WORKERS = max(2, os.cpu_count() or 2)

FIRST = ["Layla", "Omar", "Fatima", "Ahmed", "Sara", "Yousef", "Aisha", "Khalid", "Maryam", "Hassan", "Noor", "Ali",
         "Priya", "James", "Elena", "Rahul", "Chen", "Olga", "Daniel", "Amira"]
LAST = ["Haddad", "Khan", "Al Mansouri", "Patel", "Smith", "Ivanova", "Nair", "Saeed", "Rahman", "Costa"]
AREAS = ["Dubai Marina", "Downtown", "Dubai Hills", "JVC", "Business Bay", "Palm Jumeirah", "Arabian Ranches",
         "JLT", "Mirdif", "Al Barsha"]
TYPES = ["apartment", "villa", "townhouse", "penthouse", ""]


def _leads(brokerage: Brokerage, agents: list[User], count: int, rng: random.Random, now: dt.datetime) -> list[Lead]:
    """`count` unsaved leads with the benchmark's mix of stages and contact histories."""
    leads = []
    day = dt.timedelta(days=1)
    for number in range(count):
        roll = rng.random()
        created = now - rng.uniform(30, 400) * day
        contacted, stage, dnc = None, "contacted", False
        if roll < 0.30:  # worked recently
            contacted, stage = now - rng.uniform(0.1, 6) * day, rng.choice(["contacted", "qualified", "viewing"])
        elif roll < 0.55:  # forgotten: 8–60 days without contact
            contacted, stage = now - rng.uniform(8, 60) * day, rng.choice(["contacted", "qualified", "offer"])
        elif roll < 0.60:  # never contacted
            created, stage = now - rng.uniform(0.1, 30) * day, "new"
        elif roll < 0.72:  # quiet past clients
            contacted, stage = now - rng.uniform(95, 380) * day, "won"
        elif roll < 0.85:  # recent clients
            contacted, stage = now - rng.uniform(1, 80) * day, "won"
        elif roll < 0.95:
            contacted, stage = now - rng.uniform(10, 200) * day, "lost"
        else:  # opted out
            contacted, dnc = now - rng.uniform(10, 90) * day, True
        low = Decimal(rng.randrange(5, 60) * 100_000) if rng.random() < 0.7 else None
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}"
        leads.append(Lead(
            brokerage=brokerage, assigned_agent=rng.choice(agents), name=name, stage=stage,
            email=f"lead{number}@{brokerage.slug}.bench" if rng.random() < 0.8 else "",
            phone=f"+9715{rng.randrange(10**7, 10**8)}" if rng.random() < 0.9 else "",
            areas=rng.sample(AREAS, rng.randint(0, 2)), property_type=rng.choice(TYPES),
            budget_min=low, budget_max=low * 2 if low else None, do_not_contact=dnc,
            created_at=min(created, contacted or created), stage_changed_at=contacted or created,
            first_contacted_at=contacted, last_contacted_at=contacted))
    return leads


def _populate(brokerage: Brokerage, count: int, rng: random.Random, now: dt.datetime) -> None:
    agents = User.objects.bulk_create([
        User(email=f"agent{n}@{brokerage.slug}.bench", full_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
             brokerage=brokerage, role=Role.AGENT, password="!") for n in range(AGENTS_PER_BROKERAGE)])
    User.objects.create(email=f"owner@{brokerage.slug}.bench", full_name="Bench Owner", brokerage=brokerage,
                        role=Role.BROKERAGE_OWNER, password="!")
    leads = Lead.objects.bulk_create(_leads(brokerage, agents, count, rng, now), batch_size=1000)
    interactions = []
    for lead in leads:
        if lead.last_contacted_at:
            for back in range(rng.randint(1, 2)):
                interactions.append(Interaction(
                    brokerage=brokerage, lead=lead, agent=lead.assigned_agent, channel=rng.choice(
                        ["call", "whatsapp", "email", "sms"]), direction="outbound",
                    occurred_at=lead.last_contacted_at - dt.timedelta(days=3 * back),
                    summary=rng.choice(["Sent three options", "Discussed budget and areas", "Left a voicemail",
                                        "Viewing feedback: liked the layout"])))
    Interaction.objects.bulk_create(interactions, batch_size=2000)
    sequence = NurturingSequence.objects.create(brokerage=brokerage, name="New lead nurture", sequence_type="new_lead",
                                                steps=[{"delay_days": 0, "channel": "whatsapp",
                                                        "body": "Hi {{ first_name }}, {{ agent_name }} here."},
                                                       {"delay_days": 3, "channel": "email", "subject": "Options",
                                                        "instruction": "Share new listings in their areas"}])
    open_leads = [lead for lead in leads if lead.stage in ("new", "contacted", "qualified") and not lead.do_not_contact]
    Enrollment.objects.bulk_create([
        Enrollment(brokerage=brokerage, lead=lead, sequence=sequence, next_step=0,
                   next_due_at=now - dt.timedelta(hours=1), enrolled_at=now - dt.timedelta(days=5))
        for lead in rng.sample(open_leads, int(count * DUE_ENROLMENT_SHARE))])


def _reset(brokerages: list[Brokerage], now: dt.datetime) -> None:
    """Undo what a sweep did, so every round does the same (heavy, first-sweep) work."""
    with scopes_disabled(), transaction.atomic():
        FollowUp.objects.filter(brokerage__in=brokerages).delete()
        Notification.objects.filter(brokerage__in=brokerages).delete()
        Lead.objects.filter(brokerage__in=brokerages).update(escalated_at=None)
        Enrollment.objects.filter(brokerage__in=brokerages).update(status="active", next_step=0,
                                                                   next_due_at=now - dt.timedelta(hours=1))
    _analyze()


def _analyze() -> None:
    """Fresh planner statistics after a mass delete or insert, as autovacuum keeps them in production."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE nurturing_followup, nurturing_lead, nurturing_enrollment")


@pytest.fixture(scope="module")
def sweep_data(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock(), scopes_disabled():
        _assert_test_database()
        rng, now = random.Random(11), timezone.now()
        started = time.perf_counter()
        brokerages = [Brokerage.objects.create(name=f"Bench Sweep {n:02d}", slug=f"bench-sweep-{n:02d}",
                                               license_number=f"BENCH-SWEEP-{n:02d}") for n in range(BROKERAGES)]
        for brokerage in brokerages:
            _populate(brokerage, LEADS_PER_BROKERAGE, rng, now)
        small = Brokerage.objects.create(name="Bench Sweep Small", slug="bench-sweep-small",
                                         license_number="BENCH-SWEEP-SMALL")
        _populate(small, SMALL_BROKERAGE_LEADS, rng, now)
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        build_seconds = time.perf_counter() - started
        dataset = {"brokerages": BROKERAGES, "leads": Lead.objects.filter(brokerage__in=brokerages).count(),
                   "interactions": Interaction.objects.filter(brokerage__in=brokerages).count(),
                   "due_enrolments": Enrollment.objects.filter(brokerage__in=brokerages).count(),
                   "build_seconds": round(build_seconds, 1)}
    yield brokerages, small, dataset


def _sweep_all(brokerages: list[Brokerage], now: dt.datetime, cpu: list | None = None) -> tuple[float, list]:
    """Wall time (ms) of sweeping every brokerage in turn; this process's CPU time is appended to `cpu` (the
    database server's is not included), which shows how much of the wall time other load on the machine took."""
    started, started_cpu = time.perf_counter(), time.process_time()
    results = []
    for brokerage in brokerages:
        with scope(brokerage=brokerage):
            results.append(nurture_sweep(brokerage=brokerage, now=now))
    if cpu is not None:
        cpu.append((time.process_time() - started_cpu) * 1000)
    return (time.perf_counter() - started) * 1000, results


def _read_all(brokerages: list[Brokerage]) -> float:
    started = time.perf_counter()
    for brokerage in brokerages:
        with scope(brokerage=brokerage):
            list(Lead.objects.filter(brokerage=brokerage).values_list("pk", "stage", "last_contacted_at"))
    return (time.perf_counter() - started) * 1000


def _count_all(brokerages: list[Brokerage]) -> float:
    started = time.perf_counter()
    for brokerage in brokerages:
        with scope(brokerage=brokerage):
            Lead.objects.filter(brokerage=brokerage).count()
    return (time.perf_counter() - started) * 1000


def _queries(brokerage: Brokerage, now: dt.datetime) -> tuple[list[str], int]:
    _reset([brokerage], now)
    with CaptureQueriesContext(connection) as captured, scope(brokerage=brokerage):
        result = nurture_sweep(brokerage=brokerage, now=now)
    return [query["sql"] for query in captured.captured_queries], len(result.generated_followups)


def _worker_start(database: dict) -> None:
    """A fresh process, like a Celery worker (Django was set up when it imported this module): point it at the
    test database and the local engine."""
    settings.LLM_PROVIDER = "local"
    connections["default"].settings_dict.update(database)


def _worker_sweep(brokerage_id: int, now: dt.datetime) -> int:
    """What `nurture_sweep_brokerage` does: re-fetch the brokerage, sweep it in its scope."""
    brokerage = Brokerage.objects.get(pk=brokerage_id)
    with scope(brokerage=brokerage):
        return len(nurture_sweep(brokerage=brokerage, now=now).generated_followups)


def _worker_ready(_) -> bool:
    return Brokerage.objects.exists()


def _fan_out(pool: ProcessPoolExecutor, brokerages: list[Brokerage], now: dt.datetime) -> tuple[float, int]:
    started = time.perf_counter()
    drafts = sum(pool.map(_worker_sweep, [brokerage.pk for brokerage in brokerages], [now] * len(brokerages)))
    return (time.perf_counter() - started) * 1000, drafts


@pytest.fixture(scope="module")
def sweep_measurements(sweep_data, django_db_blocker):
    """Every measurement, made outside the test's transaction: the worker processes must see the data and each
    other's commits (and SQLite would keep them waiting on the test's write lock)."""
    brokerages, small, dataset = sweep_data
    database = {key: connection.settings_dict[key] for key in ("NAME", "HOST", "PORT", "USER", "PASSWORD")}
    context = multiprocessing.get_context("spawn")  # a clean process, as a worker starts; no inherited connection
    with django_db_blocker.unblock(), override_settings(LLM_PROVIDER="local"), ProcessPoolExecutor(
            WORKERS, mp_context=context, initializer=_worker_start, initargs=(database,)) as pool:
        with scope(brokerage=brokerages[0]):
            assert provider_name_for(brokerages[0]) == "local", "this benchmark measures the local engine"
        assert all(pool.map(_worker_ready, range(WORKERS * 2)))  # workers started and connected before timing
        now = timezone.now()
        _read_all(brokerages)  # warm-up
        found = {"target": [], "sequential": [], "baseline": [], "counts": [], "cpu": [], "fanned_drafts": []}
        for _ in range(ROUNDS):
            _reset(brokerages, now)
            found["baseline"].append(_read_all(brokerages))
            found["counts"].append(_count_all(brokerages))
            elapsed, drafts = _fan_out(pool, brokerages, now)
            found["target"].append(elapsed)
            found["fanned_drafts"].append(drafts)
            _reset(brokerages, now)
            elapsed, found["results"] = _sweep_all(brokerages, now, found["cpu"])
            found["sequential"].append(elapsed)
        _analyze()
        found["steady"], _ = _sweep_all(brokerages, now)  # nothing left to draft: the hourly run's usual cost
        found["small_sql"], found["small_drafts"] = _queries(small, now)
        found["large_sql"], found["large_drafts"] = _queries(brokerages[0], now)
    return dataset, found


@pytest.mark.django_db
def test_nurture_sweep_100k_leads_20_brokerages(sweep_measurements):
    dataset, found = sweep_measurements
    results = found["results"]
    small_sql, large_sql = found["small_sql"], found["large_sql"]
    drafts = sum(len(result.generated_followups) for result in results)
    assert drafts > 20_000, "the benchmark must draft for a realistic share of the leads"
    assert found["fanned_drafts"] == [drafts] * ROUNDS, "the fanned-out sweep must do the same work"
    counts = found["counts"]
    notes = {
        "measured": f"nurture_sweep(brokerage=...) for the 20 brokerages, in scope, on {WORKERS} worker processes "
                    "(the target) and on one worker in turn, each after resetting drafts, escalations, "
                    "notifications and enrolments (a first sweep)",
        "workers": WORKERS,
        "single_worker_ms": [round(value, 1) for value in found["sequential"]],
        "single_worker_process_cpu_ms": [round(value, 1) for value in found["cpu"]],
        "per_round": {"forgotten_leads": sum(r.forgotten_leads_count for r in results),
                      "inactive_clients": sum(r.inactive_clients_count for r in results), "drafts": drafts,
                      "sequence_steps": sum(r.steps_drafted for r in results),
                      "escalated": sum(r.escalated for r in results),
                      "unreachable": sum(r.unreachable for r in results)},
        "steady_state_single_worker_ms": round(found["steady"], 1),
        "count_star_baseline_median_ms": round(sorted(counts)[len(counts) // 2], 2),
        "queries_per_brokerage": {
            f"{SMALL_BROKERAGE_LEADS}_leads": {"queries": len(small_sql), "drafts": found["small_drafts"]},
            f"{LEADS_PER_BROKERAGE}_leads": {"queries": len(large_sql), "drafts": found["large_drafts"]}},
    }
    result = BenchResult(
        issue=4, name=f"nurture_sweep_100k_{connection.vendor}",
        description=f"nurture sweep, {dataset['leads']:,} leads in {BROKERAGES} brokerages, {WORKERS} workers",
        database=database_label(), target=Stats.of(found["target"]), baseline_name="read every lead once",
        baseline=Stats.of(found["baseline"]), limit_p95_ms=LIMIT_MS, rounds=ROUNDS, dataset=dataset, notes=notes,
        informational=connection.vendor != "postgresql",
    )
    result.publish()
    assert found["large_drafts"] > 5 * found["small_drafts"]
    assert len(large_sql) == len(small_sql), (len(small_sql), len(large_sql))
    if connection.vendor == "postgresql":
        assert result.met, result.line()
