"""REST endpoints of the CRM core: leads and their interactions, with the same services and access rules as the
pages (managers every lead of the brokerage, an agent the leads they hold).

Leads are never deleted, as on the pages: a lead that went nowhere is moved to the `lost` stage (with the
reason), one that must not be contacted gets `do_not_contact`; `DELETE` on a lead answers 405. A mistaken
interaction is deleted."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import IdField, MomentField, Pagination, SinceField, StrictInput, paginated, query_params

from ..models import Channel, Direction, Interaction, Priority, PropertyType, Source, Stage, Timeline
from ..permissions import can_work_lead, can_work_lead_of, on_visible_leads
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
    sale_price = serializers.DecimalField(max_digits=14, decimal_places=2, read_only=True, allow_null=True)
    commission = serializers.DecimalField(max_digits=12, decimal_places=2, read_only=True, allow_null=True)
    first_contacted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    last_contacted_at = serializers.DateTimeField(read_only=True, allow_null=True)
    response_minutes = serializers.IntegerField(read_only=True, allow_null=True)
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)


class LeadWriteSerializer(StrictInput, LeadSerializer):
    assigned_agent_id = serializers.IntegerField(required=False, allow_null=True,
                                                 help_text="Managers only; an agent's new lead is theirs.")


class StageSerializer(StrictInput):
    stage = serializers.ChoiceField(Stage.choices)
    note = serializers.CharField(required=False, allow_blank=True, max_length=255)
    lost_reason = serializers.CharField(required=False, allow_blank=True, max_length=255)
    sale_price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, min_value=0)
    commission = serializers.DecimalField(max_digits=12, decimal_places=2, required=False, min_value=0)
    satisfaction_score = serializers.IntegerField(required=False, min_value=1, max_value=5)


class AssignSerializer(StrictInput):
    agent_id = serializers.IntegerField(allow_null=True)


class ContactPreferencesSerializer(StrictInput):
    do_not_contact = serializers.BooleanField()
    marketing_consent = serializers.BooleanField(required=False)


class InteractionSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    lead_id = serializers.IntegerField(read_only=True)
    agent_id = serializers.IntegerField(read_only=True, allow_null=True)
    channel = serializers.ChoiceField(Channel.choices)
    direction = serializers.ChoiceField(Direction.choices, required=False)
    occurred_at = MomentField(required=False, help_text="When it happened (default: now), 2000–2099.")
    summary = serializers.CharField(max_length=5000)
    created_at = serializers.DateTimeField(read_only=True)


class InteractionWriteSerializer(StrictInput, InteractionSerializer):
    pass


# Budgets are stored with 14 digits, 2 of them decimals.
MAX_BUDGET = 10**12 - 1


def _agent(brokerage, pk):
    if pk is None:
        return None
    agent = selectors.assignable_agents(brokerage).filter(pk=pk).first()
    if agent is None:
        raise serializers.ValidationError({"assigned_agent_id": ["No active agent of this brokerage has this id."]})
    return agent


class LeadQuerySerializer(serializers.Serializer):
    """The lead list's filters (the lead page's, plus `updated_since` for syncing)."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                              help_text="Part of the name, e-mail or phone.")
    stage = serializers.ChoiceField(Stage.choices, required=False)
    source = serializers.ChoiceField(Source.choices, required=False)
    priority = serializers.ChoiceField(Priority.choices, required=False)
    agent = IdField(required=False, help_text="The assigned agent's id.")
    tag = serializers.CharField(required=False, allow_blank=True, max_length=50)
    area = serializers.CharField(required=False, allow_blank=True, max_length=80, help_text="Part of an area.")
    budget_min = serializers.IntegerField(required=False, min_value=0, max_value=MAX_BUDGET,
                                          help_text="Budgets reaching at least this (AED).")
    budget_max = serializers.IntegerField(required=False, min_value=0, max_value=MAX_BUDGET,
                                          help_text="Budgets starting at most at this (AED).")
    clients = serializers.BooleanField(required=False, help_text="Only won leads (clients).")
    updated_since = SinceField(required=False, help_text=(
        "Only leads changed at or after this time (ISO 8601; a date means its start): what a sync needs."))


class InteractionQuerySerializer(serializers.Serializer):
    channel = serializers.ChoiceField(Channel.choices, required=False)
    since = SinceField(required=False, help_text="Only interactions that happened at or after this time "
                                                 "(ISO 8601; a date means its start).")


class InteractionListQuerySerializer(InteractionQuerySerializer):
    lead = IdField(required=False, help_text="Only this lead's.")


def _interactions(interactions, query: dict):
    if "channel" in query:
        interactions = interactions.filter(channel=query["channel"])
    if "since" in query:
        interactions = interactions.filter(occurred_at__gte=query["since"])
    return interactions.order_by("-occurred_at", "-id")


class LeadListAPI(TenantAPIView):
    """Leads the caller may work (all of the brokerage's for owners and support staff), newest first."""

    method_perms = {"GET": "work_leads", "POST": "work_leads"}
    pagination_class = Pagination

    @extend_schema(parameters=[LeadQuerySerializer], responses=LeadSerializer(many=True), summary="List leads")
    def get(self, request):
        query = query_params(LeadQuerySerializer, request)
        since = query.pop("updated_since", None)
        found = selectors.leads(self.brokerage, request.user, self.perms, selectors.LeadFilters(**query))
        if since is not None:
            found = found.filter(updated_at__gte=since)
        return paginated(self, found, LeadSerializer)

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
    """One lead: read and change its details (stage, assignment and contact preferences have their own routes).
    Leads are not deleted (405): move one to `lost`, or set `do_not_contact`."""

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
    pagination_class = Pagination

    @extend_schema(parameters=[InteractionQuerySerializer], responses=InteractionSerializer(many=True),
                   summary="A lead's interactions")
    def get(self, request, pk: int):
        query = query_params(InteractionQuerySerializer, request)
        found = Interaction.objects.filter(brokerage=self.brokerage, lead=self.object)
        return paginated(self, _interactions(found, query), InteractionSerializer)

    @extend_schema(request=InteractionWriteSerializer, responses={201: InteractionSerializer},
                   summary="Log an interaction")
    def post(self, request, pk: int):
        incoming = InteractionWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        interaction = services.interaction_log(brokerage=self.brokerage, actor=request.user, lead=self.object,
                                               **incoming.validated_data)
        return Response(InteractionSerializer(interaction).data, status=status.HTTP_201_CREATED)


class InteractionListAPI(TenantAPIView):
    """Interactions of the leads the caller may work, across leads, newest first: what a CRM sync reads."""

    method_perms = {"GET": "work_leads"}
    pagination_class = Pagination

    @extend_schema(parameters=[InteractionListQuerySerializer], responses=InteractionSerializer(many=True),
                   summary="List interactions")
    def get(self, request):
        query = query_params(InteractionListQuerySerializer, request)
        found = on_visible_leads(Interaction.objects.filter(brokerage=self.brokerage), request.user, self.perms,
                                 self.brokerage)
        if "lead" in query:
            found = found.filter(lead_id=query["lead"])
        return paginated(self, _interactions(found, query), InteractionSerializer)


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
    path("nurturing/interactions", InteractionListAPI.as_view(), name="api-nurturing-interactions"),
    path("nurturing/interactions/<int:pk>", InteractionAPI.as_view(), name="api-nurturing-interaction"),
]
