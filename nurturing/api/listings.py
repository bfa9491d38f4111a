"""REST endpoints of the listings: list and create, read and change one, and the leads it matches. The same
services and access rules as the pages (`nurturing.selectors.listings`): owners and support staff every listing,
an agent their own plus the brokerage's published ones, read-only.

Listings are not deleted, as on the pages (a sold or rented property stays in the brokerage's record): a
listing leaves the market with `PATCH {"status": "withdrawn"}` (or sold / rented); DELETE answers 405."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.response import Response

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Pagination, StrictInput, paginated, query_params

from ..models import Listing, PropertyType
from ..selectors import listings as selectors
from ..selectors.leads import assignable_agents
from ..services import listings as services


class PhotoSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    url = serializers.CharField(source="image.url", read_only=True)
    caption = serializers.CharField(read_only=True)
    position = serializers.IntegerField(read_only=True)


class ListingSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    title = serializers.CharField(max_length=200)
    community = serializers.CharField(max_length=100, required=False, allow_blank=True)
    building = serializers.CharField(max_length=120, required=False, allow_blank=True)
    property_type = serializers.ChoiceField(PropertyType.choices, required=False, allow_blank=True)
    purpose = serializers.ChoiceField(Listing.Purpose.choices, required=False)
    bedrooms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=50,
                                        help_text="0 for a studio.")
    bathrooms = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=50)
    size_sqft = serializers.IntegerField(required=False, allow_null=True, min_value=1)
    price = serializers.DecimalField(max_digits=14, decimal_places=2, required=False, allow_null=True,
                                     min_value=1, help_text="AED; for a rental, the yearly rent.")
    features = serializers.ListField(child=serializers.CharField(max_length=80), max_length=30, required=False)
    permit_number = serializers.CharField(max_length=40, required=False, allow_blank=True,
                                          help_text="Trakheesi / RERA advertising permit; needed to be active.")
    description = serializers.CharField(required=False, allow_blank=True, max_length=20000)
    status = serializers.ChoiceField(Listing.Status.choices, required=False,
                                     help_text="A new listing is a draft unless `active` (with a permit number).")
    listing_agent_id = serializers.IntegerField(required=False,
                                                help_text="Owners and support staff name the agent; an agent's "
                                                          "listing is theirs.")
    photos = PhotoSerializer(many=True, read_only=True, source="photos.all")
    missing_fields = serializers.SerializerMethodField(
        help_text="Facts a description needs that the listing lacks.")
    created_at = serializers.DateTimeField(read_only=True)
    updated_at = serializers.DateTimeField(read_only=True)

    def get_missing_fields(self, listing) -> list[str]:
        return services.missing_fields(listing)


class ListingWriteSerializer(StrictInput, ListingSerializer):
    pass


class MatchSerializer(serializers.Serializer):
    lead_id = serializers.IntegerField(source="lead.pk")
    lead_name = serializers.CharField(source="lead.name")
    stage = serializers.CharField(source="lead.stage")
    score = serializers.IntegerField(help_text="Out of 100: budget 40, area 30, type 15, bedrooms 15.")
    reasons = serializers.ListField(child=serializers.CharField())


class MatchesSerializer(serializers.Serializer):
    listing_id = serializers.IntegerField()
    needs = serializers.ListField(child=serializers.CharField(),
                                  help_text="Facts matching needs that the listing lacks (community, price).")
    matches = MatchSerializer(many=True)


def _listing_agent(view, agent_id):
    """Who the listing is for: managers name any agent of the brokerage, an agent only themself."""
    user = view.request.user
    if "manage_leads" not in view.perms:
        if agent_id not in (None, user.pk):
            raise serializers.ValidationError({"listing_agent_id": ["Agents list properties for themselves."]})
        return user
    if agent_id is None:
        agent_id = user.pk
    agent = assignable_agents(view.brokerage).filter(pk=agent_id).first()
    if agent is None:
        raise serializers.ValidationError({"listing_agent_id": ["No active agent of this brokerage has this id."]})
    return agent


class ListingQuerySerializer(serializers.Serializer):
    """The listing page's filters."""

    q = serializers.CharField(required=False, allow_blank=True, max_length=100,
                              help_text="Part of the title, building or permit number.")
    status = serializers.ChoiceField(Listing.Status.choices, required=False)
    community = serializers.CharField(required=False, allow_blank=True, max_length=100)
    purpose = serializers.ChoiceField(Listing.Purpose.choices, required=False)
    property_type = serializers.ChoiceField(PropertyType.choices, required=False)
    mine = serializers.BooleanField(required=False, help_text="Only the caller's own listings.")
    sort = serializers.ChoiceField(list(selectors.SORTS), required=False)


