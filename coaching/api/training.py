"""REST endpoints of training: the module library, and agents' training plans (an agent their own, managers
everyone's). Plans are generated per agent (`POST /api/coaching/agents/{id}/training-plans`, coaching.api.team);
a new plan supersedes the agent's active one, so plans are never deleted."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_contract import IdField, paginated, query_params

from ..models import Area, SkillLevel, TrainingPlan
from ..permissions import can_coach
from ..selectors import training as selectors
from .common import AGENT_FILTER, CoachingAPIView
from .team import PlanSerializer, PlanSummarySerializer


class ModuleSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    key = serializers.CharField()
    title = serializers.CharField()
    area = serializers.ChoiceField(Area.choices)
    level = serializers.ChoiceField(SkillLevel.choices)
    description = serializers.CharField(allow_blank=True)
    duration_minutes = serializers.IntegerField()
    topics = serializers.ListField(child=serializers.CharField())
    practice_scenarios = serializers.ListField(child=serializers.CharField())
    library = serializers.SerializerMethodField(help_text="True for the platform's library; false for a module "
                                                          "of the brokerage's own.")

    def get_library(self, module) -> bool:
        return module.brokerage_id is None


class ModuleQuerySerializer(serializers.Serializer):
    area = serializers.ChoiceField(Area.choices, required=False)
    level = serializers.ChoiceField(SkillLevel.choices, required=False)


class PlanQuerySerializer(serializers.Serializer):
    agent = IdField(required=False)
    status = serializers.ChoiceField(TrainingPlan.Status.choices, required=False)


class TrainingModuleListAPI(CoachingAPIView):
    """The training library: the platform's modules and the brokerage's own, by area, level and title."""

    method_perms = {"GET": "view_brokerage"}

    @extend_schema(parameters=[OpenApiParameter("area", str, enum=Area.values),
                               OpenApiParameter("level", str, enum=SkillLevel.values)],
                   responses=ModuleSerializer(many=True), summary="List training modules")
    def get(self, request):
        query = query_params(ModuleQuerySerializer, request)
        return paginated(self, selectors.modules_for(self.brokerage).filter(**query), ModuleSerializer)


class TrainingPlanListAPI(CoachingAPIView):
    """Training plans the caller may see (their own, or the team's for managers), newest first: the active one
    and those it superseded or that were completed. A plan's progress is on its own route."""

    method_perms = {"GET": "view_brokerage"}

    @extend_schema(parameters=[AGENT_FILTER, OpenApiParameter("status", str, enum=TrainingPlan.Status.values)],
                   responses=PlanSummarySerializer(many=True), summary="List training plans")
    def get(self, request):
        query = query_params(PlanQuerySerializer, request)
        found = selectors.plans(self.brokerage, request.user, self.perms, agent_id=query.get("agent"),
                                status=query.get("status", ""))
        return paginated(self, found, PlanSummarySerializer)


class TrainingPlanAPI(CoachingAPIView):
    """One training plan with its modules and progress: module statuses, completion, and the agent's figures
    now against the baseline the plan was made from."""

    method_perms = {"GET": "view_brokerage"}
    lookup = selectors.plan_get
    allow = can_coach

    @extend_schema(responses=PlanSerializer, summary="One training plan")
    def get(self, request, pk: int):
        plan = self.object
        plan.progress = selectors.plan_progress(plan)
        return Response(PlanSerializer(plan).data)


urlpatterns = [
    path("coaching/training-modules", TrainingModuleListAPI.as_view(), name="api-coaching-training-modules"),
    path("coaching/training-plans", TrainingPlanListAPI.as_view(), name="api-coaching-training-plans"),
    path("coaching/training-plans/<int:pk>", TrainingPlanAPI.as_view(), name="api-coaching-training-plan"),
]
