"""API: importing a CSV file of leads (the same service as the import page; the inbound lead webhook is its own
signed endpoint, see nurturing.views.ingestion)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import StrictInput

from ..crm_presets import PRESETS
from ..services.ingestion import IMPORT_FIELDS, MAX_IMPORT_BYTES, MAX_IMPORT_ROWS, leads_import_csv


class LeadImportSerializer(StrictInput):
    file = serializers.FileField(help_text=f"UTF-8 CSV with a header row; at most {MAX_IMPORT_BYTES // (1024 * 1024)} "
                                           f"MB and {MAX_IMPORT_ROWS:,} rows.")
    dry_run = serializers.BooleanField(default=False, help_text="Check every row and report; store nothing.")
    run_automations = serializers.BooleanField(default=False,
                                               help_text="Run the “lead created” automations for each new lead.")
    mapping = serializers.JSONField(binary=True, required=False, help_text=(
        'A JSON object {"CSV header": "lead field"} laid over the automatic mapping of common header names; '
        '"" ignores a column. Lead fields: ' + ", ".join(IMPORT_FIELDS) + "."))
    preset = serializers.ChoiceField([(preset.key, preset.label) for preset in PRESETS], required=False, help_text=(
        "The CRM the file was exported from: its column mapping, stage and source words and date format; "
        "`mapping` is laid over it."))

    def validate_file(self, upload):
        if upload.size > MAX_IMPORT_BYTES:
            raise serializers.ValidationError(f"The file is {upload.size / (1024 * 1024):.1f} MB; the limit is "
                                              f"{MAX_IMPORT_BYTES // (1024 * 1024)} MB.")
        return upload

    def validate_mapping(self, mapping):
        if not isinstance(mapping, dict) or not all(isinstance(key, str) and isinstance(value, str)
                                                    for key, value in mapping.items()):
            raise serializers.ValidationError('Give an object of texts, e.g. {"Mobile": "phone"}.')
        return mapping


class RowMessageSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="The spreadsheet's row number (the header is row 1).")
    message = serializers.CharField()


class ImportReportSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    rows = serializers.IntegerField(help_text="Non-empty data rows read.")
    created = serializers.IntegerField(help_text="Leads created (or, in a dry run, that would be).")
    duplicates = RowMessageSerializer(many=True)
    errors = RowMessageSerializer(many=True)
    columns_unmapped = serializers.ListField(child=serializers.CharField())
    mapping = serializers.DictField(child=serializers.CharField(), help_text="The mapping used: header → field.")


class LeadImportAPI(TenantAPIView):
    """Import leads from a CSV file (owners and support staff). Rows with problems and duplicates (by e-mail,
    phone or external id, against existing leads and earlier rows) are reported by row number; the other rows
    become leads, each stored on its own."""

    method_perms = {"POST": "manage_leads"}
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": LeadImportSerializer}, responses=ImportReportSerializer,
                   summary="Import leads from CSV")
    def post(self, request):
        incoming = LeadImportSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        values = incoming.validated_data
        report = leads_import_csv(brokerage=self.brokerage, actor=request.user, data=values["file"].read(),
                                  mapping=values.get("mapping"), preset=values.get("preset"),
                                  dry_run=values["dry_run"],
                                  run_automations=values["run_automations"])
        return Response(ImportReportSerializer({
            **report.__dict__,
            "duplicates": [{"row": row, "message": message} for row, message in report.duplicates],
            "errors": [{"row": row, "message": message} for row, message in report.errors]}).data)


urlpatterns = [
    path("nurturing/leads/import", LeadImportAPI.as_view(), name="api-nurturing-leads-import"),
]
