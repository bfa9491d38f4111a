"""API: the seed's nurturing sequences (`GET/POST /api/nurturing/sequences`), one sequence, and enrolments.
Same services as the pages; step errors come from `nurturing.steps.clean_steps`, one message per step."""

from django.urls import path, re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Pagination, StrictInput, paginated

from ..models import SEND_CHANNELS, Enrollment, SequenceType
from ..permissions import can_work_lead, can_work_lead_of
from ..selectors import sequences as selectors
from ..selectors.leads import lead_get
from ..services import sequences as services
from ..steps import MAX_DELAY_DAYS, MERGE_FIELDS, MAX_STEPS


class NurturingSequenceStepSerializer(serializers.Serializer):
    """Documents a step; the steps are validated by the same rule as the step editor's."""

    delay_days = serializers.IntegerField(min_value=0, max_value=MAX_DELAY_DAYS,
                                          help_text="Days after the previous step (the first: after enrolment).")
    # Described in words: an enum of this subset of the interaction channels would clash with theirs by name.
    channel = serializers.CharField(help_text="One of " + ", ".join(SEND_CHANNELS) + ".")
    subject = serializers.CharField(required=False, max_length=200)
    body = serializers.CharField(required=False, max_length=5000, help_text=(
        "The message, with merge fields such as {{ first_name }}: " + ", ".join(MERGE_FIELDS) + "."))
    instruction = serializers.CharField(required=False, max_length=1000,
                                        help_text="In place of body: what the AI writer should write.")


@extend_schema_field(NurturingSequenceStepSerializer(many=True))
class StepsField(serializers.JSONField):
    """The raw list goes to `clean_steps`, whose messages name the step and field at fault."""


class NurturingSequenceSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(source="sequence_type", choices=SequenceType.choices)
    steps = StepsField(help_text=f"1 to {MAX_STEPS} steps, in order.")
    is_active = serializers.BooleanField(default=True)
    created_by = serializers.IntegerField(source="created_by_id", read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class NurturingSequenceWriteSerializer(StrictInput, NurturingSequenceSerializer):
    """A sequence as sent: name, type, steps and optionally is_active. Fields it does not know are refused."""


class NurturingEnrollmentSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead_id = serializers.IntegerField(read_only=True)
    lead_name = serializers.CharField(source="lead.name", read_only=True)
    sequence_id = serializers.IntegerField(read_only=True)
    status = serializers.ChoiceField(choices=Enrollment.Status.choices, read_only=True)
    stop_reason = serializers.CharField(read_only=True)
    next_step = serializers.IntegerField(read_only=True, help_text="0-based index of the next step to draft.")
    next_due_at = serializers.DateTimeField(read_only=True, allow_null=True)
    enrolled_by = serializers.IntegerField(source="enrolled_by_id", read_only=True, allow_null=True)
    enrolled_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class NurturingEnrolSerializer(StrictInput):
    lead_id = serializers.IntegerField(min_value=1)


class NurturingEnrollmentActionSerializer(StrictInput):
    reason = serializers.CharField(required=False, allow_blank=True, max_length=255)


def _sequence(view):
    """The route's sequence; members without manage_nurturing only see the active ones."""
    if not view.object.is_active and "manage_nurturing" not in view.perms:
        raise NotFound("No such sequence.")
    return view.object


class SequenceListAPI(TenantAPIView):
    """The brokerage's nurturing sequences (members who build them also see switched-off ones)."""

    method_perms = {"GET": "work_leads", "POST": "manage_nurturing"}
    pagination_class = Pagination

    @extend_schema(responses=NurturingSequenceSerializer(many=True), summary="List nurturing sequences")
    def get(self, request):
        found = selectors.sequences(self.brokerage, active_only="manage_nurturing" not in self.perms)
        return paginated(self, found, NurturingSequenceSerializer)

    @extend_schema(request=NurturingSequenceWriteSerializer, responses={201: NurturingSequenceSerializer},
                   summary="Create a nurturing sequence")
    def post(self, request):
        incoming = NurturingSequenceWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        sequence = services.sequence_create(brokerage=self.brokerage, actor=request.user, **incoming.validated_data)
        return Response(NurturingSequenceSerializer(sequence).data, status=status.HTTP_201_CREATED)


class SequenceAPI(TenantAPIView):
    """One nurturing sequence. Changing its steps keeps every enrolment's place. Sequences are not deleted
    (their enrolments and drafts keep pointing at them): `is_active: false` switches one off, as the page's
    toggle does, and its enrolments wait where they are until it is on again; DELETE answers 405."""

    method_perms = {"GET": "work_leads", "PATCH": "manage_nurturing"}
    lookup = selectors.sequence_get

    @extend_schema(responses=NurturingSequenceSerializer, summary="One nurturing sequence")
    def get(self, request, pk: int):
        return Response(NurturingSequenceSerializer(_sequence(self)).data)

    @extend_schema(request=NurturingSequenceWriteSerializer, responses=NurturingSequenceSerializer,
                   summary="Change a nurturing sequence (name, type, steps, is_active)")
    def patch(self, request, pk: int):
        incoming = NurturingSequenceWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        if not incoming.validated_data:
            raise serializers.ValidationError({"non_field_errors": ["Send at least one field to change."]})
        sequence = services.sequence_update(brokerage=self.brokerage, actor=request.user, sequence=self.object,
                                            data=incoming.validated_data)
        return Response(NurturingSequenceSerializer(sequence).data)


class SequenceEnrollmentsAPI(TenantAPIView):
    """The sequence's enrolments of leads the caller may see; POST enrols a lead the caller works (enrolling
    again continues where the lead left off and never repeats a step)."""

    method_perms = {"GET": "work_leads", "POST": "use_workflow_automation"}
    lookup = selectors.sequence_get
    pagination_class = Pagination

    @extend_schema(responses=NurturingEnrollmentSerializer(many=True), summary="Enrolments of a sequence")
    def get(self, request, pk: int):
        found = selectors.sequence_enrollments(self.brokerage, _sequence(self), request.user, self.perms)
        return paginated(self, found, NurturingEnrollmentSerializer)

    @extend_schema(request=NurturingEnrolSerializer, responses=NurturingEnrollmentSerializer,
                   summary="Enrol a lead in a sequence")
    def post(self, request, pk: int):
        sequence = _sequence(self)
        incoming = NurturingEnrolSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        lead = lead_get(self.brokerage, incoming.validated_data["lead_id"])
        if not can_work_lead(request.user, self.perms, lead):
            raise PermissionDenied("You can only enrol leads you work.")
        enrollment = services.enrollment_enrol(brokerage=self.brokerage, actor=request.user, lead=lead,
                                               sequence=sequence)
        return Response(NurturingEnrollmentSerializer(enrollment).data)


ACTIONS = {"pause": services.enrollment_pause, "resume": services.enrollment_resume, "stop": services.enrollment_stop}


class EnrollmentActionAPI(TenantAPIView):
    """Pause, resume or stop an enrolment (of a lead the caller works). Stop takes an optional reason."""

    method_perms = {"POST": "use_workflow_automation"}
    lookup = selectors.enrollment_get
    allow = can_work_lead_of

    @extend_schema(request=NurturingEnrollmentActionSerializer, responses=NurturingEnrollmentSerializer,
                   parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH),
                               OpenApiParameter("action", str, OpenApiParameter.PATH, enum=list(ACTIONS))],
                   summary="Pause, resume or stop an enrolment")
    def post(self, request, pk: int, action: str):
        incoming = NurturingEnrollmentActionSerializer(data=request.data or {})
        incoming.is_valid(raise_exception=True)
        reason = incoming.validated_data.get("reason", "")
        if reason and action != "stop":
            raise serializers.ValidationError({"reason": ["A reason goes with stop only."]})
        if action == "stop":
            enrollment = services.enrollment_stop(brokerage=self.brokerage, actor=request.user,
                                                  enrollment=self.object, reason=reason)
        else:
            enrollment = ACTIONS[action](brokerage=self.brokerage, actor=request.user, enrollment=self.object)
        return Response(NurturingEnrollmentSerializer(enrollment).data)


urlpatterns = [
    path("nurturing/sequences", SequenceListAPI.as_view(), name="api-nurturing-sequences"),
    path("nurturing/sequences/<int:pk>", SequenceAPI.as_view(), name="api-nurturing-sequence"),
    path("nurturing/sequences/<int:pk>/enrollments", SequenceEnrollmentsAPI.as_view(),
         name="api-nurturing-sequence-enrollments"),
    re_path(r"^nurturing/enrollments/(?P<pk>[0-9]+)/(?P<action>pause|resume|stop)$", EnrollmentActionAPI.as_view(),
            name="api-nurturing-enrollment-action"),
]
