"""REST endpoint of the Agentic Assistant: the seed's `POST /api/copilot/assistant/analyze`. Same function as the
Assistant tab of the Co-Pilot page."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import StrictInput

from .assistant import ANALYSIS_TYPES, analysis_subject, analyze_workflow


class AnalyzeRequestSerializer(StrictInput):
    analysis_type = serializers.CharField(max_length=50, required=False, default="workflow_efficiency",
                                          help_text=f"One of: {', '.join(ANALYSIS_TYPES)}.")
    agent_id = serializers.IntegerField(required=False, help_text="Owners: analyse this member's workflow "
                                                                  "instead of their own.")


class LeadRefSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    waited = serializers.CharField()
    url = serializers.CharField()


class RecommendationSerializer(serializers.Serializer):
    kind = serializers.CharField()
    priority = serializers.ChoiceField(choices=["high", "medium", "low"])
    title = serializers.CharField()
    fact = serializers.CharField(help_text="The measured finding behind the recommendation.")
    action = serializers.CharField()
    url = serializers.CharField(help_text="The page that fixes it.")
    link_label = serializers.CharField()
    examples = LeadRefSerializer(many=True)


class OpportunitySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=["lead_followup", "report_creation", "content_generation"])
    label = serializers.CharField()
    parameters = serializers.DictField(help_text="Post with `type` to /api/copilot/assistant/automate as they are.")
    finding = serializers.CharField(allow_blank=True)


class ScoreComponentSerializer(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    weight = serializers.IntegerField()
    value = serializers.FloatField(allow_null=True, help_text="0–1; null without data (then left out).")
    measured = serializers.CharField()


class ScoreSerializer(serializers.Serializer):
    score = serializers.FloatField(allow_null=True)
    formula = serializers.CharField()
    reason = serializers.CharField(allow_blank=True, help_text="Why there is no score.")
    weight_with_data = serializers.IntegerField()
    components = ScoreComponentSerializer(many=True)


class AssistantAnalysisSerializer(serializers.Serializer):
    analysis_type = serializers.CharField()
    agent_id = serializers.IntegerField()
    agent_name = serializers.CharField()
    generated_at = serializers.DateTimeField()
    recommendations = RecommendationSerializer(many=True)
    automation_opportunities = OpportunitySerializer(many=True)
    efficiency_score = serializers.FloatField(allow_null=True, help_text="0–100; null when there is not enough "
                                                                         "data (see score.reason).")
    score = ScoreSerializer()
    facts = serializers.DictField(help_text="What was measured, and the settings it was measured against.")


class AssistantAnalyzeAPI(TenantAPIView):
    """Analyse the caller's workflow (owners: any member's): recommendations with the facts behind them,
    runnable automation opportunities and an efficiency score with its formula."""

    method_perms = {"POST": "use_workflow_automation"}

    @extend_schema(request=AnalyzeRequestSerializer, responses=AssistantAnalysisSerializer,
                   summary="Analyse a workflow")
    def post(self, request):
        incoming = AnalyzeRequestSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        agent = analysis_subject(brokerage=self.brokerage, actor=request.user, perms=self.perms,
                                 agent_id=incoming.validated_data.get("agent_id"))
        analysis = analyze_workflow(brokerage=self.brokerage, agent=agent, viewer=request.user,
                                    analysis_type=incoming.validated_data["analysis_type"])
        return Response(AssistantAnalysisSerializer(analysis.to_dict()).data)
