"""The Django admin: where system admins (staff) work across brokerages.

The middleware disables tenant scoping for /admin/, so the querysets here see every brokerage. Writes go
through the brokerage services wherever one exists, so groups, permissions and the audit log stay what the
product would have produced; the audit log itself is read-only here.
"""

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db import models
from django.db.models import Count
from guardian.admin import GuardedModelAdmin

from . import services
from .forms_admin import (
    BrandAssetAddForm,
    BrokerageAddForm,
    BrokerageChangeForm,
    URL_FORMFIELD,
    BrokerageSettingForm,
    UserAddForm,
    UserChangeForm,
)
from .models import (
    ApiKey,
    AuditLog,
    BrandAsset,
    Brokerage,
    BrokerageGroupObjectPermission,
    BrokerageSetting,
    BrokerageUserObjectPermission,
    User,
)
from .permissions import role_group_join
from .services import PROFILE_FIELDS
from .settings_registry import REGISTRY


def _adopt(obj, saved) -> None:
    """Make the admin's unsaved instance the row a service stored, so the admin's redirect and log use it."""
    obj.pk = saved.pk
    obj.refresh_from_db()
    obj._state.adding = False


class ReadOnlyAdminMixin:
    """Lists and detail pages only: nothing is added, changed or deleted through the admin."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class MemberInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = User
    fk_name = "brokerage"
    fields = ("email", "full_name", "role", "performance_tier", "is_active", "last_login")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name = "member"
    verbose_name_plural = "members (edit a member on their own page)"


@admin.register(Brokerage)
class BrokerageAdmin(GuardedModelAdmin):
    """Brokerages. “Add” creates the brokerage with its owner through `brokerage_create`; “Object permissions”
    (guardian) shows and edits what each role group holds on it."""

    form = BrokerageChangeForm
    add_form = BrokerageAddForm
    formfield_overrides = {models.URLField: URL_FORMFIELD}
    list_display = ("name", "slug", "license_number", "rera_number", "members_count", "email", "phone",
                    "created_at")
    list_filter = ("created_at",)
    search_fields = ("name", "slug", "license_number", "rera_number", "email", "phone")
    readonly_fields = ("slug", "members_count", "created_at", "updated_at")
    ordering = ("name",)
    date_hierarchy = "created_at"
    inlines = (MemberInline,)
    fieldsets = (
        (None, {"fields": ("name", "slug", "license_number", "rera_number")}),
        ("Contact", {"fields": ("address", "phone", "email", "website")}),
        ("Branding", {"fields": ("logo", "primary_color", "secondary_color")}),
        ("Record", {"fields": ("members_count", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (None, {"fields": ("name", "license_number", "rera_number")}),
        ("Contact", {"fields": ("address", "phone", "email", "website")}),
        ("Branding", {"fields": ("primary_color", "secondary_color")}),
        ("Owner", {"fields": ("owner_email", "owner_name", "owner_password"),
                   "description": "The first owner of the brokerage; they can invite the rest of the team."}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(members_total=Count("members", distinct=True))

    @admin.display(description="Members", ordering="members_total")
    def members_count(self, obj) -> int:
        total = getattr(obj, "members_total", None)
        return obj.members.count() if total is None else total

    def get_fieldsets(self, request, obj=None):
        return self.add_fieldsets if obj is None else super().get_fieldsets(request, obj)

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def get_inlines(self, request, obj=None):
        return () if obj is None else self.inlines

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = self.add_form
        return super().get_form(request, obj, **kwargs)

    def save_model(self, request, obj, form, change):
        if not change:
            brokerage = services.brokerage_create(
                actor=request.user, name=form.cleaned_data["name"],
                license_number=form.cleaned_data["license_number"], **form.service_kwargs(),
            )
            _adopt(obj, brokerage)
            return
        # The services re-read the row, so they compare against what is stored, not the form-modified `obj`.
        services.brokerage_update_profile(
            brokerage=obj, actor=request.user, data={name: form.cleaned_data[name] for name in PROFILE_FIELDS}
        )
        services.brokerage_update_branding(
            brokerage=obj, actor=request.user, primary_color=form.cleaned_data["primary_color"],
            secondary_color=form.cleaned_data["secondary_color"], logo=form.new_logo(),
            remove_logo=form.logo_cleared(),
        )
        obj.refresh_from_db()


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """People of every brokerage and the system admins. Saving puts the user in the role group of their
    brokerage (and out of the old brokerage's groups when moved); role, brokerage and activation changes are
    recorded in the brokerage's audit log."""

    form = UserChangeForm
    add_form = UserAddForm
    list_display = ("email", "full_name", "brokerage", "role", "performance_tier", "is_active", "is_staff",
                    "last_login")
    list_filter = ("role", "performance_tier", "is_active", "is_staff", "is_superuser", "brokerage")
    list_select_related = ("brokerage",)
    search_fields = ("email", "full_name", "agent_license_number", "brokerage__name")
    ordering = ("email",)
    filter_horizontal = ("groups",)
    readonly_fields = ("last_login", "date_joined")
    autocomplete_fields = ("brokerage",)
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        ("Person", {"fields": ("full_name",)}),
        ("Brokerage", {"fields": ("brokerage", "role", "agent_license_number", "hire_date", "performance_tier")}),
        ("Access", {"fields": ("is_active", "is_staff", "is_superuser", "groups"),
                    "description": "Role groups (brokerage-<id>-<role>) follow the role and brokerage on save."}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = (
        (None, {"classes": ("wide",),
                "fields": ("email", "full_name", "brokerage", "role", "usable_password", "password1", "password2")}),
    )

    def save_related(self, request, form, formsets, change):
        # After the form's m2m save, which would otherwise overwrite the role group with the submitted groups.
        super().save_related(request, form, formsets, change)
        user = form.instance
        if change and not {"role", "brokerage", "groups"} & set(form.changed_data):
            self._audit_activation(request, form, user)
            return
        old_brokerage = self._old_brokerage(form) if change else None
        role_group_join(user)
        self._audit_membership(request, form, user, change, old_brokerage)
        self._audit_activation(request, form, user)

    @staticmethod
    def _old_brokerage(form) -> Brokerage | None:
        old_id = form.initial.get("brokerage")
        return Brokerage.objects.filter(pk=old_id).first() if old_id else None

    @staticmethod
    def _audit_membership(request, form, user: User, change: bool, old_brokerage: Brokerage | None) -> None:
        base = {"email": user.email, "via": "admin"}
        if not change:
            if user.brokerage_id:
                services.audit_record(brokerage=user.brokerage, actor=request.user, action="team.member_added",
                                      resource=user, details={**base, "role": user.role})
            return
        moved = (old_brokerage.pk if old_brokerage else None) != user.brokerage_id
        if moved:
            details = {**base, "from": str(old_brokerage or ""), "to": str(user.brokerage or ""), "role": user.role}
            for brokerage in {b for b in (old_brokerage, user.brokerage) if b is not None}:
                services.audit_record(brokerage=brokerage, actor=request.user, action="team.member_moved",
                                      resource=user, details=details)
        elif "role" in form.changed_data and user.brokerage_id:
            services.audit_record(brokerage=user.brokerage, actor=request.user, action="team.role_changed",
                                  resource=user,
                                  details={**base, "changes": {"role": [form.initial.get("role"), user.role]}})

    @staticmethod
    def _audit_activation(request, form, user: User) -> None:
        if "is_active" in form.changed_data and user.brokerage_id and form.initial:
            services.audit_record(brokerage=user.brokerage, actor=request.user,
                                  action="team.reactivated" if user.is_active else "team.deactivated",
                                  resource=user, details={"email": user.email, "via": "admin"})


@admin.register(BrokerageSetting)
class BrokerageSettingAdmin(admin.ModelAdmin):
    """Stored values of the settings registry; a setting with no row reads as its default. Saving goes through
    `settings_update`, which validates against the registry and audits; deleting a row restores the default."""

    form = BrokerageSettingForm
    list_display = ("setting_key", "brokerage", "setting_value", "setting_type", "registry_default", "updated_at")
    list_filter = ("setting_key", "setting_type", "brokerage")
    list_select_related = ("brokerage",)
    search_fields = ("setting_key", "setting_value", "brokerage__name", "brokerage__slug")
    ordering = ("brokerage__name", "setting_key")
    autocomplete_fields = ("brokerage",)

    @admin.display(description="Default")
    def registry_default(self, obj) -> str:
        spec = REGISTRY.get(obj.setting_key)
        return spec.dump(spec.default) if spec else "(not in the registry)"

    @admin.display(description="About")
    def registry_help(self, obj) -> str:
        spec = REGISTRY.get(obj.setting_key)
        if spec is None:
            return "This key is no longer in the registry; the product ignores it."
        choices = f" Choices: {', '.join(key for key, _ in spec.choices)}." if spec.choices else ""
        return f"{spec.label} ({spec.type}, default {spec.dump(spec.default)}). {spec.help_text}{choices}"

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("brokerage", "setting_key", "setting_value")
        return ("brokerage", "setting_key", "registry_help", "setting_value", "setting_type", "updated_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("brokerage", "setting_key", "registry_help", "setting_type", "updated_at")

    def save_model(self, request, obj, form, change):
        services.settings_update(brokerage=obj.brokerage, actor=request.user,
                                 values={obj.setting_key: form.cleaned_data["setting_value"]})
        _adopt(obj, BrokerageSetting.objects.get(brokerage=obj.brokerage, setting_key=obj.setting_key))


@admin.register(BrandAsset)
class BrandAssetAdmin(admin.ModelAdmin):
    """Brand assets. Uploads go through `brand_asset_upload` (content checks, audit); afterwards only the
    active flag changes (`brand_asset_set_active`)."""

    list_display = ("asset_name", "brokerage", "asset_type", "content_type", "size_bytes", "is_active",
                    "uploaded_by", "created_at")
    list_filter = ("asset_type", "is_active", "brokerage")
    list_select_related = ("brokerage", "uploaded_by")
    search_fields = ("asset_name", "brokerage__name", "uploaded_by__email")
    date_hierarchy = "created_at"
    autocomplete_fields = ("brokerage",)
    change_readonly = ("brokerage", "asset_type", "asset_name", "file", "content_type", "size_bytes",
                       "uploaded_by", "created_at")

    def get_form(self, request, obj=None, **kwargs):
        if obj is None:
            kwargs["form"] = BrandAssetAddForm
        return super().get_form(request, obj, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("brokerage", "asset_type", "asset_name", "file")
        return self.change_readonly[:4] + ("is_active",) + self.change_readonly[4:]

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.change_readonly

    def save_model(self, request, obj, form, change):
        if not change:
            asset = services.brand_asset_upload(
                brokerage=form.cleaned_data["brokerage"], actor=request.user,
                asset_type=form.cleaned_data["asset_type"], asset_name=form.cleaned_data["asset_name"],
                file=form.cleaned_data["file"],
            )
            _adopt(obj, asset)
            return
        # A fresh copy: `obj` already carries the submitted flag, so the service would see no change.
        stored = BrandAsset.objects.select_related("brokerage").get(pk=obj.pk)
        services.brand_asset_set_active(brokerage=stored.brokerage, actor=request.user, asset=stored,
                                        active=form.cleaned_data["is_active"])
        obj.refresh_from_db()


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """The append-only audit log of every brokerage: nothing can be added, changed or deleted."""

    list_display = ("created_at", "brokerage", "action", "actor", "resource_type", "resource_id", "ip_address")
    list_filter = ("brokerage", "action", "resource_type")
    list_select_related = ("brokerage", "actor")
    search_fields = ("action", "resource_type", "resource_id", "actor__email", "brokerage__name")
    date_hierarchy = "created_at"
    readonly_fields = ("created_at", "brokerage", "actor", "action", "resource_type", "resource_id", "details",
                       "ip_address")
    fields = readonly_fields

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Every brokerage's integration keys, for reading (owners create and revoke them on their API keys page).
    The key's hash is left out: it is of no use to a person and need not travel."""

    list_display = ("name", "prefix", "brokerage", "created_by", "created_at", "last_used_at", "expires_at",
                    "revoked_at")
    list_filter = ("brokerage",)
    list_select_related = ("brokerage", "created_by")
    search_fields = ("name", "prefix", "brokerage__name")
    readonly_fields = ("brokerage", "name", "prefix", "scopes", "created_by", "created_at", "last_used_at",
                       "expires_at", "revoked_at")
    fields = readonly_fields


class ObjectPermissionAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Guardian's direct-FK rows, for reading. Grant or revoke on a brokerage's “Object permissions” page."""

    list_select_related = ("content_object", "permission")
    list_filter = ("content_object", ("permission", admin.RelatedOnlyFieldListFilter))
    ordering = ("content_object__name", "permission__codename")

    @admin.display(description="Permission", ordering="permission__codename")
    def codename(self, obj) -> str:
        return obj.permission.codename


@admin.register(BrokerageUserObjectPermission)
class BrokerageUserObjectPermissionAdmin(ObjectPermissionAdmin):
    list_display = ("content_object", "user", "codename")
    list_select_related = ObjectPermissionAdmin.list_select_related + ("user",)
    search_fields = ("user__email", "permission__codename", "content_object__name")


@admin.register(BrokerageGroupObjectPermission)
class BrokerageGroupObjectPermissionAdmin(ObjectPermissionAdmin):
    list_display = ("content_object", "group", "codename")
    list_select_related = ObjectPermissionAdmin.list_select_related + ("group",)
    search_fields = ("group__name", "permission__codename", "content_object__name")
