"""REST endpoints of the assistant's automations: the seed's `POST /api/copilot/assistant/automate` and the
caller's automation history. Same service as the Assistant's buttons and the runs pages
(`copilot.assistant.automations`)."""

from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Pagination, StrictInput, paginated

from .assistant.automations import assistant_run_get, assistant_runs, automation_run, can_review_run
from .models import AssistantRun, AutomationType

PERM = "use_workflow_automation"


class AutomationRequestSerializer(StrictInput):
    automation_type = serializers.CharField(max_length=50, help_text=f"One of: {', '.join(AutomationType.values)}.")
    parameters = serializers.DictField(required=False, default=dict, help_text=(
        "content_generation: listing_id, content_type (listing_description, social_post, market_update_email, "
        "neighbourhood_guide). lead_followup: lead_ids, reason (forgotten, viewing_next_step, stuck). "
        "report_creation: report (agent_weekly, with agent_id for a colleague; market_snapshot, with community "
        "and property_type to narrow it)."))


class AutomationResultSerializer(serializers.Serializer):
    """The seed's AutomationResult (success, result, automation_type) with the logged run."""

    success = serializers.SerializerMethodField(help_text="The automation did its work (false: see `error`).")
    automation_type = serializers.CharField()
    result = serializers.DictField(source="output", help_text="Texts and their compliance report, draft ids, or "
                                                               "the report's metadata.")
    run_id = serializers.IntegerField(source="pk")
    status = serializers.ChoiceField(choices=AssistantRun.Status.choices)
    engine = serializers.CharField()
    degraded = serializers.BooleanField(help_text="The model engine failed and the local engine did the work.")
    error = serializers.CharField(allow_blank=True, help_text="Why a failed run failed.")
    text = serializers.CharField(allow_blank=True, help_text="Generated text as it stands (the agent's edit, if "
                                                              "any); empty for other automations.")
    pdf_url = serializers.SerializerMethodField(help_text="Where a report's PDF is downloaded (signed-in).")
    url = serializers.SerializerMethodField(help_text="The run's page, to review it.")
    inputs = serializers.DictField()
    created_at = serializers.DateTimeField()
    reviewed_at = serializers.DateTimeField(allow_null=True)

    def get_success(self, run) -> bool:
        return run.status != AssistantRun.Status.FAILED

    def get_pdf_url(self, run) -> str | None:
        return reverse("copilot:assistant_run_pdf", kwargs={"pk": run.pk}) if run.report_file else None

    def get_url(self, run) -> str:
        return reverse("copilot:assistant_run", kwargs={"pk": run.pk})


class AutomateAPI(TenantAPIView):
    """Run an automation for the caller: generate marketing text from a listing, draft follow-ups for leads,
    or create a report PDF. Unknown types and parameters answer 400 naming the known ones; a lead or listing of
    another agent or brokerage answers 404 and nothing is created. Every run that goes ahead is logged, failed
    ones included (e.g. a listing missing facts: `error` names them)."""

    method_perms = {"POST": PERM}

    @extend_schema(request=AutomationRequestSerializer, responses=AutomationResultSerializer,
                   summary="Run an assistant automation")
    def post(self, request):
        incoming = AutomationRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        run = automation_run(brokerage=self.brokerage, actor=request.user,
                             automation_type=incoming.validated_data["automation_type"],
                             parameters=incoming.validated_data["parameters"])
        return Response(AutomationResultSerializer(run).data)


class RunListAPI(TenantAPIView):
    """The caller's automation history, newest first (paginated)."""

    method_perms = {"GET": PERM}
    pagination_class = Pagination

    @extend_schema(responses=AutomationResultSerializer(many=True), summary="List my assistant runs")
    def get(self, request):
        return paginated(self, assistant_runs(self.brokerage, request.user), AutomationResultSerializer)


class RunAPI(TenantAPIView):
    """One of the caller's runs (another member's answers 403, another brokerage's 404)."""

    method_perms = {"GET": PERM}
    lookup = assistant_run_get
    allow = can_review_run

    @extend_schema(responses=AutomationResultSerializer, summary="Read an assistant run")
    def get(self, request, pk):
        return Response(AutomationResultSerializer(self.object).data)
