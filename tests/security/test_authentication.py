"""Signing in: throttling and lockout (django-axes), the password rules on every form that sets a password, and
the session cookie and its lifetime."""

import datetime as dt
import json
import subprocess
import sys

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.tokens import default_token_generator
from django.test import Client, override_settings
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from brokerages.models import AuditLog, Role
from tests.factories import UserFactory
from tests.test_deploy_check import REPO_ROOT, production_env

LOGIN = "/accounts/login/"
ADMIN_LOGIN = "/admin/login/"
ATTACKER = "203.0.113.9"


def sign_in(client, email: str, password: str, *, path: str = LOGIN, address: str = ATTACKER, **headers):
    return client.post(path, {"username": email, "password": password}, REMOTE_ADDR=address, **headers)


def fail(client, email: str, times: int, **kwargs):
    return [sign_in(client, email, "not-the-password", **kwargs) for _ in range(times)]


def lockouts(brokerage) -> list[AuditLog]:
    return list(AuditLog.objects.filter(brokerage=brokerage, action="auth.locked_out"))


def assert_locked_out_page(response) -> None:
    body = response.content.decode()
    assert response.status_code == 429, body[:300]
    assert "Sign-in paused" in body and "Please try again then" in body
    assert 'href="/static/css/app.css"' in body  # the site's own page, not a bare error
    assert "Traceback" not in body and "axes" not in body.lower()
    assert '<input type="password"' not in body


