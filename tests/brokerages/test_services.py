import contextvars
import datetime as dt

import pytest
from django.contrib.auth import authenticate
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django_scopes import scope
from django_scopes.exceptions import ScopeError

from brokerages import selectors, services
from brokerages.models import AuditLog, BrandAsset, Brokerage, BrokerageSetting, Role, User

from ..images import png_bytes

pytestmark = pytest.mark.django_db


def fresh(user: User) -> User:
    """A new instance: guardian caches permissions on the user object."""
    return User.objects.get(pk=user.pk)


def actions(brokerage) -> list[str]:
    return list(AuditLog.objects.filter(brokerage=brokerage).values_list("action", flat=True))


class TestBrokerageCreate:
    def test_creates_owner_with_management_rights_and_audit_entry(self):
        brokerage = services.brokerage_create(actor=None, name="Palm Crest Realty", license_number="ORN-1",
                                              owner_email="Layla@PalmCrest.ae", owner_password="Long-enough-pass-1")
        owner = User.objects.get(email="layla@palmcrest.ae")
        assert brokerage.slug == "palm-crest-realty"
        assert owner.role == Role.BROKERAGE_OWNER and owner.brokerage == brokerage
        assert owner.has_perm("brokerages.manage_brokerage", brokerage)
        assert actions(brokerage) == ["brokerage.created"]

    def test_duplicate_licence_or_owner_email_stores_nothing(self, tenant):
        with pytest.raises(ValidationError) as error:
            services.brokerage_create(actor=None, name="Copycat", license_number=tenant.brokerage.license_number,
                                      owner_email="new@copycat.ae")
        assert "license_number" in error.value.message_dict
        with pytest.raises(ValidationError):
            services.brokerage_create(actor=None, name="Copycat", license_number="ORN-NEW",
                                      owner_email=tenant.owner.email)
        assert not Brokerage.objects.filter(name="Copycat").exists()
        assert not User.objects.filter(email="new@copycat.ae").exists()

    def test_same_name_gets_a_distinct_slug(self, tenant):
        again = services.brokerage_create(actor=None, name=tenant.brokerage.name, license_number="ORN-2",
                                          owner_email="other@owner.ae")
        assert again.slug != tenant.brokerage.slug


