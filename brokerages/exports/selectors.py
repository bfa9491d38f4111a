"""Reads of data exports. Each takes the tenant explicitly."""

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from ..models import Brokerage, DataExport


def data_exports(brokerage: Brokerage) -> QuerySet[DataExport]:
    """The brokerage's exports, newest first, with who asked for each."""
    return DataExport.objects.filter(brokerage=brokerage).select_related("requested_by")


def data_export_get(brokerage: Brokerage, pk: int) -> DataExport:
    """The export of this brokerage with this id; another brokerage's id answers 404."""
    return get_object_or_404(DataExport.objects.select_related("requested_by"), brokerage=brokerage, pk=pk)


def data_export_in_progress(brokerage: Brokerage) -> DataExport | None:
    return DataExport.objects.filter(brokerage=brokerage, status__in=DataExport.IN_PROGRESS).first()
