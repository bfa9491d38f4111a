"""Celery task of data exports (thin: re-fetch by id, call one service in the export's brokerage scope)."""

from celery import shared_task
from django_scopes import scope

from ..models import DataExport
from ..selectors import brokerage_id_of
from . import services

# A large brokerage with its photos takes minutes; the limits free the worker should something hang.
SOFT_LIMIT_SECONDS = 3600


@shared_task(ignore_result=True, soft_time_limit=SOFT_LIMIT_SECONDS, time_limit=SOFT_LIMIT_SECONDS + 60)
def data_export_build_task(*, export_id: int) -> None:
    """Build a pending export's archive (`services.data_export_build`); a duplicate message, an export already
    built or deleted is left alone."""
    brokerage_id = brokerage_id_of(DataExport, export_id)
    if brokerage_id is None:
        return
    with scope(brokerage=brokerage_id):
        services.data_export_build(export_id=export_id)