class TestProfileAndBranding:
    def test_profile_change_is_audited_with_old_and_new_values(self, tenant):
        services.brokerage_update_profile(brokerage=tenant.brokerage, actor=tenant.owner,
                                          data={"phone": "+971 4 555 0101", "name": tenant.brokerage.name})
        entry = AuditLog.objects.get(action="brokerage.profile_updated")
        assert entry.actor == tenant.owner
        assert entry.details["changes"] == {"phone": ["", "+971 4 555 0101"]}

    def test_licence_taken_by_another_brokerage_is_refused(self, tenant, other_tenant):
        with pytest.raises(ValidationError):
            services.brokerage_update_profile(brokerage=tenant.brokerage, actor=tenant.owner, data={
                "license_number": other_tenant.brokerage.license_number, "phone": "+971 4 000"})
        tenant.brokerage.refresh_from_db()
        assert tenant.brokerage.phone == ""

    @pytest.mark.parametrize("colour", ["red", "#12345", "#GGGGGG", "123456", "#1234567"])
    def test_colours_must_be_hex(self, tenant, colour):
        with pytest.raises(ValidationError):
            services.brokerage_update_branding(brokerage=tenant.brokerage, actor=tenant.owner,
                                               primary_color=colour, secondary_color="#FFFFFF")
        tenant.brokerage.refresh_from_db()
        assert tenant.brokerage.primary_color != colour

    def test_database_refuses_a_bad_colour_too(self, tenant):
        from django.db import IntegrityError, transaction

        with pytest.raises(IntegrityError), transaction.atomic():
            Brokerage.objects.filter(pk=tenant.brokerage.pk).update(primary_color="blue")

    def test_logo_upload_and_removal(self, tenant):
        logo = SimpleUploadedFile("logo.png", png_bytes((64, 32)), content_type="image/png")
        brokerage = services.brokerage_update_branding(brokerage=tenant.brokerage, actor=tenant.owner,
                                                       primary_color="#112233", secondary_color="#aabbcc",
                                                       logo=logo)
        assert brokerage.logo and brokerage.primary_color == "#112233" and brokerage.secondary_color == "#AABBCC"
        brokerage = services.brokerage_update_branding(brokerage=brokerage, actor=tenant.owner,
                                                       primary_color="#112233", secondary_color="#AABBCC",
                                                       remove_logo=True)
        assert not brokerage.logo
        assert actions(tenant.brokerage).count("brokerage.branding_updated") == 2

    @pytest.mark.parametrize(("name", "content", "message"), [
        ("logo.png", b"<svg onload=alert(1)></svg>", "not a PNG"),
        ("logo.png", b"", "empty"),
        ("logo.png", b"\x89PNG\r\n\x1a\n" + b"0" * 100, "not a PNG"),
        ("big.png", png_bytes((8, 8)) + b"\0" * (2 * 1024 * 1024), "limit is 2 MB"),
        ("huge.png", png_bytes((5000, 10)), "at most 4096"),
    ])
    def test_bad_logo_is_refused_with_a_reason_and_nothing_changes(self, tenant, name, content, message):
        upload = SimpleUploadedFile(name, content, content_type="image/png")
        with pytest.raises(ValidationError) as error:
            services.brokerage_update_branding(brokerage=tenant.brokerage, actor=tenant.owner,
                                               primary_color="#000000", secondary_color="#FFFFFF", logo=upload)
        assert message in " ".join(error.value.messages)
        tenant.brokerage.refresh_from_db()
        assert tenant.brokerage.primary_color == "#1F4E79" and not tenant.brokerage.logo


class TestBrandAssets:
    def test_brochure_pdf_is_stored(self, tenant):
        pdf = SimpleUploadedFile("brochure.pdf", b"%PDF-1.7\n%fake but typed\n", content_type="application/pdf")
        asset = services.brand_asset_upload(brokerage=tenant.brokerage, actor=tenant.owner, asset_type="brochure",
                                            asset_name="Marina brochure", file=pdf)
        assert asset.content_type == "application/pdf" and asset.size_bytes == pdf.size
        assert "brand_asset.uploaded" in actions(tenant.brokerage)

    def test_executable_disguised_as_pdf_is_refused(self, tenant):
        fake = SimpleUploadedFile("brochure.pdf", b"MZ\x90\x00 not a pdf", content_type="application/pdf")
        with pytest.raises(ValidationError) as error:
            services.brand_asset_upload(brokerage=tenant.brokerage, actor=tenant.owner, asset_type="template",
                                        asset_name="Template", file=fake)
        assert "file" in error.value.message_dict
        assert not BrandAsset.objects.exists()

    def test_deactivate_keeps_the_asset(self, tenant):
        asset = services.brand_asset_upload(
            brokerage=tenant.brokerage, actor=tenant.owner, asset_type="logo", asset_name="Mono logo",
            file=SimpleUploadedFile("mono.png", png_bytes()))
        services.brand_asset_set_active(brokerage=tenant.brokerage, actor=tenant.owner, asset=asset, active=False)
        asset.refresh_from_db()
        assert asset.is_active is False
        assert "brand_asset.deactivated" in actions(tenant.brokerage)


