"""REST endpoints of conversations and their messages (what a phone, SMS or WhatsApp system posts), their
analysis, and coaching alerts. The same services and access rules as the pages: an agent their own
conversations, managers (`manage_coaching`) everyone's."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_contract import (ErrorResponseSerializer, MomentField, StrictInput, id_parameter, paginated,
                                     since_parameter)
from nurturing.selectors.leads import leads as visible_leads

from ..models import ConversationChannel, Speaker
from ..permissions import can_acknowledge, can_coach
from ..realtime import alert_payload
from ..selectors import conversations as selectors
from ..services import conversations as services
from ..services.alerts import alert_acknowledge
from ..transcripts import MAX_MESSAGES, TranscriptLine
from .common import AGENT_FILTER, CoachingAPIView, agent_for, conflicts_as_409, list_query

SPEAKER_ERROR = "Unknown speaker “{input}”: say whether the agent or the lead said it."


class MessageFieldsSerializer(serializers.Serializer):
    speaker = serializers.ChoiceField(Speaker.choices, error_messages={"invalid_choice": SPEAKER_ERROR})
    # Emptiness and length are the service's rules (one message for the page and the API).
    text = serializers.CharField(allow_blank=True, trim_whitespace=False,
                                 help_text=f"What was said, at most {services.MAX_MESSAGE_CHARS:,} characters.")
    sent_at = MomentField(required=False, help_text="When it was said (default: now). An earlier "
                                        "time than the previous message's is moved up to it.")


class MessageSerializer(MessageFieldsSerializer):
    position = serializers.IntegerField(read_only=True)


class MessageWriteSerializer(StrictInput, MessageFieldsSerializer):
    pass


class FindingSerializer(serializers.Serializer):
    area = serializers.CharField()
    code = serializers.CharField()
    severity = serializers.ChoiceField(["low", "medium", "high", "critical"])
    title = serializers.CharField()
    message = serializers.CharField()
    suggested_action = serializers.CharField()
    evidence = serializers.ListField(child=serializers.CharField())
    message_index = serializers.IntegerField(allow_null=True)
    positive = serializers.BooleanField()


class AnalysisSerializer(serializers.Serializer):
    """`Analysis.to_dict()`: scores are 0–100, an area the conversation gave no occasion for is null."""

    overall_quality_score = serializers.FloatField(allow_null=True)
    quality_scores_by_area = serializers.DictField(child=serializers.FloatField(allow_null=True))
    expertise_scores = serializers.DictField(child=serializers.FloatField(allow_null=True))
    talk_ratio = serializers.FloatField(allow_null=True, help_text="The agent's share of the words, 0–1.")
    questions_asked = serializers.IntegerField()
    response_gaps = serializers.DictField()
    findings = FindingSerializer(many=True)
    final = serializers.BooleanField(help_text="True once the whole conversation was judged (it ended).")
    engine = serializers.CharField()
    degraded = serializers.BooleanField()
    degraded_reason = serializers.CharField(allow_null=True)


class AlertSerializer(serializers.Serializer):
    """The seed's alert structure (`coaching.realtime.alert_payload`), plus what it is about and its state."""

    alert_id = serializers.IntegerField()
    alert_type = serializers.ChoiceField(["REAL_TIME_SUGGESTION", "CONVERSATION_REVIEW"])
    title = serializers.CharField()
    message = serializers.CharField()
    priority = serializers.ChoiceField(["LOW", "MEDIUM", "HIGH", "CRITICAL"])
    suggested_action = serializers.CharField()
    evidence = serializers.ListField(child=serializers.CharField())
    channels = serializers.ListField(child=serializers.CharField())
    timestamp = serializers.DateTimeField()
    area = serializers.CharField()
    conversation_id = serializers.IntegerField()
    agent_id = serializers.IntegerField()
    escalated = serializers.BooleanField()
    acknowledged = serializers.BooleanField()
    acknowledged_at = serializers.DateTimeField(allow_null=True)


class ConversationSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    agent_id = serializers.IntegerField(read_only=True)
    lead_id = serializers.IntegerField(read_only=True, allow_null=True)
    channel = serializers.ChoiceField(ConversationChannel.choices, read_only=True)
    external_id = serializers.CharField(read_only=True)
    session_id = serializers.IntegerField(read_only=True, allow_null=True)
    started_at = serializers.DateTimeField(read_only=True)
    ended_at = serializers.DateTimeField(read_only=True, allow_null=True)
    message_count = serializers.IntegerField(read_only=True)
    quality_score = serializers.FloatField(read_only=True, allow_null=True)
    analysis_engine = serializers.CharField(read_only=True)
    analysis_degraded = serializers.BooleanField(read_only=True)


class ConversationDetailSerializer(ConversationSerializer):
    messages = serializers.SerializerMethodField()
    analysis = serializers.SerializerMethodField()

    @extend_schema_field(MessageSerializer(many=True))
    def get_messages(self, conversation) -> list[dict]:
        return MessageSerializer(selectors.messages_of(conversation), many=True).data

    @extend_schema_field(AnalysisSerializer(allow_null=True))
    def get_analysis(self, conversation) -> dict | None:
        return conversation.analysis or None


