"""Sign-in lockout (django-axes, configured at the end of config/settings.py): how a username is compared, and
the page a locked-out username + address gets, which also writes the lockout into the member's brokerage
audit log the one time it starts."""

import logging

from axes.backends import AxesStandaloneBackend
from axes.helpers import get_cool_off
from axes.models import AccessAttempt
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone
from django_scopes import scopes_disabled

from .models import User
from .services import audit_record

logger = logging.getLogger(__name__)

LOCKED_OUT_STATUS = 429


class LockoutBackend(AxesStandaloneBackend):
    """Axes' check before the password one, for sign-ins from a client (the login page, the admin). A password
    checked without a request (a management command, a shell) has no client to lock out, so it is not refused
    for lacking one as Axes would."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def username(request, credentials: dict | None) -> str | None:
    """E-mail addresses are stored in lower case: "Owner@X" and "owner@x" count towards one lockout."""
    value = credentials.get("username") if credentials else request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else None


def _locked_until(name: str | None, address: str | None):
    """When the newest recorded failure of this username + address stops counting. Tries made during the
    lockout are refused unrecorded (AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT off), so this time holds."""
    cool_off = get_cool_off()
    latest = AccessAttempt.objects.filter(username=name, ip_address=address).aggregate(
        latest=Max("attempt_time"))["latest"]
    return (latest or timezone.now()) + cool_off


def locked_out_response(request, original_response=None, credentials=None):
    """The page for a refused sign-in (429): what happened and when to try again; no form to try with."""
    name = username(request, credentials)
    address = getattr(request, "axes_ip_address", None)
    until = _locked_until(name, address)
    # Axes counts the failures on the request whose failure started the lockout; later refusals leave it unset.
    if getattr(request, "axes_failures_since_start", None) is not None:
        _record_lockout(name, address, until, request.axes_failures_since_start)
    return render(request, "registration/locked_out.html", {
        "until": timezone.localtime(until),
        "minutes": max(1, round((until - timezone.now()).total_seconds() / 60)),
    }, status=LOCKED_OUT_STATUS)


def _record_lockout(name: str | None, address: str | None, until, failures: int) -> None:
    with scopes_disabled():
        member = User.objects.filter(email=name, brokerage__isnull=False).select_related("brokerage").first()
    # Logs name the member by id, not address: e-mail addresses stay in the audit log and the admin.
    logger.warning("sign-in locked out for %s from %s until %s after %s failures",
                   f"member {member.pk}" if member else "a username outside every brokerage", address,
                   until.isoformat(timespec="seconds"), failures)
    if member is None:
        return  # no brokerage's business: an unknown address or a system admin (the admin lists both)
    audit_record(brokerage=member.brokerage, actor=None, action="auth.locked_out", resource=member,
                 details={"email": member.email, "failures": failures,
                          "locked_until": until.isoformat(timespec="seconds")})
