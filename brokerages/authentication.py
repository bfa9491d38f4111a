"""How API callers prove who they are: a brokerage's integration key (`Authorization: Bearer aep_…`, see
`brokerages.keys`) or a member's own token (`Authorization: Token <key>`), read with the member's brokerage in the
same query (every API call and every token-authenticated WebSocket needs both)."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import HTTP_HEADER_ENCODING
from rest_framework.authentication import BaseAuthentication, TokenAuthentication, get_authorization_header
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed

from .keys import ApiKeyRejected, api_key_for

BEARER_CHALLENGE = 'Bearer realm="api"'


def active_token(key: str) -> Token | None:
    """The API token `key` with its user and the user's brokerage; None for an unknown key or an inactive user."""
    token = Token.objects.select_related("user__brokerage").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token


class MemberTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>` as DRF reads it, answered by `active_token`."""

    def authenticate_credentials(self, key):
        token = active_token(key)
        if token is None:
            raise AuthenticationFailed(_("Invalid token, or its user is inactive."))
        return token.user, token


class ApiKeyAuthentication(BaseAuthentication):
    """`Authorization: Bearer aep_<prefix>_<secret>`: the request acts as the key's creator, and `request.auth`
    is the `ApiKey` (whose scopes `TenantAPIView` enforces). Other schemes are left to the next class."""

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != b"bearer":
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send the key as `Authorization: Bearer aep_<prefix>_<secret>`, nothing else.")
        try:
            key = api_key_for(parts[1].decode(HTTP_HEADER_ENCODING))
        except UnicodeDecodeError:
            raise AuthenticationFailed("Unknown API key.") from None
        except ApiKeyRejected as rejected:
            raise AuthenticationFailed(str(rejected)) from None
        return key.created_by, key

    def authenticate_header(self, request):
        # DRF asks only the first authentication class for the 401 challenge, so it names both schemes the API
        # takes, the one the caller tried first.
        tried_bearer = get_authorization_header(request)[:7].lower() == b"bearer "
        return f"{BEARER_CHALLENGE}, Token" if tried_bearer else f"Token, {BEARER_CHALLENGE}"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """Documents `ApiKeyAuthentication` in the OpenAPI schema (drf-spectacular registers it on import)."""

    target_class = ApiKeyAuthentication
    name = "apiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "aep_<prefix>_<secret>",
            "description": "A brokerage integration key, created by an owner on the “API keys” page and shown "
                           "once. It acts as the owner who created it, limited to its scopes: `<area>:read` for "
                           "GET, `<area>:write` (which includes read) for other methods, where the area is "
                           "brokerages, copilot, nurturing, coaching or analytics.",
        }
