"""REST endpoints of the CRM core: leads and their interactions, with the same services and access rules as the
pages (managers every lead of the brokerage, an agent the leads they hold)."""

from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response

from brokerages.api_base import StrictSerializer, TenantAPIView

from ..forms.leads import LeadFilterForm
from ..models import Channel, Direction, Interaction, Priority, PropertyType, Source, Stage, Timeline
from ..permissions import can_work_lead, can_work_lead_of
from ..selectors import leads as selectors
from ..services import leads as services


class LeadSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=200)
    email = serializers.EmailField(required=False, allow_blank=True)
    phone = serializers.CharField(max_length=32, required=False, allow_blank=True)
    source = serializers.ChoiceField(Source.choices, required=False)
    stage = serializers.ChoiceField(Stage.choices, read_only=True)
    priority = serializers.ChoiceField(Priority.choices, required=False)
    assigned_agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    budget_min = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True,
                                          min_value=0)
    budget_max = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True,
                                          min_value=0)
    areas = serializers.ListField(child=serializers.CharField(max_length=80), max_length=20, required=False)
    property_type = serializers.ChoiceField(PropertyType.choices, required=False, allow_blank=True)
    timeline = serializers.ChoiceField(Timeline.choices, required=False, allow_blank=True)
    tags = serializers.ListField(child=serializers.CharField(max_length=50), max_length=20, required=False)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)
    next_followup_date = serializers.DateField(required=False, allow_null=True)
    marketing_consent = serializers.BooleanField(required=False)
    satisfaction_score = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=5)
    do_not_contact = serializers.BooleanField(read_only=True)
    lost_reason = serializers.CharField(read_only=True)
    sale_price = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True)
    commission = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True)
    first_contacted_at = serializers.DateTimeField(read_only=True)
    last_contacted_at = serializers.DateTimeField(read_only=True)
    response_minutes = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class LeadWriteSerializer(StrictSerializer, LeadSerializer):
    assigned_agent_id = serializers.IntegerField(required=False, allow_null=True,
                                                 help_text="Managers only; an agent's new lead is theirs.")


class StageSerializer(StrictSerializer):
    stage = serializers.ChoiceField(Stage.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=255)
    lost_reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    sale_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, min_value=0)
    commission = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    satisfaction_score = serializers.IntegerField(required=False, min_value=1, max_value=5)


class AssignSerializer(StrictSerializer):
    agent_id = serializers.IntegerField(allow_null=True)


class ContactPreferencesSerializer(StrictSerializer):
    do_not_contact = serializers.BooleanField()
    marketing_consent = serializers.BooleanField(required=False)


class InteractionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead_id = serializers.IntegerField(read_only=True)
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    channel = serializers.ChoiceField(Channel.choices)
    direction = serializers.ChoiceField(Direction.choices, required=False)
    occurred_at = serializers.DateTimeField(required=False)
    summary = serializers.CharField(max_length=5000)
    created_at = serializers.DateTimeField(read_only=True)


class InteractionWriteSerializer(StrictSerializer, InteractionSerializer):
    pass


def _agent(brokerage, pk):
    if pk is None:
        return None
    agent = selectors.assignable_agents(brokerage).filter(pk=pk).first()
    if agent is None:
        raise serializers.ValidationError({"assigned_agent_id": ["No active agent of this brokerage has this id."]})
    return agent


LEAD_FILTERS = [OpenApiParameter(name, str) for name in ("q", "stage", "source", "priority", "tag", "area")] + [
    OpenApiParameter("agent", int), OpenApiParameter("budget_min", float), OpenApiParameter("budget_max", float),
    OpenApiParameter("clients", bool), OpenApiParameter("page", int)]


class LeadListAPI(TenantAPIView):
    """Leads the caller may work (all of the brokerage's for owners and support staff), newest first."""

    method_perms = {"GET": "work_leads", "POST": "work_leads"}

    @extend_schema(parameters=LEAD_FILTERS, responses=LeadSerializer(many=True), summary="List leads")
    def get(self, request):
        form = LeadFilterForm(request.query_params, agents=selectors.assignable_agents(self.brokerage))
        if not form.is_valid():
            raise serializers.ValidationError(form.errors)
        found = selectors.leads(self.brokerage, request.user, self.perms, form.filters())
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(found, request, view=self)
        return paginator.get_paginated_response(LeadSerializer(page, many=True).data)

    @extend_schema(request=LeadWriteSerializer, responses={201: LeadSerializer}, summary="Create a lead")
    def post(self, request):
        incoming = LeadWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        agent_id = data.pop("assigned_agent_id", None)
        if "manage_leads" in self.perms:
            agent = _agent(self.brokerage, agent_id)
        elif agent_id not in (None, request.user.pk):
            raise serializers.ValidationError({"assigned_agent_id": ["Agents create leads for themselves."]})
        else:
            agent = request.user
        lead = services.lead_create(brokerage=self.brokerage, actor=request.user, data=data, assigned_agent=agent)
        return Response(LeadSerializer(lead).data, status=status.HTTP_201_CREATED)