class TestSettings:
    def test_defaults_until_set_then_typed_values(self, tenant):
        values = selectors.settings_values(tenant.brokerage)
        assert values["forgotten_lead_days"] == 7 and values["quiet_hours_start"] == dt.time(21, 0)
        changed = services.settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={
            "forgotten_lead_days": "10", "quiet_hours_start": "22:30", "default_coaching_intensity": "CRITICAL"})
        assert set(changed) == {"forgotten_lead_days", "quiet_hours_start", "default_coaching_intensity"}
        assert selectors.setting_value(tenant.brokerage, "forgotten_lead_days") == 10
        assert selectors.setting_value(tenant.brokerage, "quiet_hours_start") == dt.time(22, 30)
        entry = AuditLog.objects.get(action="settings.updated")
        assert entry.details["changes"]["forgotten_lead_days"] == ["7", "10"]

    def test_one_bad_value_stores_nothing(self, tenant):
        with pytest.raises(ValidationError) as error:
            services.settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={
                "forgotten_lead_days": 30, "inactive_client_days": -5, "no_such_key": 1,
                "ai_provider": "gpt-9"})
        assert set(error.value.message_dict) == {"inactive_client_days", "no_such_key", "ai_provider"}
        assert "at least 7" in error.value.message_dict["inactive_client_days"][0]
        assert not BrokerageSetting.objects.exists()
        assert "settings.updated" not in actions(tenant.brokerage)

    def test_settings_are_per_brokerage(self, tenant, other_tenant):
        services.settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 3})
        assert selectors.setting_value(other_tenant.brokerage, "forgotten_lead_days") == 7

    def test_saving_the_same_values_again_changes_nothing(self, tenant):
        services.settings_update(brokerage=tenant.brokerage, actor=tenant.owner, values={"forgotten_lead_days": 3})
        assert services.settings_update(brokerage=tenant.brokerage, actor=tenant.owner,
                                        values={"forgotten_lead_days": 3}) == {}
        assert actions(tenant.brokerage).count("settings.updated") == 1


