"""Periodic tasks of the nurturing engine. Each `*_all` task fans out one task per brokerage, so one large
brokerage never holds up the others and a failure stays with its brokerage. Every task is safe to run twice
(the services are idempotent) and re-fetches the brokerage by id."""

from celery import shared_task
from django_scopes import scope

from brokerages.models import Brokerage

from ..services.followups import followups_send_due
from ..services.sweeps import nurture_sweep, speed_to_lead_check


def _brokerage_ids() -> list[int]:
    return list(Brokerage.objects.order_by("pk").values_list("pk", flat=True))


@shared_task(ignore_result=True)
def nurture_sweep_all() -> None:
    """Queue one `nurture_sweep_brokerage` per brokerage."""
    for brokerage_id in _brokerage_ids():
        nurture_sweep_brokerage.delay_on_commit(brokerage_id=brokerage_id)


@shared_task
def nurture_sweep_brokerage(*, brokerage_id: int) -> dict | None:
    """Run the nurture sweep of one brokerage; returns its counts (None when the brokerage is gone)."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is None:
        return None
    with scope(brokerage=brokerage):
        return nurture_sweep(brokerage=brokerage).counts()


@shared_task(ignore_result=True)
def speed_to_lead_all() -> None:
    """Queue one `speed_to_lead_brokerage` per brokerage."""
    for brokerage_id in _brokerage_ids():
        speed_to_lead_brokerage.delay_on_commit(brokerage_id=brokerage_id)


@shared_task(ignore_result=True)
def speed_to_lead_brokerage(*, brokerage_id: int) -> None:
    """Alert agents (and escalate to owners) about the brokerage's new leads waiting for a first contact."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is not None:
        with scope(brokerage=brokerage):
            speed_to_lead_check(brokerage=brokerage)


@shared_task(ignore_result=True)
def send_due_all() -> None:
    """Queue one `send_due_brokerage` per brokerage."""
    for brokerage_id in _brokerage_ids():
        send_due_brokerage.delay_on_commit(brokerage_id=brokerage_id)


@shared_task(ignore_result=True)
def send_due_brokerage(*, brokerage_id: int) -> None:
    """Send the brokerage's approved follow-ups whose quiet hours are over."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is not None:
        with scope(brokerage=brokerage):
            followups_send_due(brokerage=brokerage)
