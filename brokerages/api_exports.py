"""REST endpoints of the brokerage's data export (owners: `manage_brokerage`): ask for an archive of everything
the brokerage stores, follow it while it is built, and download it. Same services as the page
(`brokerages.exports`)."""

from django.core.exceptions import ValidationError
from django.urls import path, reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException
from rest_framework.response import Response

from .api_base import TenantAPIView
from .api_contract import Conflict, ErrorResponseSerializer, Pagination, StrictInput, paginated
from .exports import selectors, services
from .exports.download import archive_response
from .models import DataExport


class Gone(APIException):
    """410: the archive existed and was deleted when the export expired."""

    status_code = 410
    default_code = "export_expired"
    default_detail = "This export has expired and its archive was deleted."


class DataExportSerializer(serializers.ModelSerializer):
    status = serializers.ChoiceField(DataExport.Status.choices, help_text=(
        "pending → running → ready (downloadable until `expires_at`) → expired; or failed (see `error`)."))
    requested_by = serializers.SerializerMethodField(help_text="The e-mail of the owner who asked for it.")
    records = serializers.IntegerField(source="record_count", help_text="Records in the archive, all tables.")
    download_url = serializers.SerializerMethodField(help_text="Where the archive is downloaded, once ready.")

    class Meta:
        model = DataExport
        fields = ("id", "status", "include_media", "requested_by", "created_at", "started_at", "finished_at",
                  "expires_at", "size_bytes", "records", "counts", "error", "download_url")
        read_only_fields = fields
        extra_kwargs = {"counts": {"help_text": "Records per table, e.g. {\"nurturing.lead\": 1250}."}}

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_requested_by(self, export: DataExport):
        return export.requested_by.email if export.requested_by else None

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_download_url(self, export: DataExport):
        if export.status != DataExport.Status.READY:
            return None
        return reverse("api-brokerage-export-download", kwargs={"pk": export.pk})


class DataExportRequestSerializer(StrictInput):
    include_media = serializers.BooleanField(required=False, default=True, help_text=(
        "Copy the files (logos, brand assets, listing photos, reports) into the archive too."))


class DataExportListAPI(TenantAPIView):
    """The brokerage's data exports, newest first; POST asks for a new one (built in the background)."""

    method_perms = {"GET": "manage_brokerage", "POST": "manage_brokerage"}
    pagination_class = Pagination

    @extend_schema(responses=DataExportSerializer(many=True), summary="Data exports of the brokerage")
    def get(self, request):
        return paginated(self, selectors.data_exports(self.brokerage), DataExportSerializer)

    @extend_schema(request=DataExportRequestSerializer,
                   responses={202: DataExportSerializer, 409: ErrorResponseSerializer},
                   summary="Ask for an archive of all the brokerage's data (JSON and CSV, optionally files)")
    def post(self, request):
        incoming = DataExportRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        try:
            export = services.data_export_request(brokerage=self.brokerage, actor=request.user,
                                                  **incoming.validated_data)
        except ValidationError as error:
            if error.code == "export_in_progress":
                raise Conflict(detail=" ".join(error.messages), code=error.code) from None
            raise
        return Response(DataExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


class DataExportDownloadAPI(TenantAPIView):
    """The archive of a ready export, as a ZIP file; every download is recorded in the audit log."""

    method_perms = {"GET": "manage_brokerage"}
    lookup = selectors.data_export_get

    def perform_content_negotiation(self, request, force=False):
        # The answer is a ZIP file whatever the client accepts; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(responses={
        (200, "application/zip"): OpenApiResponse(OpenApiTypes.BINARY, description="The archive."),
        409: OpenApiResponse(ErrorResponseSerializer, description="The export is not ready (waiting, being "
                                                                  "built, or failed)."),
        410: OpenApiResponse(ErrorResponseSerializer, description="The export expired; its archive is deleted."),
    }, summary="Download a data export's archive")
    def get(self, request, pk: int):
        try:
            services.data_export_download_record(brokerage=self.brokerage, actor=request.user, export=self.object)
        except ValidationError as error:
            if error.code == "export_expired":
                raise Gone(detail=" ".join(error.messages)) from None
            raise Conflict(detail=" ".join(error.messages), code=error.code) from None
        return archive_response(request._request, self.object)


urlpatterns = [
    path("brokerage/exports", DataExportListAPI.as_view(), name="api-brokerage-exports"),
    path("brokerage/exports/<int:pk>/download", DataExportDownloadAPI.as_view(),
         name="api-brokerage-export-download"),
]
