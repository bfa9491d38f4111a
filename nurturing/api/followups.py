"""REST endpoints of the follow-up machinery: the seed's `POST /api/nurturing/monitor/leads` (the nurture sweep,
answering with the seed's LeadMonitoringResult) and the follow-up queue. Same services and access rules as the
pages: managers see every follow-up of the brokerage, an agent those of the leads they hold."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import (Conflict, ErrorResponseSerializer, IdField, Pagination, StrictInput, paginated,
                                     query_params)

from ..models import SEND_CHANNELS, Channel, FollowUp, Priority
from ..permissions import can_work_lead, can_work_lead_of
from ..selectors import followups as selectors
from ..selectors.leads import lead_get
from ..services import followups as services
from ..services.sweeps import nurture_sweep


# The channels a follow-up goes out by, named once so the schema has one enum for them (settings).
SEND_CHANNEL_CHOICES = [(value, Channel(value).label) for value in SEND_CHANNELS]


class NurturingFollowUpSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    lead_id = serializers.IntegerField()
    lead_name = serializers.CharField(source="lead.name")
    agent_id = serializers.IntegerField(allow_null=True)
    reason = serializers.ChoiceField(FollowUp.Reason.choices)
    channel = serializers.ChoiceField(Channel.choices)
    subject = serializers.CharField()
    content = serializers.CharField()
    suggested_send_date = serializers.DateField()
    priority = serializers.ChoiceField(Priority.choices)
    status = serializers.ChoiceField(FollowUp.Status.choices)
    engine = serializers.CharField(help_text="Which engine wrote the draft: local, anthropic, gemini or template.")
    degraded = serializers.BooleanField(help_text="The AI provider failed and the local engine wrote it.")
    sequence_id = serializers.IntegerField(allow_null=True)
    step_index = serializers.IntegerField(allow_null=True)
    send_after = serializers.DateTimeField(allow_null=True, help_text="An approved message waits for quiet hours.")
    sent_at = serializers.DateTimeField(allow_null=True)
    interaction_id = serializers.IntegerField(allow_null=True)
    error = serializers.CharField(help_text="Why the last send failed.")
    dismiss_reason = serializers.CharField()
    created_at = serializers.DateTimeField()


class NurturingFollowUpEditSerializer(StrictInput):
    channel = serializers.ChoiceField(SEND_CHANNEL_CHOICES, required=False)
    subject = serializers.CharField(max_length=255, required=False, allow_blank=True)
    content = serializers.CharField(max_length=5000, required=False)
    suggested_send_date = serializers.DateField(required=False)


class NurturingFollowUpDismissSerializer(StrictInput):
    reason = serializers.CharField(max_length=255, help_text="Why it should not go out (required).")


class NurturingFollowUpCreateSerializer(StrictInput):
    channel = serializers.ChoiceField(SEND_CHANNEL_CHOICES, required=False,
                                      help_text="Default: the lead's best channel (from their history).")
    instruction = serializers.CharField(max_length=1000, required=False, allow_blank=True,
                                        help_text="What the draft should be about, for the AI writer.")
    priority = serializers.ChoiceField(Priority.choices, required=False)


class NurturingCalledSerializer(StrictInput):
    note = serializers.CharField(max_length=1000, required=False, allow_blank=True,
                                 help_text="How the call went; goes on the lead's timeline.")


class FollowUpQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(FollowUp.Status.choices, required=False)
    agent = IdField(required=False, help_text="Assigned agent's id (managers).")


class NurturingGeneratedFollowUpSerializer(serializers.Serializer):
    """The seed's generated follow-up (lead_id, lead_name, content, suggested_send_date, priority) and more."""

    id = serializers.IntegerField()
    lead_id = serializers.IntegerField()
    lead_name = serializers.CharField(source="lead.name")
    content = serializers.CharField()
    suggested_send_date = serializers.DateField()
    priority = serializers.ChoiceField(Priority.choices)
    channel = serializers.ChoiceField(Channel.choices)
    reason = serializers.ChoiceField(FollowUp.Reason.choices)
    status = serializers.ChoiceField(FollowUp.Status.choices)


class NurturingLeadMonitoringSerializer(serializers.Serializer):
    forgotten_leads_count = serializers.IntegerField()
    inactive_clients_count = serializers.IntegerField()
    generated_followups = NurturingGeneratedFollowUpSerializer(many=True)


class MonitorLeadsAPI(TenantAPIView):
    """Monitor the CRM now: run the nurture sweep and return the forgotten leads and inactive clients it found
    and the follow-ups it drafted. Owners see the brokerage's figures; an agent sees those of their own leads."""

    method_perms = {"POST": "use_workflow_automation"}

    @extend_schema(request=None, responses=NurturingLeadMonitoringSerializer, summary="Monitor leads")
    def post(self, request):
        result = nurture_sweep(brokerage=self.brokerage, actor=request.user)
        generated = result.generated_followups
        forgotten, inactive = result.forgotten_leads_count, result.inactive_clients_count
        if "manage_leads" not in self.perms:
            # An agent hears about their own leads, as the counts below (by assigned agent) do.
            generated = [item for item in generated if item.agent_id == request.user.pk]
            forgotten = result.forgotten_by_agent.get(request.user.pk, 0)
            inactive = result.inactive_by_agent.get(request.user.pk, 0)
        return Response(NurturingLeadMonitoringSerializer({
            "forgotten_leads_count": forgotten, "inactive_clients_count": inactive,
            "generated_followups": generated}).data)


