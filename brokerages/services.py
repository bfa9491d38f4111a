"""Writes for brokerages: every one validates, runs in a transaction and leaves an audit entry."""

from collections.abc import Callable
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.text import slugify
from rest_framework.authtoken.models import Token

from . import settings_registry
from .models import AuditLog, BrandAsset, Brokerage, BrokerageSetting, Notification, Role, User
from .permissions import TENANT_ROLES, role_group_join, role_groups_sync
from .request_context import api_key_label, client_ip
from .uploads import check_document, check_image

PROFILE_FIELDS = ("name", "license_number", "rera_number", "address", "phone", "email", "website")


def audit_record(
    *,
    brokerage: Brokerage,
    actor: User | None,
    action: str,
    resource: Any = None,
    resource_type: str = "",
    details: dict | None = None,
) -> AuditLog:
    """Append one entry to the brokerage's audit log; the client's address, and the integration key of a
    key-authenticated API call (as `details["api_key"]`), come from the request context."""
    details = dict(details or {})
    if key := api_key_label.get():
        details["api_key"] = key
    if resource is not None:
        resource_type = resource_type or resource._meta.label_lower
        resource_id = str(resource.pk)
    else:
        resource_id = ""
    entry = AuditLog(
        brokerage=brokerage,
        actor=actor if actor is not None and actor.is_authenticated else None,
        action=action,
        resource_type=resource_type,
        resource_id=resource_id,
        details=details,
        ip_address=client_ip.get(),
    )
    entry.save()
    return entry


def permission_denied_record(*, user: User, method: str, path: str, view: str, details: dict | None = None) -> None:
    """One `permission.denied` entry in the member's brokerage log for a refusal they met (a page or API call
    answered 403, a socket refused): one INSERT. Visitors, and system admins (no brokerage), are not recorded."""
    if not user.is_authenticated or user.brokerage_id is None:
        return
    audit_record(brokerage=user.brokerage, actor=user, action="permission.denied", resource_type="request",
                 details={"method": method, "path": path[:300], "view": view, **(details or {})})


def apply_changes(instance, fields, data: dict, clean: Callable[[str, Any], Any] | None = None) -> dict:
    """Apply `data` to `instance` for the named fields (each value through `clean(field, value)` when given) and
    return {field: [old, new]} for those that changed. The caller saves and audits."""
    changed = {}
    for field in fields:
        if field not in data:
            continue
        value = clean(field, data[field]) if clean else data[field]
        if getattr(instance, field) != value:
            changed[field] = [getattr(instance, field), value]
            setattr(instance, field, value)
    return changed


def _unique_slug(name: str) -> str:
    base = slugify(name)[:70] or "brokerage"
    slug, n = base, 2
    while Brokerage.objects.filter(slug=slug).exists():
        slug, n = f"{base}-{n}", n + 1
    return slug


@transaction.atomic
def brokerage_create(
    *,
    actor: User | None,
    name: str,
    license_number: str,
    owner_email: str,
    owner_name: str = "",
    owner_password: str | None = None,
    slug: str = "",
    **profile: Any,
) -> Brokerage:
    """Create a brokerage with its role groups and its first owner.

    After: the brokerage exists with a unique slug, its groups hold the registry's permissions, the owner is in
    the owners' group, and the audit log records the creation. A taken licence number or slug, an e-mail that
    already has an account or a weak password raises ValidationError and nothing is stored.
    """
    owner_email = User.objects.normalize_email(owner_email).lower()
    if User.objects.filter(email__iexact=owner_email).exists():
        raise ValidationError({"owner_email": "This e-mail address already has an account."})
    brokerage = Brokerage(name=name, license_number=license_number, slug=slug or _unique_slug(name), **profile)
    brokerage.full_clean()
    brokerage.save()
    role_groups_sync(brokerage)
    owner = User(email=owner_email, full_name=owner_name, brokerage=brokerage, role=Role.BROKERAGE_OWNER)
    if owner_password:
        try:
            validate_password(owner_password, owner)
        except ValidationError as error:
            raise ValidationError({"owner_password": error.messages}) from None
        owner.set_password(owner_password)
    else:
        owner.set_unusable_password()
    owner.full_clean()
    owner.save()
    role_group_join(owner)
    audit_record(brokerage=brokerage, actor=actor, action="brokerage.created", resource=brokerage,
                 details={"name": name, "owner": owner_email})
    return brokerage


def _brokerage_save(brokerage: Brokerage, actor: User, action: str, changed: dict) -> Brokerage:
    if changed:
        brokerage.full_clean()
        brokerage.save()
        audit_record(brokerage=brokerage, actor=actor, action=action, resource=brokerage,
                     details={"changes": changed})
    return brokerage


@transaction.atomic
def brokerage_update_profile(*, brokerage: Brokerage, actor: User, data: dict) -> Brokerage:
    """Change the profile fields named in `data`; a taken licence number raises ValidationError."""
    brokerage = Brokerage.objects.select_for_update().get(pk=brokerage.pk)
    changed = apply_changes(brokerage, PROFILE_FIELDS, data)
    return _brokerage_save(brokerage, actor, "brokerage.profile_updated", changed)