class ConversationWriteSerializer(StrictInput):
    agent_id = serializers.IntegerField(required=False, help_text="Whose conversation (default: the caller). "
                                        "Agents post their own; managers any coached member's.")
    lead_id = serializers.IntegerField(required=False, allow_null=True, help_text="The CRM lead, when known.")
    channel = serializers.ChoiceField(ConversationChannel.choices, default=ConversationChannel.CALL)
    external_id = serializers.CharField(required=False, allow_blank=True, max_length=100, help_text=(
        "Your system's id for the conversation. A retry with the same id returns the conversation stored the "
        "first time (same id, nothing added), so posting again after a timeout is safe."))
    started_at = MomentField(required=False)
    messages = MessageWriteSerializer(many=True, required=False, max_length=MAX_MESSAGES, help_text=(
        "The whole transcript in one go: the conversation is stored with every message and ended (all or "
        "nothing: any bad message is reported by its number and nothing is stored). Leave out to start a live "
        "conversation and post its messages one by one."))


class EndSerializer(StrictInput):
    ended_at = MomentField(required=False, help_text="Default: now.")


class MessageRecordedSerializer(serializers.Serializer):
    message = MessageSerializer()
    analysis = AnalysisSerializer(help_text="The incremental analysis of the conversation so far.")
    alerts = AlertSerializer(many=True, help_text="Alerts this message raised (also pushed over the socket).")


class AnalysisResponseSerializer(serializers.Serializer):
    conversation_id = serializers.IntegerField()
    ended = serializers.BooleanField()
    quality_score = serializers.FloatField(allow_null=True)
    engine = serializers.CharField()
    degraded = serializers.BooleanField()
    analysis = AnalysisSerializer(allow_null=True)


def _lead(view, lead_id):
    if lead_id is None:
        return None
    lead = visible_leads(view.brokerage, view.request.user, view.perms).filter(pk=lead_id).first()
    if lead is None:
        raise serializers.ValidationError({"lead_id": ["No lead you can work has this id."]})
    return lead


def _lines(messages: list[dict]) -> list[TranscriptLine]:
    return [TranscriptLine(speaker=item["speaker"], text=item["text"], sent_at=item.get("sent_at"),
                           where=f"Message {number}") for number, item in enumerate(messages, start=1)]


def _numbered(errors: dict) -> dict:
    """Errors of the transcript's messages as "Message 3: speaker: …", one line each, instead of per-message
    structures (a list, or a dict by 0-based index) a person would have to count through."""
    items = errors.get("messages")
    if isinstance(items, list) and any(isinstance(item, dict) for item in items):
        items = dict(enumerate(items))
    if isinstance(items, dict):
        errors = dict(errors)
        errors["messages"] = [f"Message {index + 1}: {field}: {' '.join(str(text) for text in texts)}"
                              for index, item in sorted(items.items()) if isinstance(item, dict)
                              for field, texts in item.items()]
    return errors


def _detail(conversation, status_code=status.HTTP_200_OK) -> Response:
    return Response(ConversationDetailSerializer(conversation).data, status=status_code)


class ConversationListAPI(CoachingAPIView):
    """Conversations the caller may see (their own, or the team's for managers), newest first; and starting one,
    live or from a whole transcript."""

    method_perms = {"GET": "view_brokerage", "POST": "view_brokerage"}

    @extend_schema(parameters=[AGENT_FILTER, OpenApiParameter("ended", bool, description="Only ended (true) or "
                                                             "live (false) conversations."),
                               since_parameter("conversations started")],
                   responses=ConversationSerializer(many=True), summary="List conversations")
    def get(self, request):
        query = list_query(request)
        found = selectors.conversations(self.brokerage, request.user, self.perms, agent_id=query["agent"],
                                        ended=query["ended"])
        if query["since"] is not None:
            found = found.filter(started_at__gte=query["since"])
        return paginated(self, found, ConversationSerializer)

    @extend_schema(request=ConversationWriteSerializer, responses={201: ConversationDetailSerializer},
                   summary="Start a conversation (or store a whole transcript)")
    def post(self, request):
        incoming = ConversationWriteSerializer(data=request.data)
        if not incoming.is_valid():
            raise serializers.ValidationError(_numbered(incoming.errors))
        data = incoming.validated_data
        common = {"brokerage": self.brokerage, "actor": request.user, "agent": agent_for(self, data.get("agent_id")),
                  "lead": _lead(self, data.get("lead_id")), "channel": data["channel"],
                  "external_id": data.get("external_id", ""), "started_at": data.get("started_at")}
        if "messages" in data:
            conversation = services.transcript_record(**common, lines=_lines(data["messages"]), field="messages")
        else:
            conversation = services.conversation_start(**common)
        return _detail(conversation, status.HTTP_201_CREATED)


class ConversationAPI(CoachingAPIView):
    """One conversation with its messages and latest analysis."""

    method_perms = {"GET": "view_brokerage"}
    lookup = selectors.conversation_get
    allow = can_coach

    @extend_schema(responses=ConversationDetailSerializer, summary="One conversation")
    def get(self, request, pk: int):
        return _detail(self.object)


