"""REST endpoints of the outbound webhooks (owners: `manage_brokerage`): register and manage endpoints, read
their delivery log, redeliver (one delivery, or every event an endpoint missed), send a test event, and the
catalogue of events. Same services as the pages
(`brokerages.webhooks.services`); receivers read docs/webhooks.md."""

from django.urls import path
from django.utils import timezone
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.response import Response

from .api_base import TenantAPIView
from .api_contract import Pagination, StrictInput, paginated, query_params
from .models import WebhookDelivery, WebhookEndpoint
from .webhooks import PING, WEBHOOK_EVENTS, selectors, services

# Named in SPECTACULAR_SETTINGS["ENUM_NAME_OVERRIDES"]: the events one subscribes to, and those a delivery carries.
EVENT_NAMES = list(WEBHOOK_EVENTS)
DELIVERY_EVENT_NAMES = [*EVENT_NAMES, PING]


@extend_schema_field({"type": "array", "items": {"type": "string", "enum": EVENT_NAMES}})
class EventNamesField(serializers.JSONField):
    """Event names as sent: the service checks the list and refuses unknown names by name, in one message that
    lists the known events (rather than one error per item)."""


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(EVENT_NAMES))
    previous_secret_valid_until = serializers.SerializerMethodField(
        help_text="After a rotation, until when deliveries also carry a signature made with the previous secret.")

    class Meta:
        model = WebhookEndpoint
        fields = ("id", "url", "description", "events", "is_active", "consecutive_failures", "disabled_reason",
                  "previous_secret_valid_until", "created_at", "updated_at")
        read_only_fields = fields

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_previous_secret_valid_until(self, endpoint: WebhookEndpoint):
        expires = endpoint.previous_secret_expires_at
        return serializers.DateTimeField().to_representation(expires) if expires and expires > timezone.now() \
            else None


class WebhookEndpointSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(help_text="The signing secret (`whsec_…`). Shown only in this answer: store it.")

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")
        read_only_fields = fields


class WebhookEndpointCreateSerializer(StrictInput):
    url = serializers.CharField(max_length=500, help_text="https:// address of the receiver (public).")
    events = EventNamesField(help_text="The events to receive (GET /api/brokerage/webhook-events).")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")


class WebhookEndpointUpdateSerializer(StrictInput):
    url = serializers.CharField(max_length=500, required=False)
    events = EventNamesField(required=False)
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    is_active = serializers.BooleanField(required=False, help_text="false disables the endpoint (its waiting "
                                         "deliveries fail); true enables it again with its failure count reset.")


class WebhookDeliverySerializer(serializers.ModelSerializer):
    endpoint_id = serializers.IntegerField()
    event = serializers.ChoiceField(DELIVERY_EVENT_NAMES)
    redelivery_of = serializers.IntegerField(source="redelivery_of_id", allow_null=True,
                                             help_text="The delivery this one sends again.")
    payload = serializers.DictField(help_text="The JSON body sent (docs/webhooks.md).")

    class Meta:
        model = WebhookDelivery
        fields = ("id", "endpoint_id", "event", "event_id", "status", "attempts", "next_attempt_at",
                  "response_status", "response_excerpt", "latency_ms", "error", "created_at", "delivered_at",
                  "redelivery_of", "payload")
        read_only_fields = fields
        extra_kwargs = {"event_id": {"help_text": "The event's id: the same in every retry and redelivery "
                                                  "(the X-AEP-Delivery header)."},
                        "next_attempt_at": {"help_text": "When the next attempt may start (while one is in "
                                                         "flight: when it is given up)."}}


class DeliveryFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(WebhookDelivery.Status.choices, required=False,
                                     help_text="Only deliveries in this state.")
    event = serializers.ChoiceField(DELIVERY_EVENT_NAMES, required=False, help_text="Only this event.")


class WebhookEventSerializer(serializers.Serializer):
    name = serializers.CharField()
    description = serializers.CharField()


class _OwnersAPI(TenantAPIView):
    method_perms = {method: "manage_brokerage" for method in ("GET", "POST", "PATCH", "DELETE")}


class _EndpointAPI(_OwnersAPI):
    lookup = selectors.webhook_endpoint_get


class WebhookListAPI(_OwnersAPI):
    """The brokerage's webhook endpoints; POST registers one (its secret is in that answer only)."""

    pagination_class = Pagination

    @extend_schema(responses=WebhookEndpointSerializer(many=True), summary="List webhook endpoints")
    def get(self, request):
        return paginated(self, selectors.webhook_endpoints(self.brokerage), WebhookEndpointSerializer)

    @extend_schema(request=WebhookEndpointCreateSerializer, responses={201: WebhookEndpointSecretSerializer},
                   summary="Register a webhook endpoint")
    def post(self, request):
        incoming = WebhookEndpointCreateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        endpoint, secret = services.webhook_endpoint_create(brokerage=self.brokerage, actor=request.user,
                                                            **incoming.validated_data)
        endpoint.secret = secret
        return Response(WebhookEndpointSecretSerializer(endpoint).data, status=status.HTTP_201_CREATED)