@transaction.atomic
def brokerage_update_branding(
    *,
    brokerage: Brokerage,
    actor: User,
    primary_color: str,
    secondary_color: str,
    logo=None,
    remove_logo: bool = False,
) -> Brokerage:
    """Set the brand colours (#RRGGBB) and optionally replace or remove the logo (a checked image)."""
    brokerage = Brokerage.objects.select_for_update().get(pk=brokerage.pk)
    changed = apply_changes(brokerage, ("primary_color", "secondary_color"),
                       {"primary_color": primary_color.upper(), "secondary_color": secondary_color.upper()})
    brokerage.full_clean()  # bad colours are refused before a logo file is written
    if logo is not None:
        check_image(logo)
        brokerage.logo.save(logo.name, logo, save=False)
        changed["logo"] = ["", brokerage.logo.name]
    elif remove_logo and brokerage.logo:
        changed["logo"] = [brokerage.logo.name, ""]
        brokerage.logo = ""
    return _brokerage_save(brokerage, actor, "brokerage.branding_updated", changed)


@transaction.atomic
def settings_update(*, brokerage: Brokerage, actor: User, values: dict[str, Any]) -> dict[str, Any]:
    """Store several settings at once: every value is validated against the registry before any is written.

    Raises ValidationError keyed by setting for unknown keys and invalid values (nothing stored then).
    Returns {key: [old, new]} for the values that changed.
    """
    errors: dict[str, list[str]] = {}
    parsed = {}
    for key, raw in values.items():
        try:
            spec = settings_registry.get_spec(key)
            parsed[key] = (spec, spec.parse(raw))
        except ValidationError as error:
            errors[key] = error.messages
    if errors:
        raise ValidationError(errors)
    stored = {row.setting_key: row for row in BrokerageSetting.objects.select_for_update().filter(
        brokerage=brokerage, setting_key__in=list(parsed))}
    changed = {}
    for key, (spec, value) in parsed.items():
        row = stored.get(key)
        old = spec.load(row.setting_value) if row else spec.default
        if old == value and row is not None:
            continue
        if row is None:
            row = BrokerageSetting(brokerage=brokerage, setting_key=key, setting_type=spec.type)
        row.setting_value = spec.dump(value)
        row.setting_type = spec.type
        row.save()
        if old != value:
            changed[key] = [spec.dump(old), spec.dump(value)]
    if changed:
        audit_record(brokerage=brokerage, actor=actor, action="settings.updated", resource_type="settings",
                     details={"changes": changed})
    return changed


@transaction.atomic
def brand_asset_upload(
    *, brokerage: Brokerage, actor: User, asset_type: str, asset_name: str, file
) -> BrandAsset:
    """Store a checked brand asset: logos must be images of at most 2 MB, others PDFs or images of 10 MB."""
    if asset_type not in BrandAsset.AssetType.values:
        raise ValidationError({"asset_type": "Choose logo, template or brochure."})
    try:
        checked = check_image(file) if asset_type == BrandAsset.AssetType.LOGO else check_document(file)
    except ValidationError as error:
        raise ValidationError({"file": error.messages}) from None
    asset = BrandAsset(brokerage=brokerage, asset_type=asset_type, asset_name=asset_name.strip(),
                       content_type=checked.content_type, size_bytes=checked.size_bytes, uploaded_by=actor)
    asset.file.save(file.name, file, save=False)
    asset.full_clean()
    asset.save()
    audit_record(brokerage=brokerage, actor=actor, action="brand_asset.uploaded", resource=asset,
                 details={"name": asset.asset_name, "type": asset_type, "bytes": checked.size_bytes})
    return asset


@transaction.atomic
def brand_asset_set_active(*, brokerage: Brokerage, actor: User, asset: BrandAsset, active: bool) -> BrandAsset:
    if asset.is_active != active:
        asset.is_active = active
        asset.save(update_fields=["is_active"])
        audit_record(brokerage=brokerage, actor=actor,
                     action="brand_asset.activated" if active else "brand_asset.deactivated",
                     resource=asset, details={"name": asset.asset_name})
    return asset


def invitation_link(user: User) -> str:
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    return reverse("password_reset_confirm", kwargs={"uidb64": uid, "token": default_token_generator.make_token(user)})