class TestTeam:
    def test_invite_creates_member_without_password_and_mails_a_working_link(
            self, tenant, client, mailoutbox, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            member = services.team_invite(brokerage=tenant.brokerage, actor=tenant.owner, email="New@Agent.ae",
                                          full_name="Omar Khan", base_url="http://testserver")
        assert member.email == "new@agent.ae" and not member.has_usable_password()
        assert fresh(member).has_perm("brokerages.view_knowledge_base", tenant.brokerage)
        assert len(mailoutbox) == 1 and mailoutbox[0].to == ["new@agent.ae"]
        link = next(line for line in mailoutbox[0].body.splitlines() if line.startswith("http://testserver/"))
        response = client.get(link, follow=True)
        assert b"Choose your password" in response.content
        response = client.post(response.redirect_chain[-1][0], {
            "new_password1": "Dubai-Marina-2026", "new_password2": "Dubai-Marina-2026"})
        assert response.status_code == 302
        assert authenticate(email="new@agent.ae", password="Dubai-Marina-2026") is not None

    def test_invite_of_someone_in_another_brokerage_is_refused(self, tenant, other_tenant, mailoutbox):
        with pytest.raises(ValidationError) as error:
            services.team_invite(brokerage=tenant.brokerage, actor=tenant.owner,
                                 email=other_tenant.agent.email.upper(), full_name="Poached")
        assert "another brokerage" in error.value.message_dict["email"][0]
        assert fresh(other_tenant.agent).brokerage == other_tenant.brokerage
        assert mailoutbox == []

    def test_role_change_regrants_permissions(self, tenant):
        services.team_member_change_role(brokerage=tenant.brokerage, actor=tenant.owner, member=tenant.agent,
                                         role=Role.SUPPORT_STAFF)
        member = fresh(tenant.agent)
        assert member.has_perm("brokerages.view_team_performance", tenant.brokerage)
        assert not member.has_perm("brokerages.use_workflow_automation", tenant.brokerage)
        assert AuditLog.objects.get(action="team.role_changed").details["changes"] == {
            "role": ["agent", "support_staff"]}

    def test_last_owner_cannot_be_demoted_or_deactivated(self, tenant):
        with pytest.raises(ValidationError):
            services.team_member_change_role(brokerage=tenant.brokerage, actor=tenant.owner, member=tenant.owner,
                                             role=Role.AGENT)
        second = services.team_invite(brokerage=tenant.brokerage, actor=tenant.owner, email="co@owner.ae",
                                      full_name="Co Owner", role=Role.BROKERAGE_OWNER)
        with pytest.raises(ValidationError):
            services.team_member_set_active(brokerage=tenant.brokerage, actor=second, member=second, active=False)
        services.team_member_change_role(brokerage=tenant.brokerage, actor=second, member=tenant.owner,
                                         role=Role.AGENT)
        assert fresh(tenant.owner).role == Role.AGENT

    def test_deactivation_refuses_sign_in_keeps_history_and_drops_token(self, tenant, password):
        services.api_token_create(user=tenant.agent)
        services.team_member_set_active(brokerage=tenant.brokerage, actor=tenant.owner, member=tenant.agent,
                                        active=False)
        assert authenticate(email=tenant.agent.email, password=password) is None
        assert User.objects.filter(pk=tenant.agent.pk).exists()
        assert AuditLog.objects.filter(actor=tenant.agent, action="api_token.created").exists()
        assert not fresh(tenant.agent).has_perm("brokerages.view_brokerage", tenant.brokerage)
        from rest_framework.authtoken.models import Token
        assert not Token.objects.filter(user=tenant.agent).exists()

    def test_update_of_role_and_state_is_all_or_nothing(self, tenant):
        with pytest.raises(ValidationError):
            services.team_member_update(brokerage=tenant.brokerage, actor=tenant.owner, member=tenant.owner,
                                        role=Role.BROKERAGE_OWNER, active=False)
        services.team_member_update(brokerage=tenant.brokerage, actor=tenant.owner, member=tenant.agent,
                                    role=Role.SUPPORT_STAFF, active=False)
        member = fresh(tenant.agent)
        assert (member.role, member.is_active) == (Role.SUPPORT_STAFF, False)


class TestAuditLogAndScoping:
    def test_audit_log_is_append_only(self, tenant):
        entry = services.audit_record(brokerage=tenant.brokerage, actor=tenant.owner, action="test.done")
        with pytest.raises(PermissionError):
            entry.save()
        with pytest.raises(PermissionError):
            entry.delete()
        with pytest.raises(PermissionError):
            AuditLog.objects.filter(pk=entry.pk).update(action="forged")
        with pytest.raises(PermissionError):
            AuditLog.objects.filter(pk=entry.pk).delete()

    def test_unscoped_tenant_query_fails_loudly(self, tenant):
        def outside_any_scope():
            return list(AuditLog.objects.all())

        with pytest.raises(ScopeError):
            contextvars.Context().run(outside_any_scope)

    def test_scope_limits_queries_to_one_brokerage(self, tenant, other_tenant):
        services.audit_record(brokerage=tenant.brokerage, actor=tenant.owner, action="mine")
        services.audit_record(brokerage=other_tenant.brokerage, actor=other_tenant.owner, action="theirs")

        def in_scope():
            with scope(brokerage=tenant.brokerage):
                return list(AuditLog.objects.values_list("action", flat=True))

        assert contextvars.Context().run(in_scope) == ["mine"]

    def test_audit_filters(self, tenant):
        services.audit_record(brokerage=tenant.brokerage, actor=tenant.owner, action="team.invited")
        services.audit_record(brokerage=tenant.brokerage, actor=tenant.agent, action="api_token.created")
        assert [e.action for e in selectors.audit_entries(tenant.brokerage, action="team")] == ["team.invited"]
        assert [e.action for e in selectors.audit_entries(tenant.brokerage, actor_id=tenant.agent.pk)] == [
            "api_token.created"]
        tomorrow = dt.date.today() + dt.timedelta(days=2)
        assert not selectors.audit_entries(tenant.brokerage, since=tomorrow).exists()