class WebhookAPI(_EndpointAPI):
    """One endpoint: read it, change its address, events, description or state, or delete it with its log."""

    @extend_schema(responses=WebhookEndpointSerializer, summary="One webhook endpoint")
    def get(self, request, pk: int):
        return Response(WebhookEndpointSerializer(self.object).data)

    @extend_schema(request=WebhookEndpointUpdateSerializer, responses=WebhookEndpointSerializer,
                   summary="Change a webhook endpoint")
    def patch(self, request, pk: int):
        incoming = WebhookEndpointUpdateSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        endpoint = services.webhook_endpoint_update(brokerage=self.brokerage, actor=request.user,
                                                    endpoint=self.object, data=incoming.validated_data)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(responses={204: None}, summary="Delete a webhook endpoint and its delivery log")
    def delete(self, request, pk: int):
        services.webhook_endpoint_delete(brokerage=self.brokerage, actor=request.user, endpoint=self.object)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookRotateSecretAPI(_EndpointAPI):
    """A new signing secret, in this answer only; the previous one keeps signing for 24 hours."""

    @extend_schema(request=None, responses=WebhookEndpointSecretSerializer, summary="Rotate the signing secret")
    def post(self, request, pk: int):
        endpoint, secret = services.webhook_endpoint_rotate_secret(brokerage=self.brokerage, actor=request.user,
                                                                   endpoint=self.object)
        endpoint.secret = secret
        return Response(WebhookEndpointSecretSerializer(endpoint).data)


class WebhookPingAPI(_EndpointAPI):
    """Queue the test event `ping` to the endpoint (tried once, even while it is disabled)."""

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer}, summary="Send a test event")
    def post(self, request, pk: int):
        ping = services.webhook_ping(brokerage=self.brokerage, actor=request.user, endpoint=self.object)
        return Response(WebhookDeliverySerializer(ping).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveriesAPI(_EndpointAPI):
    """The endpoint's deliveries, newest first: status, attempts, the receiver's status, latency and answer."""

    pagination_class = Pagination

    @extend_schema(parameters=[DeliveryFilterSerializer],
                   responses=WebhookDeliverySerializer(many=True), summary="A webhook endpoint's deliveries")
    def get(self, request, pk: int):
        filters = query_params(DeliveryFilterSerializer, request)
        return paginated(self, selectors.webhook_deliveries(self.brokerage, self.object, **filters),
                         WebhookDeliverySerializer)


class WebhookRedeliverAPI(_OwnersAPI):
    """Send a delivery's event again (a new delivery with the same `event_id`); the endpoint must be enabled."""

    lookup = selectors.webhook_delivery_get

    @extend_schema(request=None, responses={202: WebhookDeliverySerializer}, summary="Redeliver an event")
    def post(self, request, pk: int):
        again = services.webhook_redeliver(brokerage=self.brokerage, actor=request.user, delivery=self.object)
        return Response(WebhookDeliverySerializer(again).data, status=status.HTTP_202_ACCEPTED)


class RedeliverySerializer(serializers.Serializer):
    queued = serializers.IntegerField(help_text="Events sent again by this call, each as a new delivery with the "
                                                "event's id.")
    remaining = serializers.IntegerField(help_text="Events still never received (beyond one call's batch): call "
                                                   "again for them.")


class WebhookRedeliverFailedAPI(_EndpointAPI):
    """Send again every event the endpoint never received (its deliveries failed, or were kept while it was
    disabled after repeated failures), oldest first, in batches; the endpoint must be enabled."""

    @extend_schema(request=None, responses={202: RedeliverySerializer}, summary="Redeliver every missed event")
    def post(self, request, pk: int):
        sent = services.webhook_redeliver_failed(brokerage=self.brokerage, actor=request.user, endpoint=self.object)
        return Response(RedeliverySerializer(sent).data, status=status.HTTP_202_ACCEPTED)


class WebhookEventsAPI(_OwnersAPI):
    """The events an endpoint can subscribe to (the test event `ping` is sent on request only)."""

    @extend_schema(responses=WebhookEventSerializer(many=True), summary="Webhook events")
    def get(self, request):
        return Response([{"name": name, "description": text} for name, text in WEBHOOK_EVENTS.items()])


urlpatterns = [
    path("brokerage/webhooks", WebhookListAPI.as_view(), name="api-brokerage-webhooks"),
    path("brokerage/webhooks/<int:pk>", WebhookAPI.as_view(), name="api-brokerage-webhook"),
    path("brokerage/webhooks/<int:pk>/rotate-secret", WebhookRotateSecretAPI.as_view(),
         name="api-brokerage-webhook-rotate-secret"),
    path("brokerage/webhooks/<int:pk>/ping", WebhookPingAPI.as_view(), name="api-brokerage-webhook-ping"),
    path("brokerage/webhooks/<int:pk>/deliveries", WebhookDeliveriesAPI.as_view(),
         name="api-brokerage-webhook-deliveries"),
    path("brokerage/webhooks/deliveries/<int:pk>/redeliver", WebhookRedeliverAPI.as_view(),
         name="api-brokerage-webhook-redeliver"),
    path("brokerage/webhooks/<int:pk>/redeliver-failed", WebhookRedeliverFailedAPI.as_view(),
         name="api-brokerage-webhook-redeliver-failed"),
    path("brokerage/webhook-events", WebhookEventsAPI.as_view(), name="api-brokerage-webhook-events"),
]
