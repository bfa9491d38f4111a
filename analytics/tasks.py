"""Periodic work of analytics: the nightly rollup and the weekly report e-mail. Each `*_all` task fans out one
task per brokerage (one large brokerage never holds up the others, a failure stays with its brokerage); every
task takes keyword-only ids, re-fetches the brokerage and is safe to run twice."""

import datetime as dt

from celery import shared_task
from django.utils import timezone
from django_scopes import scope

from brokerages.models import Brokerage

from .reports import report_weekly_send
from .services.rollup import brokerage_zone, performance_rollup

# Days rewritten each night besides today: a lead first contacted, won or reopened late still lands on its day.
ROLLUP_DAYS_BACK = 3


def _brokerage_ids() -> list[int]:
    return list(Brokerage.objects.order_by("pk").values_list("pk", flat=True))


@shared_task(ignore_result=True)
def rollup_all_brokerages() -> None:
    """Queue one `rollup_brokerage` per brokerage."""
    for brokerage_id in _brokerage_ids():
        rollup_brokerage.delay_on_commit(brokerage_id=brokerage_id)


@shared_task
def rollup_brokerage(*, brokerage_id: int) -> int | None:
    """Rewrite the brokerage's TeamPerformance rows of the last three days and today so far (its calendar);
    returns the number of rows written (None when the brokerage is gone). Idempotent: a re-run rewrites the
    same rows."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is None:
        return None
    today = timezone.now().astimezone(brokerage_zone(brokerage)).date()
    with scope(brokerage=brokerage):
        result = performance_rollup(brokerage=brokerage, since=today - dt.timedelta(days=ROLLUP_DAYS_BACK),
                                    until=today)
    return result.rows


@shared_task(ignore_result=True)
def weekly_report_all() -> None:
    """Queue one `weekly_report_send` per brokerage."""
    for brokerage_id in _brokerage_ids():
        weekly_report_send.delay_on_commit(brokerage_id=brokerage_id)


@shared_task
def weekly_report_send(*, brokerage_id: int) -> list[str] | None:
    """E-mail the team report of the past seven days to the brokerage's active owners, once per owner and week,
    unless the brokerage turned it off; returns the addresses it went to (None when the brokerage is gone)."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is None:
        return None
    with scope(brokerage=brokerage):
        return report_weekly_send(brokerage=brokerage).sent_to