@pytest.mark.django_db
class TestLockout:
    def test_fifth_wrong_password_locks_the_username_from_that_address(self, client, tenant, password):
        responses = fail(client, tenant.owner.email, 5)
        assert [r.status_code for r in responses[:4]] == [200] * 4
        assert b"Please enter a correct email and password" in responses[3].content
        assert_locked_out_page(responses[4])
        # Even the right password is refused now, and no session is opened.
        response = sign_in(client, tenant.owner.email, password)
        assert_locked_out_page(response)
        assert "_auth_user_id" not in client.session

    def test_the_page_says_when_to_try_again_and_trying_does_not_extend_it(self, client, tenant, password):
        fail(client, tenant.owner.email, 5)
        attempt = AccessAttempt.objects.get(username=tenant.owner.email, ip_address=ATTACKER)
        until = attempt.attempt_time + dt.timedelta(minutes=15)
        fail(client, tenant.owner.email, 3)
        response = sign_in(client, tenant.owner.email, password)
        local = until.astimezone(dt.timezone(dt.timedelta(hours=4)))  # Asia/Dubai
        assert f'<time datetime="{local.isoformat()}">{local:%H:%M}</time>' in response.content.decode()
        assert "in about 15 minutes" in response.content.decode()
        assert AccessAttempt.objects.get(pk=attempt.pk).attempt_time == attempt.attempt_time

    def test_lockout_ends_after_the_cool_off(self, client, tenant, password):
        fail(client, tenant.owner.email, 5)
        AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
        response = sign_in(client, tenant.owner.email, password)
        assert response.status_code == 302 and response["Location"] == "/"

    @override_settings(AXES_FAILURE_LIMIT=3, AXES_COOLOFF_TIME=dt.timedelta(minutes=2))
    def test_limit_and_cool_off_come_from_settings(self, client, tenant):
        responses = fail(client, tenant.owner.email, 3)
        assert responses[1].status_code == 200
        assert_locked_out_page(responses[2])
        assert "in about 2 minutes" in responses[2].content.decode()

    def test_a_successful_sign_in_clears_the_failures(self, client, tenant, password):
        fail(client, tenant.owner.email, 4)
        assert sign_in(client, tenant.owner.email, password).status_code == 302
        client.post(reverse("logout"))
        assert [r.status_code for r in fail(client, tenant.owner.email, 4)] == [200] * 4

    def test_lockout_is_per_username_and_address(self, client, tenant, password):
        """Another address (the member at the office) and another member from the same address still get in;
        the address is the one the whole app records, so a forged X-Forwarded-For does not reset the count."""
        responses = [sign_in(client, tenant.owner.email, "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
                     for n in range(5)]
        assert_locked_out_page(responses[4])
        assert sign_in(Client(), tenant.owner.email, password, address="192.0.2.44").status_code == 302
        assert sign_in(Client(), tenant.agent.email, password).status_code == 302

    def test_usernames_are_compared_without_case(self, client, tenant):
        email = tenant.owner.email
        responses = [sign_in(client, variant, "wrong") for variant in
                     (email, email.upper(), email.title(), f" {email}", email.capitalize())]
        assert_locked_out_page(responses[4])

    def test_lockout_is_audited_once_in_the_members_brokerage(self, client, tenant, other_tenant):
        fail(client, tenant.agent.email, 8)
        [entry] = lockouts(tenant.brokerage)
        assert entry.actor is None and entry.resource_id == str(tenant.agent.pk)
        assert entry.ip_address == ATTACKER
        assert entry.details["email"] == tenant.agent.email and entry.details["failures"] == 5
        assert lockouts(other_tenant.brokerage) == []
        # The owner sees it on the compliance page.
        owner = Client()
        owner.force_login(tenant.owner)
        page = owner.get(reverse("brokerages:audit_log")).content.decode()
        assert "auth.locked_out" in page

    def test_an_unknown_address_is_locked_out_without_an_audit_entry(self, client, tenant):
        assert_locked_out_page(fail(client, "nobody@nowhere.test", 5)[4])
        assert not AuditLog.objects.filter(action="auth.locked_out").exists()

    def test_the_admin_sign_in_is_throttled_too(self, client, tenant, password):
        admin = UserFactory(brokerage=None, role=Role.SYSTEM_ADMIN, is_staff=True, is_superuser=True,
                            email="root@platform.test")
        responses = fail(client, admin.email, 5, path=ADMIN_LOGIN)
        assert responses[3].status_code == 200
        assert_locked_out_page(responses[4])
        assert sign_in(client, admin.email, password, path=ADMIN_LOGIN).status_code == 429

    def test_staff_unlock_a_member_in_the_admin(self, client, tenant, password):
        fail(client, tenant.owner.email, 5)
        admin = UserFactory(brokerage=None, role=Role.SYSTEM_ADMIN, is_staff=True, is_superuser=True)
        staff = Client()
        staff.force_login(admin)
        listing = staff.get(reverse("admin:axes_accessattempt_changelist"))
        assert listing.status_code == 200 and tenant.owner.email in listing.content.decode()
        attempt = AccessAttempt.objects.get(username=tenant.owner.email)
        response = staff.post(reverse("admin:axes_accessattempt_delete", args=[attempt.pk]), {"post": "yes"})
        assert response.status_code == 302
        assert sign_in(client, tenant.owner.email, password).status_code == 302

    def test_members_signing_in_normally_are_never_locked_out(self, client, tenant, password):
        """The rest of the suite signs in over and over: only wrong passwords count."""
        for _ in range(12):
            assert sign_in(client, tenant.owner.email, password).status_code == 302
            client.post(reverse("logout"))
        assert not AccessAttempt.objects.exists()


# --- password rules ---------------------------------------------------------------------------------------

WEAK_PASSWORDS = [
    ("Ab1!xyz", "This password is too short. It must contain at least 10 characters."),
    ("password123", "This password is too common."),
    ("4829301746", "This password is entirely numeric."),
]


def _weak_cases(email: str):
    yield from WEAK_PASSWORDS
    yield email, "The password is too similar to the email."


def _set_password_link(user) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})


