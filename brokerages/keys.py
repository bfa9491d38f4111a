"""Integration API keys: issuing, revoking, and the one place a presented key is parsed and checked.

A key reads `aep_<prefix>_<secret>`. The prefix is public (it names the key on the owners' page and in the audit
log) and finds the row; only a SHA-256 of the whole key is stored, compared in constant time. A key acts as the
owner who created it, narrowed to its scopes (`"<area>:read"` / `"<area>:write"`, see `ApiArea`), so it stops
working when that person leaves, is deactivated or is no longer an owner.
"""

import datetime as dt
import hashlib
import hmac
import secrets

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import API_SCOPES, ApiArea, ApiKey, Brokerage, Role, User
from .permissions import brokerage_perms
from .services import audit_record

KEY_START = "aep_"
PREFIX_BYTES = 4  # 8 hex characters
SECRET_BYTES = 32
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)
READ, WRITE = "read", "write"


class ApiKeyRejected(Exception):
    """A presented key that does not authenticate; the message says why, for the integrator to act on."""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def _utc(moment: dt.datetime) -> str:
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def key_label(key: ApiKey) -> str:
    """How a key is named where its secret must not appear: the audit log, messages."""
    return f"{key.name} ({key.prefix})"


def key_status(key: ApiKey, now: dt.datetime | None = None) -> str:
    """"revoked", "expired" or "active" (revocation wins: it is the owner's explicit act)."""
    now = now or timezone.now()
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def scopes_grant(scopes: list[str], area: str, level: str) -> bool:
    """Whether `scopes` allow `level` ("read" or "write") on `area`; write implies read."""
    return f"{area}:{WRITE}" in scopes or (level == READ and f"{area}:{READ}" in scopes)


def _check_owner(brokerage: Brokerage, actor: User, doing: str) -> None:
    if actor.brokerage_id != brokerage.pk or "manage_brokerage" not in brokerage_perms(actor, brokerage):
        raise PermissionDenied(f"Only the brokerage's owners {doing} API keys.")


def _clean_scopes(scopes: list[str]) -> list[str]:
    unknown = [scope for scope in scopes if scope not in API_SCOPES]
    if unknown:
        raise ValidationError({"scopes": f"Unknown scope {', '.join(map(str, unknown))}. Scopes are "
                                         f"<area>:read or <area>:write, areas: {', '.join(ApiArea.values)}."})
    if not scopes:
        raise ValidationError({"scopes": "Choose at least one scope: a key that may do nothing is of no use."})
    return [scope for scope in API_SCOPES if scope in scopes]  # the catalogue's order, no duplicates


def _new_prefix() -> str:
    # Prefixes are unique across brokerages, and the tenant is not what is being asked about here.
    with scopes_disabled():
        while True:
            prefix = secrets.token_hex(PREFIX_BYTES)
            if not ApiKey.objects.filter(prefix=prefix).exists():
                return prefix


@transaction.atomic
def api_key_create(
    *, brokerage: Brokerage, actor: User, name: str, scopes: list[str], expires_at: dt.datetime | None = None
) -> tuple[ApiKey, str]:
    """Issue a key for the brokerage and return it with the raw key, which is not stored and cannot be recovered.

    Before: `actor` is an owner of `brokerage` (PermissionDenied otherwise). After: the key row holds the hash,
    the scopes in catalogue order and an audit entry names it (never the secret). A blank or taken live name,
    an unknown or missing scope, or an expiry in the past raises ValidationError and nothing is stored.
    """
    _check_owner(brokerage, actor, "create")
    name = name.strip()
    scopes = _clean_scopes(list(scopes))
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationError({"expires_at": "The expiry must be in the future."})
    if name and ApiKey.objects.filter(brokerage=brokerage, name__iexact=name, revoked_at__isnull=True).exists():
        raise ValidationError({"name": f"A key named “{name}” is already in use; choose another name or revoke "
                                       "that key first."})
    prefix = _new_prefix()
    raw = f"{KEY_START}{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    key = ApiKey(brokerage=brokerage, name=name, prefix=prefix, key_hash=_digest(raw), scopes=scopes,
                 created_by=actor, expires_at=expires_at)
    key.full_clean()
    key.save()
    audit_record(brokerage=brokerage, actor=actor, action="api_key.created", resource=key,
                 details={"name": name, "prefix": prefix, "scopes": scopes,
                          "expires_at": expires_at.isoformat() if expires_at else None})
    return key, raw


@transaction.atomic
def api_key_revoke(*, brokerage: Brokerage, actor: User, key: ApiKey) -> ApiKey:
    """Stop the key working at once. Revoking a revoked key changes nothing and writes no second audit entry.

    Before: `actor` is an owner of `brokerage` and `key` is one of its keys (DoesNotExist otherwise).
    """
    _check_owner(brokerage, actor, "revoke")
    key = ApiKey.objects.select_for_update().get(pk=key.pk, brokerage=brokerage)
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit_record(brokerage=brokerage, actor=actor, action="api_key.revoked", resource=key,
                     details={"name": key.name, "prefix": key.prefix})
    return key


def api_keys(brokerage: Brokerage) -> QuerySet[ApiKey]:
    """The brokerage's keys, newest first, with who created them."""
    return ApiKey.objects.filter(brokerage=brokerage).select_related("created_by")


def api_key_get(brokerage: Brokerage, pk: int) -> ApiKey:
    """One of the brokerage's keys; another brokerage's key answers 404."""
    return get_object_or_404(ApiKey, pk=pk, brokerage=brokerage)


def api_key_for(raw: str) -> ApiKey:
    """The live key `raw` is, with its creator and the creator's brokerage (the key's) loaded: what
    authentication and the tenant scope need, in one query. Raises ApiKeyRejected saying why otherwise: unknown, revoked, expired, or its creator no longer an
    active owner of the key's brokerage.

    Records `last_used_at` when it is unset or older than a minute, so a busy integration does not write on
    every request.
    """
    prefix, _, secret = raw.removeprefix(KEY_START).partition("_")
    if not raw.startswith(KEY_START) or not prefix or not secret:
        raise ApiKeyRejected("Unknown API key: keys look like aep_<prefix>_<secret>.")
    # Authentication runs before the tenant is known: the key is what tells us the tenant.
    with scopes_disabled():
        try:
            key = ApiKey.objects.select_related("created_by__brokerage").get(prefix=prefix)
        except ApiKey.DoesNotExist:
            key = None
    if key is None or not hmac.compare_digest(key.key_hash, _digest(raw)):
        raise ApiKeyRejected("Unknown API key.")
    now = timezone.now()
    status = key_status(key, now)
    if status == "revoked":
        raise ApiKeyRejected(f"This API key was revoked on {_utc(key.revoked_at)}.")
    if status == "expired":
        raise ApiKeyRejected(f"This API key expired on {_utc(key.expires_at)}.")
    creator = key.created_by
    if not creator.is_active or creator.brokerage_id != key.brokerage_id or creator.role != Role.BROKERAGE_OWNER:
        raise ApiKeyRejected("This API key's creator is no longer an active owner of the brokerage, so the key "
                             "stopped working; an owner can create a new one.")
    if key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION:
        with scopes_disabled():
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
        key.last_used_at = now
    return key
