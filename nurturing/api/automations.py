"""API: workflow automations (the seed's `workflow_automation`) and their run log. The JSON documents are
validated by the same schema as the builder page; errors name the path of the offending value."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Pagination, StrictInput, paginated

from ..models import AutomationRun, WorkflowType
from ..selectors import automations as selectors
from ..services import automations as services

TRIGGER_HELP = (
    '{"trigger": "lead_created" | "stage_changed" | "idle" | "tag_added" | "inbound_message", '
    '"idle_days": 1..365 (idle only, required), "tag": "vip" (tag_added only, required), '
    '"to_stage": "qualified" (stage_changed only, optional), "conditions": {"source": [...], "stage": [...], '
    '"budget_min": "1000000", "budget_max": "3000000", "area": [...], "tag": [...]}}. Every condition given must '
    "hold; a list matches any of its values; budgets match when the lead's range overlaps."
)
ACTIONS_HELP = (
    'Run in order: {"type": "enrol_in_sequence", "sequence_id": 3}, {"type": "assign_agent", "agent_id": 12 or '
    '"round_robin"}, {"type": "add_tag", "tag": "hot"}, {"type": "notify", "recipient": "assigned_agent" | "owners", '
    '"message": "New lead {{ name }}"}, {"type": "create_followup", "channel": "email" | "sms" | "whatsapp" | '
    '"call", "instruction": "..."}, {"type": "call_webhook", "url": "https://..."}. Ids must name an active '
    "sequence or agent of your brokerage."
)
EXAMPLE = {
    "name": "Portal leads: share and welcome",
    "workflow_type": "nurturing",
    "trigger_conditions": {"trigger": "lead_created", "conditions": {"source": ["portal"]}},
    "actions": [{"type": "assign_agent", "agent_id": "round_robin"},
                {"type": "enrol_in_sequence", "sequence_id": 3}],
    "is_active": True,
}


@extend_schema_field(OpenApiTypes.OBJECT)
class TriggerConditionsField(serializers.JSONField):
    pass


@extend_schema_field({"type": "array", "items": {"type": "object"}})
class ActionsField(serializers.JSONField):
    pass


class AutomationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=255)
    workflow_type = serializers.ChoiceField(choices=WorkflowType.choices, default=WorkflowType.NURTURING)
    trigger_conditions = TriggerConditionsField(help_text=TRIGGER_HELP)
    actions = ActionsField(help_text=ACTIONS_HELP)
    is_active = serializers.BooleanField(default=True)
    last_assigned_agent_id = serializers.IntegerField(read_only=True, allow_null=True,
                                                      help_text="Whom round robin gave the last lead to.")
    created_by_id = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class AutomationWriteSerializer(StrictInput, AutomationSerializer):
    pass


class AutomationRunSerializer(serializers.ModelSerializer):
    lead_id = serializers.IntegerField(allow_null=True, read_only=True)
    lead_name = serializers.CharField(source="lead.name", allow_null=True, read_only=True, default=None)
    detail = serializers.JSONField(help_text='Succeeded: {"actions": [{"type", "result"}]}; failed: also '
                                             '"failed_action" (index) and "error"; skipped: {"reason"}.')

    class Meta:
        model = AutomationRun
        fields = ("id", "lead_id", "lead_name", "trigger", "status", "detail", "created_at")
        read_only_fields = fields


class AutomationListAPI(TenantAPIView):
    """The brokerage's workflow automations. Owners and agents read them; owners create them."""

    method_perms = {"GET": "use_workflow_automation", "POST": "manage_nurturing"}
    pagination_class = Pagination

    @extend_schema(responses=AutomationSerializer(many=True), summary="List automations")
    def get(self, request):
        return paginated(self, selectors.automations(self.brokerage), AutomationSerializer)

    @extend_schema(request=AutomationWriteSerializer, responses={201: AutomationSerializer},
                   summary="Create an automation",
                   examples=[OpenApiExample("Round robin and a welcome sequence", value=EXAMPLE, request_only=True)])
    def post(self, request):
        incoming = AutomationWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        automation = services.automation_create(brokerage=self.brokerage, actor=request.user,
                                                **incoming.validated_data)
        return Response(AutomationSerializer(automation).data, status=status.HTTP_201_CREATED)


class AutomationAPI(TenantAPIView):
    """One automation. Owners change it; `is_active: false` switches it off (as the page's toggle does; its run
    log stays), and switching it back on checks its actions again. Automations are not deleted: DELETE answers
    405."""

    method_perms = {"GET": "use_workflow_automation", "PATCH": "manage_nurturing"}
    lookup = selectors.automation_get

    @extend_schema(responses=AutomationSerializer, summary="One automation")
    def get(self, request, pk: int):
        return Response(AutomationSerializer(self.object).data)

    @extend_schema(request=AutomationWriteSerializer, responses=AutomationSerializer, summary="Change an automation")
    def patch(self, request, pk: int):
        incoming = AutomationWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        automation = services.automation_update(brokerage=self.brokerage, actor=request.user,
                                                automation=self.object, data=incoming.validated_data)
        return Response(AutomationSerializer(automation).data)


class AutomationRunsAPI(TenantAPIView):
    """The automation's run log, newest first: every run for owners and support staff, the runs on their own
    leads for agents."""

    method_perms = {"GET": "use_workflow_automation"}
    lookup = selectors.automation_get
    pagination_class = Pagination

    @extend_schema(responses=AutomationRunSerializer(many=True), summary="An automation's runs")
    def get(self, request, pk: int):
        runs = selectors.automation_runs(self.brokerage, self.object, request.user, self.perms)
        return paginated(self, runs, AutomationRunSerializer)


urlpatterns = [
    path("nurturing/automations", AutomationListAPI.as_view(), name="api-nurturing-automations"),
    path("nurturing/automations/<int:pk>", AutomationAPI.as_view(), name="api-nurturing-automation"),
    path("nurturing/automations/<int:pk>/runs", AutomationRunsAPI.as_view(), name="api-nurturing-automation-runs"),
]
