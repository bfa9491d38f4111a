"""Queuing a task after commit while the broker is down (config/tasks.py): the committed request is not failed,
the task is kept and logged with its name and arguments, and it is queued, in order, once the broker answers; a
process that ends first names what it never queued. In-process, with the broker's publish replaced."""

import datetime as dt
import logging
import time

import pytest
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from coaching.tasks import conversation_analyse_deep
from config import tasks
from config.celery import app

pytestmark = pytest.mark.django_db


class Broker:
    """Stands in for the task's publish: refuses while `down`, else records what was published."""

    def __init__(self):
        self.down = True
        self.published: list[tuple[dict, dict]] = []

    def apply_async(self, args=None, kwargs=None, **options):
        if self.down:
            raise OperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")
        self.published.append((kwargs, options))


@pytest.fixture
def broker(monkeypatch) -> Broker:
    broker = Broker()
    monkeypatch.setattr(conversation_analyse_deep, "apply_async", broker.apply_async)
    monkeypatch.setattr(tasks, "backlog", tasks.Backlog())
    monkeypatch.setattr(tasks, "RETRY_FIRST_SECONDS", 0.05)
    monkeypatch.setattr(tasks, "RETRY_MAX_SECONDS", 0.1)
    return broker


def messages(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == tasks.__name__]


def wait_drained(timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while len(tasks.backlog):
        assert time.monotonic() < deadline, "the backlog was not published"
        time.sleep(0.02)


def test_a_task_queued_while_the_broker_is_down_is_kept_and_queued_in_order_when_it_answers(
        broker, caplog, django_capture_on_commit_callbacks):
    caplog.set_level(logging.INFO, logger=tasks.__name__)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        conversation_analyse_deep.delay_on_commit(conversation_id=7)
        conversation_analyse_deep.delay_on_commit(conversation_id=8)
    assert broker.published == []
    assert len(tasks.backlog) == 2
    assert messages(caplog)[0].startswith("Task coaching.tasks.conversation_analyse_deep(conversation_id=7) not "
                                          "queued (OperationalError: Error 111")
    assert messages(caplog)[1].startswith("Task coaching.tasks.conversation_analyse_deep(conversation_id=8) not "
                                          "queued (earlier tasks are still waiting for the broker)")

    time.sleep(0.3)  # a few attempts while it is still down
    assert len(tasks.backlog) == 2
    broker.down = False
    wait_drained()
    assert [kwargs for kwargs, _ in broker.published] == [{"conversation_id": 7}, {"conversation_id": 8}]
    assert "Task coaching.tasks.conversation_analyse_deep(conversation_id=8) queued" in messages(caplog)[-1]

    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        conversation_analyse_deep.delay_on_commit(conversation_id=9)
    assert [kwargs for kwargs, _ in broker.published][-1] == {"conversation_id": 9}  # straight through again
    assert len(tasks.backlog) == 0


def test_a_delay_counts_from_when_the_task_was_queued_not_from_when_it_was_published(
        broker, django_capture_on_commit_callbacks):
    before = timezone.now()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        conversation_analyse_deep.apply_async_on_commit(kwargs={"conversation_id": 7}, countdown=60)
    time.sleep(0.3)
    broker.down = False
    wait_drained()
    (_, options), = broker.published
    assert "countdown" not in options
    assert before + dt.timedelta(seconds=60) <= options["eta"] <= before + dt.timedelta(seconds=61)


def test_what_a_process_never_queued_is_named_when_it_ends(broker, caplog, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        conversation_analyse_deep.delay_on_commit(conversation_id=7)
    tasks.backlog.report_lost()
    assert messages(caplog)[-1] == ("Task coaching.tasks.conversation_analyse_deep(conversation_id=7) lost: the "
                                    "process ended before the broker answered")
    broker.down = False
    time.sleep(0.3)
    assert broker.published == []


def test_past_the_limit_the_oldest_task_is_dropped_and_named(broker, caplog, monkeypatch,
                                                             django_capture_on_commit_callbacks):
    monkeypatch.setattr(tasks, "BACKLOG_LIMIT", 2)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        for conversation_id in (1, 2, 3):
            conversation_analyse_deep.delay_on_commit(conversation_id=conversation_id)
    assert len(tasks.backlog) == 2
    assert ("Task coaching.tasks.conversation_analyse_deep(conversation_id=1) lost: over 2 tasks wait for the "
            "broker in this process") in messages(caplog)
    broker.down = False
    wait_drained()
    assert [kwargs for kwargs, _ in broker.published] == [{"conversation_id": 2}, {"conversation_id": 3}]


def test_an_eager_task_runs_inline_and_its_failure_is_the_callers(monkeypatch, settings,
                                                                  django_capture_on_commit_callbacks):
    def fails(*args, **kwargs):
        raise OSError("the task's own network call failed")

    monkeypatch.setattr(tasks, "backlog", tasks.Backlog())
    monkeypatch.setattr(conversation_analyse_deep, "apply_async", fails)
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert app.conf.task_always_eager
    with pytest.raises(OSError, match="own network call"), django_capture_on_commit_callbacks(execute=True), \
            transaction.atomic():
        conversation_analyse_deep.delay_on_commit(conversation_id=7)
    assert len(tasks.backlog) == 0
