"""Background work of the coaching engine: the model-backed analysis of a conversation after it ended, and the
nightly data retention (transcripts, and with them the brokerage's webhook delivery log and export archives)."""

from celery import shared_task
from django_scopes import scope

from brokerages.models import Brokerage
from brokerages.selectors import brokerage_id_of

from .models import Conversation
from .services.conversations import conversation_deep_analysis_record
from .services.retention import data_retention_apply


@shared_task(ignore_result=True)
def conversation_analyse_deep(*, conversation_id: int) -> None:
    """Judge the ended conversation with the brokerage's model engine and keep the result (degraded to the local
    engine's judgement when the model fails). Idempotent: a redelivered task finds the work done and stops; a
    conversation deleted meanwhile is ignored."""
    brokerage_id = brokerage_id_of(Conversation, conversation_id)
    if brokerage_id is None:
        return
    with scope(brokerage=brokerage_id):
        conversation_deep_analysis_record(conversation_id=conversation_id)


@shared_task(ignore_result=True)
def data_retention_all() -> None:
    """Nightly (beat): queue one `data_retention_brokerage` per brokerage."""
    for brokerage_id in Brokerage.objects.order_by("pk").values_list("pk", flat=True):
        data_retention_brokerage.delay_on_commit(brokerage_id=brokerage_id)


@shared_task
def data_retention_brokerage(*, brokerage_id: int) -> dict | None:
    """Apply one brokerage's retention periods: transcripts, webhook delivery logs, data export archives
    (`data_retention_apply`); returns the counts (None when the brokerage is gone). Safe to run twice."""
    brokerage = Brokerage.objects.filter(pk=brokerage_id).first()
    if brokerage is None:
        return None
    with scope(brokerage=brokerage):
        return data_retention_apply(brokerage=brokerage)