class ListingListAPI(TenantAPIView):
    """Listings the caller may see, newest first unless sorted; creating one (a draft unless `active`)."""

    method_perms = {"GET": "work_leads", "POST": "work_leads"}
    pagination_class = Pagination

    @extend_schema(parameters=[ListingQuerySerializer], responses=ListingSerializer(many=True),
                   summary="List listings")
    def get(self, request):
        query = query_params(ListingQuerySerializer, request)
        found = selectors.listings(self.brokerage, request.user, self.perms,
                                   selectors.ListingFilters(**query)).prefetch_related("photos")
        return paginated(self, found, ListingSerializer)

    @extend_schema(request=ListingWriteSerializer, responses={201: ListingSerializer}, summary="Create a listing")
    def post(self, request):
        incoming = ListingWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        agent = _listing_agent(self, data.pop("listing_agent_id", None))
        initial_status = data.pop("status", Listing.Status.DRAFT)
        listing = services.listing_create(brokerage=self.brokerage, actor=request.user, listing_agent=agent,
                                          data=data, status=initial_status)
        return Response(ListingSerializer(listing).data, status=status.HTTP_201_CREATED)


class ListingAPI(TenantAPIView):
    """One listing: read it (anyone who may see it) and change it, its status included (its listing agent,
    owners and support staff)."""

    method_perms = {"GET": "work_leads", "PATCH": "work_leads"}
    lookup = selectors.listing_get
    allow = selectors.can_view_listing

    @extend_schema(responses=ListingSerializer, summary="One listing")
    def get(self, request, pk: int):
        return Response(ListingSerializer(self.object).data)

    @extend_schema(request=ListingWriteSerializer, responses=ListingSerializer, summary="Change a listing")
    def patch(self, request, pk: int):
        if not selectors.can_edit_listing(request.user, self.perms, self.object):
            raise PermissionDenied("Only the listing agent, owners and support staff change a listing.")
        incoming = ListingWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        agent, new_status = None, data.pop("status", None)
        if "listing_agent_id" in data:
            if "manage_leads" not in self.perms:
                raise serializers.ValidationError({"listing_agent_id": ["Owners and support staff reassign "
                                                                        "listings."]})
            agent = _listing_agent(self, data.pop("listing_agent_id"))
        listing = services.listing_update(brokerage=self.brokerage, actor=request.user, listing=self.object,
                                          data=data, listing_agent=agent, status=new_status)
        return Response(ListingSerializer(listing).data)


class ListingMatchesAPI(TenantAPIView):
    """The open leads the caller may work whose budget and areas fit the listing, best first, with reasons."""

    method_perms = {"GET": "work_leads"}
    lookup = selectors.listing_get
    allow = selectors.can_view_listing

    @extend_schema(responses=MatchesSerializer, summary="Leads matching a listing")
    def get(self, request, pk: int):
        listing = self.object
        needs = [name for name in ("community", "price") if name in services.missing_fields(listing)]
        matches = selectors.leads_for_listing(listing, request.user, perms=self.perms)
        return Response(MatchesSerializer({"listing_id": listing.pk, "needs": needs, "matches": matches}).data)


urlpatterns = [
    path("listings", ListingListAPI.as_view(), name="api-listings"),
    path("listings/<int:pk>", ListingAPI.as_view(), name="api-listing"),
    path("listings/<int:pk>/matches", ListingMatchesAPI.as_view(), name="api-listing-matches"),
]
