"""Background work of the coaching engine: the model-backed analysis of a conversation after it ended."""

from celery import shared_task
from django_scopes import scope, scopes_disabled

from .models import Conversation
from .services.conversations import conversation_deep_analysis_record


@shared_task(ignore_result=True)
def conversation_analyse_deep(*, conversation_id: int) -> None:
    """Judge the ended conversation with the brokerage's model engine and keep the result (degraded to the local
    engine's judgement when the model fails). Idempotent: a redelivered task finds the work done and stops; a
    conversation deleted meanwhile is ignored."""
    with scopes_disabled():
        brokerage_id = Conversation.objects.filter(pk=conversation_id).values_list("brokerage_id", flat=True).first()
    if brokerage_id is None:
        return
    with scope(brokerage=brokerage_id):
        conversation_deep_analysis_record(conversation_id=conversation_id)
