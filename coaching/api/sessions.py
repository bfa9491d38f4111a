"""REST endpoints of coaching sessions: start one for an agent at an intensity, list them, read one, and pause,
resume, stop or cancel it. A second running session for an agent, or changing a session that has ended,
answers 409 with the reason."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_contract import ErrorResponseSerializer, StrictInput, paginated

from ..models import CoachingSession, Intensity
from ..permissions import can_coach
from ..selectors import sessions as selectors
from ..services import sessions as services
from .common import AGENT_FILTER, CoachingAPIView, agent_for, conflicts_as_409, list_query


class SessionSerializer(serializers.Serializer):
    """The seed's CoachingSession."""

    session_id = serializers.IntegerField(source="pk")
    agent_id = serializers.IntegerField()
    tenant_id = serializers.IntegerField(source="brokerage_id")
    started_by_id = serializers.IntegerField(allow_null=True)
    status = serializers.ChoiceField(CoachingSession.Status.choices)
    intensity = serializers.ChoiceField(Intensity.choices)
    start_time = serializers.DateTimeField(source="started_at")
    end_time = serializers.DateTimeField(source="ended_at", allow_null=True)
    paused_at = serializers.DateTimeField(allow_null=True)
    conversations_monitored = serializers.IntegerField()
    coaching_alerts_sent = serializers.IntegerField()
    real_time_interventions = serializers.IntegerField()
    current_quality_score = serializers.FloatField(allow_null=True)
    baseline_quality_score = serializers.FloatField(allow_null=True)
    improvement_delta = serializers.FloatField(allow_null=True, help_text="Current − baseline quality.")
    enable_real_time_coaching = serializers.BooleanField()
    enable_notifications = serializers.BooleanField()
    preferred_channels = serializers.ListField(child=serializers.CharField())


class SessionWriteSerializer(StrictInput):
    agent_id = serializers.IntegerField(required=False, help_text="Default: the caller. Managers start sessions "
                                        "for any coached member; an agent for themself.")
    intensity = serializers.ChoiceField(Intensity.choices, required=False, help_text=(
        "Default: the brokerage's default intensity. Only managers set CRITICAL (it escalates to them)."))
    enable_real_time = serializers.BooleanField(default=True)
    enable_notifications = serializers.BooleanField(default=True)
    preferred_channels = serializers.ListField(child=serializers.ChoiceField(services.NOTIFICATION_CHANNELS),
                                               required=False, max_length=len(services.NOTIFICATION_CHANNELS))


class SessionListAPI(CoachingAPIView):
    """Sessions the caller may see (their own, or the team's for managers), newest first; and starting one."""

    method_perms = {"GET": "view_brokerage", "POST": "view_brokerage"}

    @extend_schema(parameters=[AGENT_FILTER,
                               OpenApiParameter("running", bool, description="Only running (active or paused) "
                                                "sessions, or only ended ones.")],
                   responses=SessionSerializer(many=True), summary="List coaching sessions")
    def get(self, request):
        query = list_query(request)
        found = selectors.sessions(self.brokerage, request.user, self.perms, agent_id=query["agent"],
                                   running=query["running"])
        return paginated(self, found, SessionSerializer)

    @extend_schema(request=SessionWriteSerializer, responses={201: SessionSerializer, 409: ErrorResponseSerializer},
                   summary="Start a coaching session")
    def post(self, request):
        incoming = SessionWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        agent = agent_for(self, data.pop("agent_id", None))
        with conflicts_as_409():
            session = services.session_start(brokerage=self.brokerage, actor=request.user, agent=agent, **data)
        return Response(SessionSerializer(session).data, status=status.HTTP_201_CREATED)


class SessionAPI(CoachingAPIView):
    """One coaching session (404 when there is no such session in the brokerage)."""

    method_perms = {"GET": "view_brokerage"}
    lookup = selectors.session_get
    allow = can_coach

    @extend_schema(responses=SessionSerializer, summary="One coaching session")
    def get(self, request, pk: int):
        return Response(SessionSerializer(self.object).data)


def _action_api(service, summary: str, doc: str):
    class SessionActionAPI(CoachingAPIView):
        method_perms = {"POST": "view_brokerage"}
        lookup = selectors.session_get
        allow = can_coach

        @extend_schema(request=None, responses={200: SessionSerializer, 409: ErrorResponseSerializer},
                       summary=summary)
        def post(self, request, pk: int):
            with conflicts_as_409():
                session = service(brokerage=self.brokerage, actor=request.user, session=self.object)
            return Response(SessionSerializer(session).data)

    SessionActionAPI.__doc__ = doc
    SessionActionAPI.__name__ = SessionActionAPI.__qualname__ = \
        f"Session{service.__name__.removeprefix('session_').capitalize()}API"
    return SessionActionAPI


SessionStopAPI = _action_api(services.session_stop, "Stop a coaching session",
                             "End the session as completed (its final quality is kept). Stopping it again "
                             "changes nothing.")
SessionPauseAPI = _action_api(services.session_pause, "Pause a coaching session",
                              "No alerts while paused. Pausing a paused session changes nothing.")
SessionResumeAPI = _action_api(services.session_resume, "Resume a coaching session",
                               "Coach again after a pause. Resuming an active session changes nothing.")
SessionCancelAPI = _action_api(services.session_cancel, "Cancel a coaching session",
                               "End a session started by mistake (left out of completed coaching).")

urlpatterns = [
    path("coaching/sessions", SessionListAPI.as_view(), name="api-coaching-sessions"),
    path("coaching/sessions/<int:pk>", SessionAPI.as_view(), name="api-coaching-session"),
    path("coaching/sessions/<int:pk>/stop", SessionStopAPI.as_view(), name="api-coaching-session-stop"),
    path("coaching/sessions/<int:pk>/pause", SessionPauseAPI.as_view(), name="api-coaching-session-pause"),
    path("coaching/sessions/<int:pk>/resume", SessionResumeAPI.as_view(), name="api-coaching-session-resume"),
    path("coaching/sessions/<int:pk>/cancel", SessionCancelAPI.as_view(), name="api-coaching-session-cancel"),
]
