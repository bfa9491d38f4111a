"""Tasks of workflow automations: the webhook call an action queues when its run commits."""

from celery import shared_task
from django_scopes import scope

from brokerages.selectors import brokerage_id_of

from ..models import AutomationRun
from ..services.automations import automation_webhook_deliver


@shared_task(ignore_result=True)
def automation_webhook_call(*, run_id: int, action_index: int) -> None:
    """POST the run's lead to the URL of action `action_index` once (a retry of a delivered call does
    nothing); the outcome is written into the run. A run deleted meanwhile is ignored."""
    brokerage_id = brokerage_id_of(AutomationRun, run_id)
    if brokerage_id is None:
        return
    with scope(brokerage=brokerage_id):
        automation_webhook_deliver(run_id=run_id, action_index=action_index)
