"""API tokens: whose a token is, read with the member's brokerage in the same query (every API call and every
token-authenticated WebSocket needs both)."""

from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token
from rest_framework.exceptions import AuthenticationFailed


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
