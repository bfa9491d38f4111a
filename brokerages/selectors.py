"""Reads for brokerages. Each takes the tenant explicitly."""

import datetime as dt
from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from django_scopes import scopes_disabled

from . import settings_registry
from .models import AuditLog, BrandAsset, Brokerage, BrokerageSetting, User


def team_members(brokerage: Brokerage) -> QuerySet[User]:
    return User.objects.filter(brokerage=brokerage).order_by("-is_active", "role", "full_name", "email")


def team_member_get(brokerage: Brokerage, pk: int) -> User:
    """The member of this brokerage with this id; anyone else's id answers 404."""
    return get_object_or_404(User, pk=pk, brokerage=brokerage)


def brand_assets(brokerage: Brokerage) -> QuerySet[BrandAsset]:
    return BrandAsset.objects.filter(brokerage=brokerage).select_related("uploaded_by")


def brand_asset_get(brokerage: Brokerage, pk: int) -> BrandAsset:
    return get_object_or_404(BrandAsset, pk=pk, brokerage=brokerage)


def settings_values(brokerage: Brokerage) -> dict[str, Any]:
    """Every registry key with the brokerage's typed value, or the default where none is stored."""
    stored = dict(
        BrokerageSetting.objects.filter(brokerage=brokerage).values_list("setting_key", "setting_value")
    )
    return {
        spec.key: spec.load(stored[spec.key]) if spec.key in stored else spec.default
        for spec in settings_registry.SETTINGS
    }


def setting_value(brokerage: Brokerage, key: str) -> Any:
    spec = settings_registry.get_spec(key)
    stored = (
        BrokerageSetting.objects.filter(brokerage=brokerage, setting_key=key)
        .values_list("setting_value", flat=True)
        .first()
    )
    return spec.default if stored is None else spec.load(stored)


def audit_entries(
    brokerage: Brokerage,
    *,
    action: str = "",
    actor_id: int | None = None,
    resource_type: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditLog]:
    """The brokerage's audit log, newest first, narrowed by the given filters (dates inclusive)."""
    entries = AuditLog.objects.filter(brokerage=brokerage).select_related("actor")
    if action:
        entries = entries.filter(action__startswith=action)
    if actor_id:
        entries = entries.filter(actor_id=actor_id)
    if resource_type:
        entries = entries.filter(resource_type=resource_type)
    if since:
        entries = entries.filter(created_at__date__gte=since)
    if until:
        entries = entries.filter(created_at__date__lte=until)
    return entries


def audit_action_choices(brokerage: Brokerage) -> list[str]:
    return list(
        AuditLog.objects.filter(brokerage=brokerage).order_by("action").values_list("action", flat=True).distinct()
    )


def brokerage_id_of(model, pk: int) -> int | None:
    """The brokerage of one tenant row, read outside any scope: how a task, which has no request, finds the
    scope to work in. None when the row is gone (deleted after the task was queued)."""
    with scopes_disabled():
        return model.objects.filter(pk=pk).values_list("brokerage_id", flat=True).first()
