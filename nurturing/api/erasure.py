"""REST endpoint erasing one lead's personal data (owners), with the same service and confirmation as the page.
A lead already erased answers 200 with `already_erased: true` and changes nothing."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import StrictInput

from ..selectors import leads as selectors
from ..services import erasure as services
from .leads import LeadSerializer


class EraseRequestSerializer(StrictInput):
    reason = serializers.CharField(max_length=500, help_text="Why, and on whose request; kept in the audit log "
                                   "(the lead's name, e-mail and phone are scrubbed from it).")
    confirm = serializers.CharField(max_length=200, help_text="The lead's name as it stands, or ERASE.")


class ErasureSerializer(serializers.Serializer):
    lead = LeadSerializer()
    already_erased = serializers.BooleanField(help_text="The lead had been erased before: nothing changed.")
    erased_at = serializers.DateTimeField()
    message = serializers.CharField()
    counts = serializers.DictField(child=serializers.IntegerField(), help_text=(
        "What was changed: interactions, follow-ups, conversations, messages, alerts, notifications, audit "
        "entries, webhook deliveries, export archives withdrawn (empty when already erased)."))


class LeadEraseAPI(TenantAPIView):
    """Erase a lead's personal data in place: irreversible. The record and its figures stay (stage, source,
    dates, amounts); name, contact details, notes, message texts and every copy of them go."""

    method_perms = {"POST": services.ERASE_PERMISSION}
    lookup = selectors.lead_get

    @extend_schema(request=EraseRequestSerializer, responses=ErasureSerializer,
                   summary="Erase a lead's personal data (owners)")
    def post(self, request, pk: int):
        lead = self.object
        reason = ""
        if services.erasure_entry(self.brokerage, lead) is None:
            incoming = EraseRequestSerializer(data=request.data)
            incoming.is_valid(raise_exception=True)
            if not services.erasure_confirmed(lead, incoming.validated_data["confirm"]):
                raise serializers.ValidationError({"confirm": [
                    f"Send the lead's name as it stands, or {services.CONFIRM_WORD}."]})
            reason = incoming.validated_data["reason"]
        erasure = services.lead_erase(brokerage=self.brokerage, actor=request.user, lead=lead, reason=reason)
        return Response(ErasureSerializer({"lead": erasure.lead, "already_erased": erasure.already_erased,
                                           "erased_at": erasure.erased_at, "message": erasure.message,
                                           "counts": erasure.counts}).data)


urlpatterns = [
    path("nurturing/leads/<int:pk>/erase", LeadEraseAPI.as_view(), name="api-nurturing-lead-erase"),
]
