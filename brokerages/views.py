"""Pages for owners (profile, settings, branding, team, compliance) and for every member (dashboard, account)."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from . import selectors, services
from .forms import (
    AuditFilterForm,
    BrandAssetForm,
    BrandingForm,
    BrokerageProfileForm,
    InviteForm,
    PasswordChangeForm,
    RoleForm,
    SetPasswordForm,
    SettingsForm,
)
from .permissions import request_perms
from .web import form_error, tenant_view

AUDIT_PAGE_SIZE = 50


@tenant_view("view_brokerage")
def home(request):
    context = {}
    if "view_audit_log" in request_perms(request):
        context["recent_entries"] = selectors.audit_entries(request.brokerage)[:8]
        context["team_size"] = selectors.team_members(request.brokerage).filter(is_active=True).count()
    return render(request, "brokerages/home.html", context)


@tenant_view("manage_brokerage")
def profile(request):
    form = BrokerageProfileForm(request.POST or None, instance=request.brokerage)
    if request.method == "POST" and form.is_valid():
        try:
            services.brokerage_update_profile(brokerage=request.brokerage, actor=request.user, data=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Brokerage profile saved.")
            return redirect("brokerages:profile")
    return render(request, "brokerages/profile.html", {"form": form})


@tenant_view("manage_brokerage")
def settings_page(request):
    form = SettingsForm(request.POST or None, current=selectors.settings_values(request.brokerage))
    if request.method == "POST" and form.is_valid():
        try:
            changed = services.settings_update(brokerage=request.brokerage, actor=request.user,
                                               values=form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"Settings saved ({len(changed)} changed).")
            return redirect("brokerages:settings")
    return render(request, "brokerages/settings.html", {"form": form})


@tenant_view("manage_brokerage")
def branding(request):
    brokerage = request.brokerage
    form = BrandingForm(request.POST or None, request.FILES or None, initial={
        "primary_color": brokerage.primary_color, "secondary_color": brokerage.secondary_color})
    if request.method == "POST" and form.is_valid():
        try:
            services.brokerage_update_branding(brokerage=brokerage, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, "Branding saved and applied.")
            return redirect("brokerages:branding")
    return render(request, "brokerages/branding.html", {
        "form": form, "asset_form": BrandAssetForm(), "assets": selectors.brand_assets(brokerage)})


@tenant_view("manage_brokerage")
@require_POST
def brand_asset_upload(request):
    form = BrandAssetForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.brand_asset_upload(brokerage=request.brokerage, actor=request.user, **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            form = BrandAssetForm()
    return render(request, "brokerages/branding.html#assets", {
        "asset_form": form, "assets": selectors.brand_assets(request.brokerage)})


@tenant_view("manage_brokerage", lookup=selectors.brand_asset_get)
@require_POST
def brand_asset_toggle(request, obj):
    asset = obj
    services.brand_asset_set_active(brokerage=request.brokerage, actor=request.user, asset=asset,
                                    active=not asset.is_active)
    return render(request, "brokerages/branding.html#asset_row", {"asset": asset})


def _team_context(request, invite_form=None) -> dict:
    return {"members": selectors.team_members(request.brokerage), "invite_form": invite_form or InviteForm(),
            "role_form": RoleForm()}


@tenant_view("manage_brokerage")
def team(request):
    return render(request, "brokerages/team.html", _team_context(request))


@tenant_view("manage_brokerage")
@require_POST
def team_invite(request):
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            member = services.team_invite(brokerage=request.brokerage, actor=request.user,
                                          base_url=request.build_absolute_uri("/")[:-1], **form.cleaned_data)
        except ValidationError as error:
            form_error(form, error)
        else:
            messages.success(request, f"Invitation sent to {member.email}.")
            form = None
    return render(request, "brokerages/team.html#team", _team_context(request, form))


def _member_row(request, member, error: ValidationError | None = None):
    return render(request, "brokerages/team.html#member_row", {
        "member": member, "role_form": RoleForm(), "row_error": " ".join(error.messages) if error else ""})


@tenant_view("manage_brokerage", lookup=selectors.team_member_get)
@require_POST
def team_member_role(request, obj):
    member = obj
    form = RoleForm(request.POST)
    if not form.is_valid():
        return _member_row(request, member, ValidationError("Choose owner, agent or support staff."))
    try:
        member = services.team_member_change_role(brokerage=request.brokerage, actor=request.user, member=member,
                                                  role=form.cleaned_data["role"])
    except ValidationError as error:
        return _member_row(request, member, error)
    return _member_row(request, member)


@tenant_view("manage_brokerage", lookup=selectors.team_member_get)
@require_POST
def team_member_active(request, obj):
    member = obj
    try:
        member = services.team_member_set_active(brokerage=request.brokerage, actor=request.user, member=member,
                                                 active=request.POST.get("active") == "1")
    except ValidationError as error:
        return _member_row(request, member, error)
    return _member_row(request, member)


@tenant_view("view_audit_log")
def audit_log(request):
    brokerage = request.brokerage
    form = AuditFilterForm(request.GET or None, actions=selectors.audit_action_choices(brokerage),
                           members=selectors.team_members(brokerage))
    filters = {}
    if form.is_bound and form.is_valid():
        filters = {"action": form.cleaned_data["action"], "actor_id": form.cleaned_data["actor"],
                   "since": form.cleaned_data["since"], "until": form.cleaned_data["until"]}
    page = Paginator(selectors.audit_entries(brokerage, **filters), AUDIT_PAGE_SIZE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    template = "brokerages/audit_log.html#entries" if request.htmx and not request.htmx.boosted else \
        "brokerages/audit_log.html"
    return render(request, template, context)


@tenant_view("view_brokerage")
def account(request):
    token = Token.objects.filter(user=request.user).first()
    return render(request, "brokerages/account.html", {"token": token, "new_key": None})


@tenant_view("view_brokerage")
@require_POST
def account_token_create(request):
    token = services.api_token_create(user=request.user)
    return render(request, "brokerages/account.html#token", {"token": token, "new_key": token.key})


@tenant_view("view_brokerage")
@require_POST
def account_token_revoke(request):
    services.api_token_revoke(user=request.user)
    return render(request, "brokerages/account.html#token", {"token": None, "new_key": None})


class PasswordChangeView(auth_views.PasswordChangeView):
    """The signed-in member's own password: this session stays signed in, every other one ends."""

    form_class = PasswordChangeForm
    template_name = "registration/password_change.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form):
        response = super().form_valid(form)
        messages.success(self.request, "Password changed. You are still signed in here; any other signed-in "
                                       "browser or device has been signed out.")
        return response


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link of an invitation or a reset e-mail: choose a password."""

    form_class = SetPasswordForm
