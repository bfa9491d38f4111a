"""The owners' "Data export" page (the brokerage settings area): past exports with their state, size and
expiry, a button to ask for a new one, and the download. The table polls (htmx) while an export is built."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.http import require_POST

from .exports import selectors, services
from .exports.download import archive_response
from .selectors import setting_value
from .web import tenant_view

# While an export is built the table asks again this often; a build of a large brokerage takes about a minute.
POLL_SECONDS = 3


class DataExportForm(forms.Form):
    include_media = forms.BooleanField(
        required=False, initial=True, label="Include files (logos, brand assets, listing photos, reports)",
        help_text="Without them the archive holds the records only, and is much smaller.")


def _table_context(request) -> dict:
    exports = list(selectors.data_exports(request.brokerage)[:50])
    return {"exports": exports, "polling": any(export.in_progress for export in exports),
            "poll_seconds": POLL_SECONDS}


@tenant_view("manage_brokerage")
def data_exports(request):
    if request.htmx and not request.htmx.boosted:
        return render(request, "brokerages/exports.html#exports_table", _table_context(request))
    return render(request, "brokerages/exports.html", {
        **_table_context(request), "form": DataExportForm(),
        "retention_days": setting_value(request.brokerage, "data_export_retention_days")})


@tenant_view("manage_brokerage")
@require_POST
def data_export_create(request):
    form = DataExportForm(request.POST)
    form.is_valid()  # a lone optional checkbox: nothing can be invalid
    try:
        services.data_export_request(brokerage=request.brokerage, actor=request.user,
                                     include_media=form.cleaned_data["include_media"])
    except ValidationError as error:
        messages.info(request, " ".join(error.messages))
    else:
        messages.success(request, "The export is being built. This page updates when it is ready, and you will "
                                  "get a notification with the download link.")
    return redirect("brokerages:data_exports")


@tenant_view("manage_brokerage", lookup=selectors.data_export_get)
def data_export_download(request, obj):
    try:
        services.data_export_download_record(brokerage=request.brokerage, actor=request.user, export=obj)
    except ValidationError as error:
        status = 410 if error.code == "export_expired" else 409
        return HttpResponse(" ".join(error.messages), status=status, content_type="text/plain; charset=utf-8")
    return archive_response(request, obj)


urlpatterns = [
    path("data-export/", data_exports, name="data_exports"),
    path("data-export/new/", data_export_create, name="data_export_create"),
    path("data-export/<int:pk>/download/", data_export_download, name="data_export_download"),
]
