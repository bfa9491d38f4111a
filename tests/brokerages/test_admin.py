import datetime as dt
from io import StringIO

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.test import RequestFactory
from django.urls import reverse

from brokerages.models import (
    AuditLog,
    BrandAsset,
    Brokerage,
    BrokerageGroupObjectPermission,
    BrokerageSetting,
    BrokerageUserObjectPermission,
    Role,
    User,
)
from brokerages.permissions import role_group_name
from tests.images import png_bytes

ADMIN_PASSWORD = "Admin-Password-2026"




@pytest.fixture
def superuser(db) -> User:
    return User.objects.create_superuser("root@platform.test", ADMIN_PASSWORD, full_name="Root")


@pytest.fixture
def staff_client(client, superuser):
    client.force_login(superuser)
    return client


@pytest.fixture
def seeded(db):
    call_command("seed_demo", stdout=StringIO())


def url(model, view: str, *args) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def unbound_form_data(form) -> dict:
    """What a browser would post back for an untouched form: each field's current value."""
    data = {}
    for name, field in form.fields.items():
        if field.disabled:
            continue
        value = form[name].value()
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                data[name] = "on"
        elif isinstance(value, list | tuple):
            data[name] = [str(getattr(item, "pk", item)) for item in value]
        elif isinstance(value, dt.date):
            data[name] = value.isoformat()
        else:
            data[name] = str(value)
    return data