class FollowUpListAPI(TenantAPIView):
    """The follow-ups the caller may work, the most pressing first."""

    method_perms = {"GET": "work_leads"}
    pagination_class = Pagination

    @extend_schema(parameters=[FollowUpQuerySerializer],
                   responses=NurturingFollowUpSerializer(many=True), summary="List follow-ups")
    def get(self, request):
        query = query_params(FollowUpQuerySerializer, request)
        found = selectors.followups(self.brokerage, request.user, self.perms, status=query.get("status", ""),
                                    agent_id=query.get("agent"))
        return paginated(self, found, NurturingFollowUpSerializer)


class LeadFollowUpsAPI(TenantAPIView):
    """Draft a follow-up for one lead now (the lead page's "Draft a follow-up"): the brokerage's AI engine
    writes it from the lead's history; it waits in the queue to be edited, sent or dismissed. A lead that
    already has a manual draft waiting answers 409 (`draft_exists`)."""

    method_perms = {"POST": "work_leads"}
    lookup = lead_get
    allow = can_work_lead

    @extend_schema(request=NurturingFollowUpCreateSerializer,
                   responses={201: NurturingFollowUpSerializer, 409: ErrorResponseSerializer},
                   summary="Draft a follow-up for a lead")
    def post(self, request, pk: int):
        incoming = NurturingFollowUpCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        created = services.followup_create(brokerage=self.brokerage, actor=request.user, lead=self.object,
                                           reason=FollowUp.Reason.MANUAL, **incoming.validated_data)
        if created is None:
            raise Conflict(f"{self.object.name} already has a draft waiting in the follow-up queue.",
                           code="draft_exists")
        return Response(NurturingFollowUpSerializer(created).data, status=status.HTTP_201_CREATED)


class FollowUpAPI(TenantAPIView):
    """One follow-up; PATCH changes its channel, subject, content or suggested date while it has not gone out
    (an approved or failed one becomes a draft again)."""

    method_perms = {"GET": "work_leads", "PATCH": "work_leads"}
    lookup = selectors.followup_get
    allow = can_work_lead_of

    @extend_schema(responses=NurturingFollowUpSerializer, summary="One follow-up")
    def get(self, request, pk: int):
        return Response(NurturingFollowUpSerializer(self.object).data)

    @extend_schema(request=NurturingFollowUpEditSerializer, responses=NurturingFollowUpSerializer,
                   summary="Edit a follow-up")
    def patch(self, request, pk: int):
        incoming = NurturingFollowUpEditSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        followup = services.followup_edit(brokerage=self.brokerage, actor=request.user, followup=self.object,
                                          data=incoming.validated_data)
        return Response(NurturingFollowUpSerializer(followup).data)


class FollowUpSendAPI(TenantAPIView):
    """Approve and send, as the queue's "Approve & send" button: e-mail, SMS and WhatsApp go out now (status
    sent) or when the brokerage's quiet hours end (status approved with send_after); a call is approved onto
    the agent's list of calls (then `called` closes it). A failed send answers with status failed and the
    error; send again once it is fixed. A sent or dismissed follow-up, or a lead that opted out, answers 400."""

    method_perms = {"POST": "work_leads"}
    lookup = selectors.followup_get
    allow = can_work_lead_of

    @extend_schema(request=None, responses=NurturingFollowUpSerializer, summary="Approve and send a follow-up")
    def post(self, request, pk: int):
        followup = services.followup_approve_send(brokerage=self.brokerage, actor=request.user, followup=self.object)
        return Response(NurturingFollowUpSerializer(followup).data)


class FollowUpCalledAPI(TenantAPIView):
    """The agent made the call an approved (or draft) call follow-up asked for: it is logged as an outbound
    call with the note, and the follow-up is sent. Other channels answer 400 (send them instead)."""

    method_perms = {"POST": "work_leads"}
    lookup = selectors.followup_get
    allow = can_work_lead_of

    @extend_schema(request=NurturingCalledSerializer, responses=NurturingFollowUpSerializer,
                   summary="Mark a call follow-up as called")
    def post(self, request, pk: int):
        incoming = NurturingCalledSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        followup = services.followup_mark_called(brokerage=self.brokerage, actor=request.user, followup=self.object,
                                                 note=incoming.validated_data.get("note", ""))
        return Response(NurturingFollowUpSerializer(followup).data)


class FollowUpDismissAPI(TenantAPIView):
    """Dismiss a follow-up that should not go out; the reason is required."""

    method_perms = {"POST": "work_leads"}
    lookup = selectors.followup_get
    allow = can_work_lead_of

    @extend_schema(request=NurturingFollowUpDismissSerializer, responses=NurturingFollowUpSerializer,
                   summary="Dismiss a follow-up")
    def post(self, request, pk: int):
        incoming = NurturingFollowUpDismissSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        followup = services.followup_dismiss(brokerage=self.brokerage, actor=request.user, followup=self.object,
                                             reason=incoming.validated_data["reason"])
        return Response(NurturingFollowUpSerializer(followup).data)


urlpatterns = [
    path("nurturing/monitor/leads", MonitorLeadsAPI.as_view(), name="api-nurturing-monitor-leads"),
    path("nurturing/followups", FollowUpListAPI.as_view(), name="api-nurturing-followups"),
    path("nurturing/followups/<int:pk>", FollowUpAPI.as_view(), name="api-nurturing-followup"),
    path("nurturing/followups/<int:pk>/send", FollowUpSendAPI.as_view(), name="api-nurturing-followup-send"),
    path("nurturing/followups/<int:pk>/called", FollowUpCalledAPI.as_view(), name="api-nurturing-followup-called"),
    path("nurturing/followups/<int:pk>/dismiss", FollowUpDismissAPI.as_view(), name="api-nurturing-followup-dismiss"),
    path("nurturing/leads/<int:pk>/followups", LeadFollowUpsAPI.as_view(), name="api-nurturing-lead-followups"),
]