@transaction.atomic
def team_invite(
    *,
    brokerage: Brokerage,
    actor: User,
    email: str,
    full_name: str,
    role: str = Role.AGENT,
    agent_license_number: str = "",
    hire_date=None,
    base_url: str = "",
) -> User:
    """Add a member with no password yet and e-mail them a link to set one (sent after commit).

    An address that already has an account, here or at another brokerage, raises ValidationError.
    """
    email = User.objects.normalize_email(email.strip()).lower()
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        where = "your team" if existing.brokerage_id == brokerage.pk else "another brokerage"
        raise ValidationError({"email": f"{email} already has an account in {where}."})
    if role not in TENANT_ROLES:
        raise ValidationError({"role": "Choose owner, agent or support staff."})
    member = User(email=email, full_name=full_name.strip(), brokerage=brokerage, role=role,
                  agent_license_number=agent_license_number.strip(), hire_date=hire_date)
    member.set_unusable_password()
    member.full_clean()
    member.save()
    role_group_join(member)
    audit_record(brokerage=brokerage, actor=actor, action="team.invited", resource=member,
                 details={"email": email, "role": role})
    link = base_url + invitation_link(member)
    body = render_to_string("brokerages/email/invitation.txt",
                            {"brokerage": brokerage, "member": member, "inviter": actor, "link": link})
    transaction.on_commit(lambda: send_mail(f"You're invited to {brokerage.name}", body, None, [email]))
    return member


def _owners_left_without(brokerage: Brokerage, member: User) -> int:
    return brokerage.members.filter(role=Role.BROKERAGE_OWNER, is_active=True).exclude(pk=member.pk).count()


@transaction.atomic
def team_member_change_role(*, brokerage: Brokerage, actor: User, member: User, role: str) -> User:
    """Give the member another role and the permissions that go with it; the last active owner stays owner."""
    if role not in TENANT_ROLES:
        raise ValidationError({"role": "Choose owner, agent or support staff."})
    member = User.objects.select_for_update().get(pk=member.pk, brokerage=brokerage)
    if role == member.role:
        return member
    if member.role == Role.BROKERAGE_OWNER and _owners_left_without(brokerage, member) == 0:
        raise ValidationError({"role": "A brokerage needs at least one active owner; make someone else owner first."})
    old = member.role
    member.role = role
    member.save(update_fields=["role"])
    role_group_join(member)
    audit_record(brokerage=brokerage, actor=actor, action="team.role_changed", resource=member,
                 details={"email": member.email, "changes": {"role": [old, role]}})
    return member


@transaction.atomic
def team_member_set_active(*, brokerage: Brokerage, actor: User, member: User, active: bool) -> User:
    """Deactivate (sign-in refused, history kept) or reactivate a member. Owners cannot deactivate themselves,
    nor the last active owner."""
    member = User.objects.select_for_update().get(pk=member.pk, brokerage=brokerage)
    if member.is_active == active:
        return member
    if not active:
        if member.pk == actor.pk:
            raise ValidationError("You cannot deactivate your own account.")
        if member.role == Role.BROKERAGE_OWNER and _owners_left_without(brokerage, member) == 0:
            raise ValidationError("A brokerage needs at least one active owner.")
    member.is_active = active
    member.save(update_fields=["is_active"])
    if not active:
        Token.objects.filter(user=member).delete()
    audit_record(brokerage=brokerage, actor=actor, action="team.reactivated" if active else "team.deactivated",
                 resource=member, details={"email": member.email})
    return member


@transaction.atomic
def team_member_update(
    *, brokerage: Brokerage, actor: User, member: User, role: str | None = None, active: bool | None = None
) -> User:
    """Change role and/or active state together: either both changes are stored or neither."""
    if role is not None:
        member = team_member_change_role(brokerage=brokerage, actor=actor, member=member, role=role)
    if active is not None:
        member = team_member_set_active(brokerage=brokerage, actor=actor, member=member, active=active)
    return member


@transaction.atomic
def api_token_create(*, user: User) -> Token:
    """Issue a new API token for the user, replacing any previous one (which stops working at once)."""
    Token.objects.filter(user=user).delete()
    token = Token.objects.create(user=user)
    if user.brokerage_id:
        audit_record(brokerage=user.brokerage, actor=user, action="api_token.created", resource=user,
                     details={"token_prefix": token.key[:6]})
    return token


@transaction.atomic
def api_token_revoke(*, user: User) -> bool:
    deleted, _ = Token.objects.filter(user=user).delete()
    if deleted and user.brokerage_id:
        audit_record(brokerage=user.brokerage, actor=user, action="api_token.revoked", resource=user)
    return bool(deleted)


def member_password_set(*, user: User, password: str, via: str) -> User:
    """Give a member the password a form has validated (`via`: "change" when they knew the old one, "link"
    from an invitation or reset e-mail). After: every session signed in before ends at its next request (Django
    checks each session against the password hash); the change is in the member's brokerage audit log."""
    user.set_password(password)
    user.save(update_fields=["password"])
    if user.brokerage_id:
        audit_record(brokerage=user.brokerage, actor=user, action="member.password_set", resource=user,
                     details={"via": via})
    return user


def notify(*, brokerage: Brokerage, recipient: User, kind: str, message: str, key: str, url: str = "") -> bool:
    """Leave an in-app notification for a member, once per `key`; True when it is new."""
    _, created = Notification.objects.get_or_create(
        recipient=recipient, key=key[:120],
        defaults={"brokerage": brokerage, "kind": kind, "message": message[:500], "url": url})
    return created