class LeadAPI(TenantAPIView):
    """One lead: read and change its details (stage, assignment and contact preferences have their own routes)."""

    method_perms = {"GET": "work_leads", "PATCH": "work_leads"}
    lookup = selectors.lead_get
    allow = can_work_lead

    @extend_schema(responses=LeadSerializer, summary="One lead")
    def get(self, request, pk: int):
        return Response(LeadSerializer(self.object).data)

    @extend_schema(request=LeadWriteSerializer, responses=LeadSerializer, summary="Change a lead")
    def patch(self, request, pk: int):
        incoming = LeadWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        if "assigned_agent_id" in data:
            raise serializers.ValidationError({"assigned_agent_id": ["Use the lead's assign route."]})
        lead = services.lead_update(brokerage=self.brokerage, actor=request.user, lead=self.object, data=data)
        return Response(LeadSerializer(lead).data)


class LeadStageAPI(TenantAPIView):
    """Move a lead to another stage (lost needs `lost_reason`; won may carry the sale)."""

    method_perms = {"POST": "work_leads"}
    lookup = selectors.lead_get
    allow = can_work_lead

    @extend_schema(request=StageSerializer, responses=LeadSerializer, summary="Change a lead's stage")
    def post(self, request, pk: int):
        incoming = StageSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        lead = services.lead_change_stage(brokerage=self.brokerage, actor=request.user, lead=self.object,
                                          **incoming.validated_data)
        return Response(LeadSerializer(lead).data)


class LeadAssignAPI(TenantAPIView):
    """Give a lead to an agent (or to nobody with `agent_id: null`)."""

    method_perms = {"POST": "manage_leads"}
    lookup = selectors.lead_get

    @extend_schema(request=AssignSerializer, responses=LeadSerializer, summary="Assign a lead")
    def post(self, request, pk: int):
        incoming = AssignSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        agent = _agent(self.brokerage, incoming.validated_data["agent_id"])
        lead = services.lead_assign(brokerage=self.brokerage, actor=request.user, lead=self.object, agent=agent)
        return Response(LeadSerializer(lead).data)


class LeadContactPreferencesAPI(TenantAPIView):
    """Record that a lead opted out (or back in); opting out stops sequences and withdraws drafts."""

    method_perms = {"POST": "work_leads"}
    lookup = selectors.lead_get
    allow = can_work_lead

    @extend_schema(request=ContactPreferencesSerializer, responses=LeadSerializer,
                   summary="Set a lead's contact preferences")
    def post(self, request, pk: int):
        incoming = ContactPreferencesSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        lead = services.lead_set_contact_preferences(brokerage=self.brokerage, actor=request.user, lead=self.object,
                                                     **incoming.validated_data)
        return Response(LeadSerializer(lead).data)


class LeadInteractionsAPI(TenantAPIView):
    """A lead's interactions, newest first, and logging a new one (it keeps the lead's contact stamps)."""

    method_perms = {"GET": "work_leads", "POST": "work_leads"}
    lookup = selectors.lead_get
    allow = can_work_lead

    @extend_schema(responses=InteractionSerializer(many=True), summary="A lead's interactions")
    def get(self, request, pk: int):
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(Interaction.objects.filter(lead=self.object), request, view=self)
        return paginator.get_paginated_response(InteractionSerializer(page, many=True).data)

    @extend_schema(request=InteractionWriteSerializer, responses={201: InteractionSerializer},
                   summary="Log an interaction")
    def post(self, request, pk: int):
        incoming = InteractionWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        interaction = services.interaction_log(brokerage=self.brokerage, actor=request.user, lead=self.object,
                                               **incoming.validated_data)
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class InteractionAPI(TenantAPIView):
    """One interaction: correct its summary, or delete one logged by mistake (the lead's contact stamps follow)."""

    method_perms = {"GET": "work_leads", "PATCH": "work_leads", "DELETE": "work_leads"}
    lookup = selectors.interaction_get
    allow = can_work_lead_of

    @extend_schema(responses=InteractionSerializer, summary="One interaction")
    def get(self, request, pk: int):
        return Response(InteractionSerializer(self.object).data)

    @extend_schema(request=InteractionWriteSerializer, responses=InteractionSerializer,
                   summary="Correct an interaction's summary")
    def patch(self, request, pk: int):
        incoming = InteractionWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        extra = set(incoming.validated_data) - {"summary"}
        if extra:
            raise serializers.ValidationError({name: ["Only the summary can be corrected; delete and log again."]
                                               for name in sorted(extra)})
        interaction = services.interaction_update(brokerage=self.brokerage, actor=request.user,
                                                  interaction=self.object,
                                                  summary=incoming.validated_data.get("summary", ""))
        return Response(InteractionSerializer(interaction).data)

    @extend_schema(responses={204: None}, summary="Delete an interaction")
    def delete(self, request, pk: int):
        services.interaction_delete(brokerage=self.brokerage, actor=request.user, interaction=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)


urlpatterns = [
    path("nurturing/leads", LeadListAPI.as_view(), name="api-nurturing-leads"),
    path("nurturing/leads/<int:pk>", LeadAPI.as_view(), name="api-nurturing-lead"),
    path("nurturing/leads/<int:pk>/stage", LeadStageAPI.as_view(), name="api-nurturing-lead-stage"),
    path("nurturing/leads/<int:pk>/assign", LeadAssignAPI.as_view(), name="api-nurturing-lead-assign"),
    path("nurturing/leads/<int:pk>/contact-preferences", LeadContactPreferencesAPI.as_view(),
         name="api-nurturing-lead-contact-preferences"),
    path("nurturing/leads/<int:pk>/interactions", LeadInteractionsAPI.as_view(),
         name="api-nurturing-lead-interactions"),
    path("nurturing/interactions/<int:pk>", InteractionAPI.as_view(), name="api-nurturing-interaction"),
]
