"""REST endpoints of agents' development and the brokerage's coaching figures: an agent's performance profile,
generating a training plan for them, and the coaching metrics of a period (every figure with its formula)."""

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_contract import StrictInput, query_dict
from brokerages.selectors import setting_value

from ..forms import MetricsPeriodForm
from ..permissions import can_coach_agent
from ..selectors.metrics import coaching_metrics
from ..selectors.performance import MAX_DAYS_LOOKBACK, agent_performance
from ..selectors.sessions import coached_agent_get
from ..selectors.training import plan_progress
from ..services.training import MAX_PLAN_DAYS, generate_training_plan
from .common import CoachingAPIView


class LookbackSerializer(serializers.Serializer):
    days_lookback = serializers.IntegerField(required=False, default=30, min_value=1, max_value=MAX_DAYS_LOOKBACK,
                                             help_text="Days back from today (default 30).")


class PlanWriteSerializer(StrictInput):
    target_completion_days = serializers.IntegerField(required=False, default=30, min_value=1,
                                                      max_value=MAX_PLAN_DAYS)


class PlanModuleSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(source="pk")
    module_id = serializers.IntegerField(source="module.pk")
    key = serializers.CharField(source="module.key")
    title = serializers.CharField(source="module.title")
    area = serializers.CharField(source="module.area")
    level = serializers.CharField(source="module.level")
    duration_minutes = serializers.IntegerField(source="module.duration_minutes")
    topics = serializers.ListField(source="module.topics", child=serializers.CharField())
    practice_scenarios = serializers.ListField(source="module.practice_scenarios", child=serializers.CharField())
    position = serializers.IntegerField()
    status = serializers.CharField()
    reason = serializers.CharField()


class PlanSummarySerializer(serializers.Serializer):
    """The seed's TrainingPlan."""

    plan_id = serializers.IntegerField(source="pk")
    agent_id = serializers.IntegerField()
    tenant_id = serializers.IntegerField(source="brokerage_id")
    created_at = serializers.DateTimeField()
    target_completion_date = serializers.DateField()
    status = serializers.CharField()
    training_modules = PlanModuleSerializer(source="items.all", many=True)
    priority_skills = serializers.ListField(child=serializers.CharField())
    improvement_goals = serializers.ListField(child=serializers.CharField())
    target_quality_score = serializers.FloatField()
    target_conversion_rate = serializers.FloatField()
    target_expertise_level = serializers.CharField()
    rationale = serializers.CharField()
    engine = serializers.CharField()
    degraded = serializers.BooleanField()


class PlanSerializer(PlanSummarySerializer):
    """The seed's TrainingPlan, with its progress."""

    progress = serializers.DictField(help_text="completed_modules, in_progress_modules, completion_percentage, "
                                               "baseline_metrics, current_metrics, improvement_metrics.")


class AgentPerformanceAPI(CoachingAPIView):
    """The seed's AgentPerformance for an agent over the last `days_lookback` days (an agent their own,
    managers anyone's)."""

    method_perms = {"GET": "view_brokerage"}
    lookup = coached_agent_get
    allow = can_coach_agent

    @extend_schema(parameters=[LookbackSerializer],
                   responses=OpenApiTypes.OBJECT, summary="An agent's performance profile")
    def get(self, request, pk: int):
        query = LookbackSerializer(data=query_dict(request))
        query.is_valid(raise_exception=True)
        profile = agent_performance(brokerage=self.brokerage, agent=self.object,
                                    days_lookback=query.validated_data["days_lookback"])
        return Response(profile.to_dict())


class AgentTrainingPlansAPI(CoachingAPIView):
    """Generate a training plan for the agent from their 30-day profile; it supersedes their active plan."""

    method_perms = {"POST": "view_brokerage"}
    lookup = coached_agent_get
    allow = can_coach_agent

    @extend_schema(request=PlanWriteSerializer, responses={201: PlanSerializer}, summary="Generate a training plan")
    def post(self, request, pk: int):
        incoming = PlanWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        plan = generate_training_plan(
            brokerage=self.brokerage, actor=request.user,
            agent_performance=agent_performance(brokerage=self.brokerage, agent=self.object, days_lookback=30),
            target_completion_days=incoming.validated_data["target_completion_days"])
        plan.progress = plan_progress(plan)
        return Response(PlanSerializer(plan).data, status=status.HTTP_201_CREATED)


class MetricsAPI(CoachingAPIView):
    """The seed's CoachingMetrics for a period: every figure, its formula (`formulas`), the brokerage's ROI
    assumptions (`assumptions`, changed in the settings) and why a figure is null (`reasons`)."""

    method_perms = {"GET": "view_team_performance"}

    @extend_schema(parameters=[OpenApiParameter("start", OpenApiTypes.DATE, description="First day (default: 30 "
                                                "days before end)."),
                               OpenApiParameter("end", OpenApiTypes.DATE, description="Last day, included "
                                                "(default: today), in the brokerage's time zone.")],
                   responses=OpenApiTypes.OBJECT, summary="Coaching metrics and ROI")
    def get(self, request):
        form = MetricsPeriodForm(query_dict(request))
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        start, end = form.period(setting_value(self.brokerage, "timezone"))
        return Response(coaching_metrics(brokerage=self.brokerage, start=start, end=end).to_dict())


urlpatterns = [
    path("coaching/agents/<int:pk>/performance", AgentPerformanceAPI.as_view(), name="api-coaching-agent-performance"),
    path("coaching/agents/<int:pk>/training-plans", AgentTrainingPlansAPI.as_view(),
         name="api-coaching-agent-training-plans"),
    path("coaching/metrics", MetricsAPI.as_view(), name="api-coaching-metrics"),
]
