"""REST endpoints for the brokerage profile, team and settings. They call the same services as the pages."""

import datetime as dt

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from . import selectors, services, settings_registry
from .api_base import TenantAPIView
from .api_contract import Pagination, StrictInput, paginated
from .forms import TENANT_ROLE_CHOICES
from .models import Brokerage, User
from .services import PROFILE_FIELDS


class BrokerageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Brokerage
        fields = ("id", "slug", *PROFILE_FIELDS, "logo_url", "primary_color", "secondary_color", "created_at",
                  "updated_at")
        read_only_fields = fields


class BrokerageProfileUpdateSerializer(StrictInput, serializers.ModelSerializer):
    class Meta:
        model = Brokerage
        fields = PROFILE_FIELDS
        extra_kwargs = {"license_number": {"validators": []}}  # uniqueness is the service's (and the DB's) rule


class MemberSerializer(serializers.ModelSerializer):
    class Meta:
        model = User
        fields = ("id", "email", "full_name", "role", "agent_license_number", "hire_date", "performance_tier",
                  "is_active", "date_joined")
        read_only_fields = fields


class InviteSerializer(StrictInput):
    email = serializers.EmailField()
    full_name = serializers.CharField(max_length=200)
    role = serializers.ChoiceField(choices=TENANT_ROLE_CHOICES, default="agent")
    agent_license_number = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")
    hire_date = serializers.DateField(required=False, allow_null=True, default=None)


class MemberUpdateSerializer(StrictInput):
    role = serializers.ChoiceField(choices=TENANT_ROLE_CHOICES, required=False)
    is_active = serializers.BooleanField(required=False)


def _json_value(value):
    return value.strftime("%H:%M") if isinstance(value, dt.time) else value


class BrokerageProfileAPI(TenantAPIView):
    """The caller's brokerage. Every member may read it; owners may change it."""

    method_perms = {"GET": "view_brokerage", "PATCH": "manage_brokerage"}

    @extend_schema(responses=BrokerageSerializer, summary="The caller's brokerage")
    def get(self, request):
        return Response(BrokerageSerializer(self.brokerage).data)

    @extend_schema(request=BrokerageProfileUpdateSerializer, responses=BrokerageSerializer,
                   summary="Change the brokerage profile (owners)")
    def patch(self, request):
        incoming = BrokerageProfileUpdateSerializer(self.brokerage, data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        brokerage = services.brokerage_update_profile(brokerage=self.brokerage, actor=request.user,
                                                      data=incoming.validated_data)
        return Response(BrokerageSerializer(brokerage).data)


class TeamAPI(TenantAPIView):
    """The members of the caller's brokerage. Owners and support staff may list them; owners invite."""

    method_perms = {"GET": "view_team_performance", "POST": "manage_brokerage"}
    pagination_class = Pagination

    @extend_schema(responses=MemberSerializer(many=True), summary="Members of the brokerage")
    def get(self, request):
        return paginated(self, selectors.team_members(self.brokerage), MemberSerializer)

    @extend_schema(request=InviteSerializer, responses={201: MemberSerializer},
                   summary="Invite a member (they receive a link to set a password)")
    def post(self, request):
        incoming = InviteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        member = services.team_invite(brokerage=self.brokerage, actor=request.user,
                                      base_url=request.build_absolute_uri("/")[:-1], **incoming.validated_data)
        return Response(MemberSerializer(member).data, status=status.HTTP_201_CREATED)


class TeamMemberAPI(TenantAPIView):
    """One member of the caller's brokerage (another brokerage's member answers 404); owners change role or state."""

    method_perms = {"GET": "view_team_performance", "PATCH": "manage_brokerage"}
    lookup = selectors.team_member_get

    @extend_schema(responses=MemberSerializer, summary="One member")
    def get(self, request, pk: int):
        return Response(MemberSerializer(self.object).data)

    @extend_schema(request=MemberUpdateSerializer, responses=MemberSerializer,
                   summary="Change a member's role or deactivate/reactivate them (owners)")
    def patch(self, request, pk: int):
        incoming = MemberUpdateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        member = services.team_member_update(brokerage=self.brokerage, actor=request.user, member=self.object,
                                             role=incoming.validated_data.get("role"),
                                             active=incoming.validated_data.get("is_active"))
        return Response(MemberSerializer(member).data)


class SettingsAPI(TenantAPIView):
    """The brokerage's settings (owners): every registry key with its value, default and type."""

    method_perms = {"GET": "manage_brokerage", "PATCH": "manage_brokerage"}

    def _listing(self) -> dict:
        values = selectors.settings_values(self.brokerage)
        return {
            spec.key: {"value": _json_value(values[spec.key]), "default": _json_value(spec.default),
                       "type": spec.type, "label": spec.label, "help_text": spec.help_text,
                       "choices": [key for key, _ in spec.choices]}
            for spec in settings_registry.SETTINGS
        }

    @extend_schema(responses=OpenApiTypes.OBJECT, summary="Every setting with its value, default and type")
    def get(self, request):
        return Response(self._listing())

    @extend_schema(request=OpenApiTypes.OBJECT, responses=OpenApiTypes.OBJECT,
                   summary="Set several settings at once: {key: value}; all are validated before any is stored")
    def patch(self, request):
        if not isinstance(request.data, dict) or not request.data:
            raise serializers.ValidationError({"non_field_errors": ["Send an object of {setting_key: value}."]})
        services.settings_update(brokerage=self.brokerage, actor=request.user, values=dict(request.data))
        return Response(self._listing())