class ConversationMessagesAPI(CoachingAPIView):
    """The conversation's messages in the order they were said (paginated); and posting the next message of a
    live conversation, whose answer carries the incremental analysis and the alerts it raised. An ended
    conversation answers 409 (`conversation_ended`)."""

    method_perms = {"GET": "view_brokerage", "POST": "view_brokerage"}
    lookup = selectors.conversation_get
    allow = can_coach

    @extend_schema(responses=MessageSerializer(many=True), summary="A conversation's messages")
    def get(self, request, pk: int):
        return paginated(self, selectors.messages_of(self.object), MessageSerializer)

    @extend_schema(request=MessageWriteSerializer,
                   responses={201: MessageRecordedSerializer, 409: ErrorResponseSerializer},
                   summary="Post a message")
    def post(self, request, pk: int):
        incoming = MessageWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        with conflicts_as_409():
            recorded = services.message_record(brokerage=self.brokerage, actor=request.user,
                                               conversation=self.object, **incoming.validated_data)
        body = {"message": MessageSerializer(recorded.message).data, "analysis": recorded.analysis.to_dict(),
                "alerts": [alert_payload(alert) for alert in recorded.alerts]}
        return Response(body, status=status.HTTP_201_CREATED)


class ConversationEndAPI(CoachingAPIView):
    """End the conversation: full analysis, final alerts, the lead's timeline. Ending it again changes nothing."""

    method_perms = {"POST": "view_brokerage"}
    lookup = selectors.conversation_get
    allow = can_coach

    @extend_schema(request=EndSerializer, responses=ConversationDetailSerializer, summary="End a conversation")
    def post(self, request, pk: int):
        incoming = EndSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        conversation = services.conversation_end(brokerage=self.brokerage, actor=request.user,
                                                 conversation=self.object, **incoming.validated_data)
        return _detail(conversation)


class ConversationAnalysisAPI(CoachingAPIView):
    """The conversation's latest analysis: incremental while it is live, full once it ended (and the model
    engine's, when the brokerage uses one and it has run)."""

    method_perms = {"GET": "view_brokerage"}
    lookup = selectors.conversation_get
    allow = can_coach

    @extend_schema(responses=AnalysisResponseSerializer, summary="A conversation's analysis")
    def get(self, request, pk: int):
        conversation = self.object
        return Response({"conversation_id": conversation.pk, "ended": not conversation.is_open,
                         "quality_score": conversation.quality_score, "engine": conversation.analysis_engine,
                         "degraded": conversation.analysis_degraded, "analysis": conversation.analysis or None})


class AlertListAPI(CoachingAPIView):
    """Coaching alerts the caller may see (their own, or the team's for managers), newest first — what a client
    that was offline missed."""

    method_perms = {"GET": "view_brokerage"}

    @extend_schema(parameters=[AGENT_FILTER, id_parameter("conversation"),
                               OpenApiParameter("escalated", bool),
                               OpenApiParameter("acknowledged", bool, description="false: the unacknowledged "
                                                "alerts (what the agent has not seen yet)."),
                               since_parameter("alerts raised")],
                   responses=AlertSerializer(many=True), summary="List coaching alerts")
    def get(self, request):
        query = list_query(request)
        found = selectors.alerts(self.brokerage, request.user, self.perms, agent_id=query["agent"],
                                 escalated=query["escalated"], acknowledged=query["acknowledged"],
                                 conversation_id=query["conversation"])
        if query["since"] is not None:
            found = found.filter(created_at__gte=query["since"])
        return paginated(self, found, alert_payload)


class AlertAcknowledgeAPI(CoachingAPIView):
    """The agent marks their alert as seen (only the alert's agent; again changes nothing)."""

    method_perms = {"POST": "use_coaching"}
    lookup = selectors.alert_get
    allow = can_acknowledge

    @extend_schema(request=None, responses=AlertSerializer, summary="Acknowledge a coaching alert")
    def post(self, request, pk: int):
        alert = alert_acknowledge(brokerage=self.brokerage, actor=request.user, alert=self.object)
        return Response(alert_payload(alert))


urlpatterns = [
    path("coaching/conversations", ConversationListAPI.as_view(), name="api-coaching-conversations"),
    path("coaching/conversations/<int:pk>", ConversationAPI.as_view(), name="api-coaching-conversation"),
    path("coaching/conversations/<int:pk>/messages", ConversationMessagesAPI.as_view(),
         name="api-coaching-conversation-messages"),
    path("coaching/conversations/<int:pk>/end", ConversationEndAPI.as_view(), name="api-coaching-conversation-end"),
    path("coaching/conversations/<int:pk>/analysis", ConversationAnalysisAPI.as_view(),
         name="api-coaching-conversation-analysis"),
    path("coaching/alerts", AlertListAPI.as_view(), name="api-coaching-alerts"),
    path("coaching/alerts/<int:pk>/acknowledge", AlertAcknowledgeAPI.as_view(), name="api-coaching-alert-acknowledge"),
]