def change_form_data(client, change_url: str) -> dict:
    """The change page's form as posted unchanged, with the management forms of its inlines."""
    response = client.get(change_url)
    assert response.status_code == 200
    data = unbound_form_data(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        management = inline.formset.management_form
        for name in management.fields:
            data[management.add_prefix(name)] = management[name].value()
    return data


@pytest.mark.django_db
def test_every_registered_model_has_working_admin_pages(staff_client, superuser, seeded):
    request = RequestFactory().get("/admin/")
    request.user = superuser
    for model, model_admin in admin.site._registry.items():
        name = model._meta.label
        assert staff_client.get(url(model, "changelist")).status_code == 200, name
        if model_admin.search_fields:
            assert staff_client.get(url(model, "changelist"), {"q": "palm"}).status_code == 200, name
        expected_add = 200 if model_admin.has_add_permission(request) else 403
        assert staff_client.get(url(model, "add")).status_code == expected_add, name
        first = model_admin.get_queryset(request).first()
        if first is not None:
            assert staff_client.get(url(model, "change", first.pk)).status_code == 200, name


@pytest.mark.django_db
def test_brokerage_models_are_all_registered():
    for model in (Brokerage, User, BrokerageSetting, BrandAsset, AuditLog, BrokerageUserObjectPermission,
                  BrokerageGroupObjectPermission):
        assert admin.site.is_registered(model)


@pytest.mark.django_db
def test_audit_log_list_filters_and_date_hierarchy(staff_client, seeded):
    palm = Brokerage.objects.get(slug="palm-crest")
    changelist = url(AuditLog, "changelist")
    today = AuditLog.objects.first().created_at
    for query in ({"brokerage__id__exact": palm.pk}, {"action": "brokerage.created"},
                  {"resource_type": "settings"}, {"created_at__year": today.year}):
        response = staff_client.get(changelist, query)
        assert response.status_code == 200, query
    response = staff_client.get(changelist, {"action": "brokerage.created"})
    assert response.context["cl"].result_count == 2


@pytest.mark.django_db
def test_staff_create_a_brokerage_with_its_owner(staff_client, superuser):
    response = staff_client.post(url(Brokerage, "add"), {
        "name": "Dune Ridge Estates",
        "license_number": "ORN-55501",
        "rera_number": "RERA-55501",
        "address": "Office 301, Al Quoz, Dubai",
        "phone": "+971 4 555 0199",
        "email": "hello@duneridge.ae",
        "website": "https://duneridge.ae",
        "primary_color": "#224466",
        "secondary_color": "#aa8800",
        "owner_email": "Owner@DuneRidge.ae",
        "owner_name": "Salma Karim",
        "owner_password": "Saffron-Lantern-47",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors

    brokerage = Brokerage.objects.get(license_number="ORN-55501")
    assert brokerage.slug == "dune-ridge-estates"
    assert brokerage.secondary_color == "#AA8800"
    owner = User.objects.get(email="owner@duneridge.ae")
    assert owner.brokerage == brokerage and owner.role == Role.BROKERAGE_OWNER
    assert owner.full_name == "Salma Karim" and owner.check_password("Saffron-Lantern-47")
    assert owner.groups.filter(name=role_group_name(brokerage, Role.BROKERAGE_OWNER)).exists()
    assert owner.has_perm("brokerages.manage_brokerage", brokerage)
    entry = AuditLog.objects.get(brokerage=brokerage, action="brokerage.created")
    assert entry.actor == superuser
    assert response["Location"] == url(Brokerage, "changelist")


@pytest.mark.django_db
def test_brokerage_add_without_password_and_with_a_taken_email(staff_client, tenant):
    data = {"name": "Creek View Homes", "license_number": "ORN-60001", "primary_color": "#112233",
            "secondary_color": "#445566", "owner_email": tenant.agent.email}
    response = staff_client.post(url(Brokerage, "add"), data)
    assert response.status_code == 200
    assert "owner_email" in response.context["adminform"].form.errors
    assert not Brokerage.objects.filter(license_number="ORN-60001").exists()

    response = staff_client.post(url(Brokerage, "add"), {**data, "owner_email": "owner@creekview.ae",
                                                          "owner_password": "short"})
    assert response.status_code == 200
    assert "owner_password" in response.context["adminform"].form.errors

    response = staff_client.post(url(Brokerage, "add"), {**data, "owner_email": "owner@creekview.ae"})
    assert response.status_code == 302
    owner = User.objects.get(email="owner@creekview.ae")
    assert not owner.has_usable_password()


@pytest.mark.django_db
def test_brokerage_change_goes_through_the_services(staff_client, tenant):
    change_url = url(Brokerage, "change", tenant.brokerage.pk)
    data = change_form_data(staff_client, change_url)
    data.update(name="Palm Crest Realty LLC", primary_color="#0b4f6c")
    response = staff_client.post(change_url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.name == "Palm Crest Realty LLC"
    assert tenant.brokerage.primary_color == "#0B4F6C"
    actions = set(AuditLog.objects.filter(brokerage=tenant.brokerage).values_list("action", flat=True))
    assert {"brokerage.profile_updated", "brokerage.branding_updated"} <= actions


@pytest.mark.django_db
def test_brokerage_logo_is_checked_and_stored_through_the_service(staff_client, tenant):
    change_url = url(Brokerage, "change", tenant.brokerage.pk)
    data = change_form_data(staff_client, change_url)
    data.pop("logo", None)
    response = staff_client.post(change_url, {**data, "logo": SimpleUploadedFile("logo.png", b"GIF89a-not-really")})
    assert response.status_code == 200
    assert "logo" in response.context["adminform"].form.errors

    response = staff_client.post(change_url, {**data, "logo": SimpleUploadedFile("logo.png", png_bytes())})
    assert response.status_code == 302, response.context["adminform"].form.errors
    tenant.brokerage.refresh_from_db()
    assert tenant.brokerage.logo.name.startswith("brokerages/logos/")
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="brokerage.branding_updated")
    assert "logo" in entry.details["changes"]


@pytest.mark.django_db
def test_brokerage_object_permissions_page(staff_client, tenant):
    response = staff_client.get(url(Brokerage, "permissions", tenant.brokerage.pk))
    assert response.status_code == 200
    assert role_group_name(tenant.brokerage, Role.AGENT).encode() in response.content


@pytest.mark.django_db
def test_user_admin_adds_a_member_into_their_role_group(staff_client, tenant):
    response = staff_client.post(url(User, "add"), {
        "email": "New.Agent@Example.test",
        "full_name": "New Agent",
        "brokerage": tenant.brokerage.pk,
        "role": Role.AGENT,
        "usable_password": "true",
        "password1": "Fresh-Agent-Pass-1",
        "password2": "Fresh-Agent-Pass-1",
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    user = User.objects.get(email="new.agent@example.test")
    assert user.check_password("Fresh-Agent-Pass-1")
    assert list(user.groups.values_list("name", flat=True)) == [role_group_name(tenant.brokerage, Role.AGENT)]
    assert user.has_perm("brokerages.view_knowledge_base", tenant.brokerage)
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="team.member_added",
                                   resource_id=str(user.pk)).exists()


@pytest.mark.django_db
def test_user_admin_refuses_a_tenant_role_without_brokerage(staff_client):
    response = staff_client.post(url(User, "add"), {
        "email": "floating@example.test", "role": Role.AGENT, "usable_password": "false",
    })
    assert response.status_code == 200
    assert "brokerage" in response.context["adminform"].form.errors
    assert not User.objects.filter(email="floating@example.test").exists()


@pytest.mark.django_db
def test_user_admin_role_change_moves_the_user_to_the_role_group(staff_client, tenant, superuser):
    change_url = url(User, "change", tenant.agent.pk)
    data = change_form_data(staff_client, change_url)
    data["role"] = Role.SUPPORT_STAFF
    response = staff_client.post(change_url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    agent = User.objects.get(pk=tenant.agent.pk)
    assert agent.role == Role.SUPPORT_STAFF
    assert list(agent.groups.values_list("name", flat=True)) == [
        role_group_name(tenant.brokerage, Role.SUPPORT_STAFF)]
    assert agent.has_perm("brokerages.view_team_performance", tenant.brokerage)
    assert not agent.has_perm("brokerages.use_workflow_automation", tenant.brokerage)
    entry = AuditLog.objects.get(brokerage=tenant.brokerage, action="team.role_changed")
    assert entry.actor == superuser and entry.details["changes"]["role"] == [Role.AGENT, Role.SUPPORT_STAFF]


@pytest.mark.django_db
def test_user_admin_brokerage_move_leaves_the_old_groups(staff_client, tenant, other_tenant):
    change_url = url(User, "change", tenant.agent.pk)
    data = change_form_data(staff_client, change_url)
    data["brokerage"] = other_tenant.brokerage.pk
    response = staff_client.post(change_url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors

    agent = User.objects.get(pk=tenant.agent.pk)
    assert list(agent.groups.values_list("name", flat=True)) == [
        role_group_name(other_tenant.brokerage, Role.AGENT)]
    assert not agent.has_perm("brokerages.view_knowledge_base", tenant.brokerage)
    assert agent.has_perm("brokerages.view_knowledge_base", other_tenant.brokerage)
    for brokerage in (tenant.brokerage, other_tenant.brokerage):
        assert AuditLog.objects.filter(brokerage=brokerage, action="team.member_moved").exists()


@pytest.mark.django_db
def test_user_admin_keeps_the_role_group_when_groups_are_edited(staff_client, tenant):
    extra = Group.objects.create(name="newsletter")
    change_url = url(User, "change", tenant.agent.pk)
    data = change_form_data(staff_client, change_url)
    data["groups"] = [str(extra.pk)]  # the role group unticked by mistake
    response = staff_client.post(change_url, data)
    assert response.status_code == 302

    names = set(User.objects.get(pk=tenant.agent.pk).groups.values_list("name", flat=True))
    assert names == {"newsletter", role_group_name(tenant.brokerage, Role.AGENT)}


@pytest.mark.django_db
def test_setting_admin_saves_through_the_registry(staff_client, tenant):
    add_url = url(BrokerageSetting, "add")
    response = staff_client.post(add_url, {"brokerage": tenant.brokerage.pk, "setting_key": "forgotten_lead_days",
                                           "setting_value": "999"})
    assert response.status_code == 200
    assert "setting_value" in response.context["adminform"].form.errors

    response = staff_client.post(add_url, {"brokerage": tenant.brokerage.pk, "setting_key": "forgotten_lead_days",
                                           "setting_value": " 12 "})
    assert response.status_code == 302
    setting = BrokerageSetting.objects.get(brokerage=tenant.brokerage, setting_key="forgotten_lead_days")
    assert (setting.setting_value, setting.setting_type) == ("12", "int")
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="settings.updated").count() == 1

    change_url = url(BrokerageSetting, "change", setting.pk)
    response = staff_client.post(change_url, {"setting_value": "20"})
    assert response.status_code == 302
    setting.refresh_from_db()
    assert setting.setting_value == "20"
    assert BrokerageSetting.objects.filter(brokerage=tenant.brokerage).count() == 1


@pytest.mark.django_db
def test_brand_asset_admin_uploads_through_the_service(staff_client, tenant, superuser):
    response = staff_client.post(url(BrandAsset, "add"), {
        "brokerage": tenant.brokerage.pk, "asset_type": BrandAsset.AssetType.LOGO, "asset_name": "Main logo",
        "file": SimpleUploadedFile("logo.png", png_bytes(), content_type="image/png"),
    })
    assert response.status_code == 302, response.context["adminform"].form.errors
    asset = BrandAsset.objects.get(brokerage=tenant.brokerage)
    assert (asset.content_type, asset.uploaded_by) == ("image/png", superuser)
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="brand_asset.uploaded").exists()

    response = staff_client.post(url(BrandAsset, "add"), {
        "brokerage": tenant.brokerage.pk, "asset_type": BrandAsset.AssetType.LOGO, "asset_name": "Fake",
        "file": SimpleUploadedFile("logo.png", b"not an image", content_type="image/png"),
    })
    assert response.status_code == 200
    assert "file" in response.context["adminform"].form.errors

    response = staff_client.post(url(BrandAsset, "change", asset.pk), {})  # is_active unticked
    assert response.status_code == 302
    asset.refresh_from_db()
    assert not asset.is_active
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="brand_asset.deactivated").exists()


@pytest.mark.django_db
def test_audit_log_admin_is_read_only(staff_client, tenant):
    entry = AuditLog.objects.create(brokerage=tenant.brokerage, action="test.entry", resource_type="test")
    assert staff_client.get(url(AuditLog, "add")).status_code == 403
    assert staff_client.post(url(AuditLog, "add"), {"action": "forged"}).status_code == 403
    assert staff_client.get(url(AuditLog, "change", entry.pk)).status_code == 200  # view only
    assert staff_client.post(url(AuditLog, "change", entry.pk), {"action": "forged"}).status_code == 403
    assert staff_client.get(url(AuditLog, "delete", entry.pk)).status_code == 403
    assert staff_client.post(url(AuditLog, "delete", entry.pk), {"post": "yes"}).status_code == 403
    response = staff_client.post(url(AuditLog, "changelist"),
                                 {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"})
    assert response.status_code in (200, 302, 403)
    entry = AuditLog.objects.get(pk=entry.pk)
    assert entry.action == "test.entry"


@pytest.mark.django_db
def test_non_staff_are_sent_to_the_admin_login(client, tenant):
    client.force_login(tenant.owner)
    for path in (reverse("admin:index"), url(Brokerage, "changelist"), url(AuditLog, "changelist")):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