@pytest.mark.django_db
def test_invitation_link_refuses_weak_passwords_with_the_validators_message(client, tenant):
    invited = UserFactory(brokerage=tenant.brokerage, email="sara.ali@palmcrest.test", password=None)
    invited.set_unusable_password()
    invited.save()
    form_url = client.get(_set_password_link(invited), follow=True).redirect_chain[-1][0]
    for weak, message in _weak_cases(invited.email):
        response = client.post(form_url, {"new_password1": weak, "new_password2": weak})
        assert response.status_code == 200, weak
        assert message in response.content.decode(), (weak, message)
    invited.refresh_from_db()
    assert not invited.has_usable_password()
    response = client.post(form_url, {"new_password1": "Desert-Rose-2026", "new_password2": "Desert-Rose-2026"})
    assert response.status_code == 302
    invited.refresh_from_db()
    assert invited.check_password("Desert-Rose-2026")
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="member.password_set",
                                   details__via="link").count() == 1


@pytest.mark.django_db
def test_password_change_refuses_weak_passwords_with_the_validators_message(client, tenant, password):
    client.force_login(tenant.agent)
    for weak, message in _weak_cases(tenant.agent.email):
        response = client.post(reverse("password_change"), {
            "old_password": password, "new_password1": weak, "new_password2": weak})
        assert response.status_code == 200, weak
        assert message in response.content.decode(), (weak, message)
    tenant.agent.refresh_from_db()
    assert tenant.agent.check_password(password)


# --- sessions --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_password_change_keeps_this_session_and_ends_every_other(tenant, password):
    here, elsewhere = Client(), Client()
    for browser in (here, elsewhere):
        assert sign_in(browser, tenant.agent.email, password).status_code == 302
    assert elsewhere.get(reverse("account")).status_code == 200
    response = here.post(reverse("password_change"), {
        "old_password": password, "new_password1": "Saffron-Dunes-88", "new_password2": "Saffron-Dunes-88"},
        follow=True)
    assert response.redirect_chain[-1][0] == reverse("account")
    assert "any other signed-in browser or device has been signed out" in response.content.decode()
    assert here.get(reverse("account")).status_code == 200
    signed_out = elsewhere.get(reverse("account"))
    assert signed_out.status_code == 302 and signed_out["Location"].startswith(LOGIN)
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="member.password_set", actor=tenant.agent,
                                   details__via="change").count() == 1


@pytest.mark.django_db
def test_signing_in_rotates_the_session_key(client, tenant, password):
    client.get(LOGIN)
    client.session.save()
    before = client.session.session_key
    assert sign_in(client, tenant.owner.email, password).status_code == 302
    assert client.session.session_key != before


def _production_cookie_settings(tmp_path) -> dict:
    script = ("import json, django; django.setup(); from django.conf import settings as s; print(json.dumps({k: "
              "getattr(s, k) for k in ('SESSION_COOKIE_SECURE', 'SESSION_COOKIE_HTTPONLY', 'SESSION_COOKIE_SAMESITE', "
              "'SESSION_COOKIE_AGE', 'CSRF_COOKIE_SECURE', 'CSRF_COOKIE_SAMESITE', 'CSRF_COOKIE_HTTPONLY')}))")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO_ROOT,  # noqa: S603 (our own interpreter)
                            env=production_env(tmp_path), capture_output=True, text=True, timeout=120, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.django_db
def test_cookies_are_secure_httponly_and_same_site_with_production_settings(tmp_path, tenant, password):
    production = _production_cookie_settings(tmp_path)
    assert production["SESSION_COOKIE_SECURE"] is True and production["CSRF_COOKIE_SECURE"] is True
    assert production["SESSION_COOKIE_AGE"] == 12 * 60 * 60
    with override_settings(**production):
        client = Client()
        response = client.get(LOGIN, secure=True)
        csrf = response.cookies["csrftoken"]
        assert csrf["secure"] and csrf["samesite"] == "Lax"
        response = client.post(LOGIN, {"username": tenant.owner.email, "password": password}, secure=True)
        assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert session["max-age"] == 12 * 60 * 60
