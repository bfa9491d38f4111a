"""REST endpoint of the compliance check: the same service as the "Check a text" page."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import StrictInput

from .compliance import MAX_CHECK_CHARS, TEXT_KINDS, compliance_check


class ComplianceCheckSerializer(StrictInput):
    text = serializers.CharField(max_length=MAX_CHECK_CHARS, trim_whitespace=False, error_messages={
        "blank": "Give the text to check.",
        "max_length": f"Check at most {MAX_CHECK_CHARS:,} characters at a time."})
    kind = serializers.ChoiceField(choices=list(TEXT_KINDS), error_messages={
        "invalid_choice": f"Unknown kind of text “{{input}}”: use one of {', '.join(TEXT_KINDS)}."})
    permit_number = serializers.CharField(max_length=40, required=False, allow_blank=True, allow_null=True,
                                          help_text="For a listing text: the permit number it must carry.")

    def validate_text(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("Give the text to check.")
        return value


class ComplianceFindingSerializer(serializers.Serializer):
    rule = serializers.CharField()
    kind = serializers.ChoiceField(choices=["required", "prohibited"])
    line = serializers.IntegerField(allow_null=True, help_text="1-based; null for a missing required element.")
    excerpt = serializers.CharField(allow_blank=True)
    explanation = serializers.CharField()
    message = serializers.CharField()


class ComplianceReportSerializer(serializers.Serializer):
    passed = serializers.BooleanField()
    findings = ComplianceFindingSerializer(many=True)
    rules_checked = serializers.IntegerField()


class ComplianceCheckAPI(TenantAPIView):
    """Check a marketing text against the brokerage's active compliance rules: required elements (permit number,
    licence / RERA ORN number, disclaimer, owner-required phrases) and prohibited claims, line by line."""

    method_perms = {"POST": "view_knowledge_base"}

    @extend_schema(request=ComplianceCheckSerializer, responses=ComplianceReportSerializer,
                   summary="Check a marketing text")
    def post(self, request):
        incoming = ComplianceCheckSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        report = compliance_check(brokerage=self.brokerage, text=data["text"], kind=data["kind"],
                                  permit_number=data.get("permit_number") or None)
        return Response(ComplianceReportSerializer(report.as_dict()).data)
