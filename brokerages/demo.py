"""Deterministic demo data: two Dubai brokerages, their people and a platform admin, all sharing one password.

`seed()` is idempotent: it looks rows up by slug, licence number and e-mail, writes only what differs from the
canonical demo values, and goes through the brokerage services so groups, permissions and the audit log are
exactly what a real sign-up would produce. Randomness comes from one `random.Random(2026)` drawn in a fixed
order, so every run derives the same licence numbers, tiers and hire dates (hire dates count back from today).
"""

import datetime as dt
import importlib
import random
from dataclasses import dataclass, field
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.core.management.base import CommandError
from django.db import transaction
from django.utils import timezone
from django_scopes import scope, scopes_disabled

from . import services
from .models import Brokerage, PerformanceTier, Role, User
from .permissions import TENANT_ROLES, role_group_join, role_group_name, role_groups_sync

DEMO_PASSWORD = "PalmCrest-Demo-2026"  # noqa: S105  (printed for the demo on purpose)
DEMO_URL = "http://127.0.0.1:8000"
SEED = 2026
PLATFORM_ADMIN_EMAIL = "admin@platform.local"


@dataclass(frozen=True)
class DemoPerson:
    email: str
    full_name: str
    role: str = Role.AGENT


@dataclass(frozen=True)
class DemoBrokerage:
    name: str
    slug: str
    license_number: str
    profile: dict
    primary_color: str
    secondary_color: str
    owner: DemoPerson
    members: tuple[DemoPerson, ...]
    settings: dict = field(default_factory=dict)


PALM_CREST = DemoBrokerage(
    name="Palm Crest Realty",
    slug="palm-crest",
    license_number="ORN-24817",
    profile={
        "rera_number": "RERA-BRK-7731",
        "address": "Office 1804, Bay Square Building 11, Business Bay\nP.O. Box 417263, Dubai, United Arab Emirates",
        "phone": "+971 4 555 0142",
        "email": "hello@palmcrest.ae",
        "website": "https://www.palmcrest.ae",
    },
    primary_color="#0B4F6C",
    secondary_color="#C9A227",
    owner=DemoPerson("owner@palmcrest.ae", "Layla Haddad", Role.BROKERAGE_OWNER),
    members=(
        DemoPerson("support@palmcrest.ae", "Grace Fernandes", Role.SUPPORT_STAFF),
        DemoPerson("omar@palmcrest.ae", "Omar Al Mansoori"),
        DemoPerson("priya@palmcrest.ae", "Priya Nair"),
        DemoPerson("ahmed@palmcrest.ae", "Ahmed Siddiqui"),
        DemoPerson("james@palmcrest.ae", "James Whitfield"),
        DemoPerson("maria@palmcrest.ae", "Maria Santos"),
        DemoPerson("anastasia@palmcrest.ae", "Anastasia Volkova"),
        DemoPerson("karim@palmcrest.ae", "Karim Nassar"),
        DemoPerson("fatima@palmcrest.ae", "Fatima Al Zaabi"),
        DemoPerson("rohan@palmcrest.ae", "Rohan Mehta"),
        DemoPerson("youssef@palmcrest.ae", "Youssef Farouk"),
    ),
    settings={"forgotten_lead_days": 10, "response_time_target_minutes": 15, "default_coaching_intensity": "INTENSIVE"},
)

MARINA_HEIGHTS = DemoBrokerage(
    name="Marina Heights Properties",
    slug="marina-heights",
    license_number="ORN-31562",
    profile={
        "rera_number": "RERA-BRK-9204",
        "address": "Office 905, Marina Plaza, Dubai Marina\nP.O. Box 502114, Dubai, United Arab Emirates",
        "phone": "+971 4 555 0377",
        "email": "info@marinaheights.ae",
        "website": "https://www.marinaheights.ae",
    },
    primary_color="#1D3557",
    secondary_color="#E76F51",
    owner=DemoPerson("owner@marinaheights.ae", "Noura Al Suwaidi", Role.BROKERAGE_OWNER),
    members=(
        DemoPerson("vikram@marinaheights.ae", "Vikram Rao"),
        DemoPerson("elena@marinaheights.ae", "Elena Petrova"),
    ),
    settings={"forgotten_lead_days": 14},
)

DEMO_BROKERAGES = (PALM_CREST, MARINA_HEIGHTS)

# Weighted so the team looks like a real one: a few stars, a solid middle, a couple still ramping up.
TIER_POOL = (
    PerformanceTier.TOP_PRODUCER, PerformanceTier.TOP_PRODUCER,
    PerformanceTier.HIGH_PERFORMER, PerformanceTier.HIGH_PERFORMER, PerformanceTier.HIGH_PERFORMER,
    PerformanceTier.STANDARD, PerformanceTier.STANDARD, PerformanceTier.STANDARD,
    PerformanceTier.DEVELOPING, PerformanceTier.DEVELOPING,
)


@dataclass(frozen=True)
class Login:
    brokerage: str
    email: str
    role: str
    full_name: str


@dataclass
class SeedResult:
    logins: list[Login] = field(default_factory=list)
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)


def _role_groups_in_place(user: User) -> bool:
    """True when the user is in exactly their role's group of their brokerage (nothing for role_group_join to do)."""
    if user.brokerage_id is None:
        return True
    prefix = f"brokerage-{user.brokerage_id}-"
    held = set(user.groups.filter(name__startswith=prefix).values_list("name", flat=True))
    expected = {role_group_name(user.brokerage, user.role)} if user.role in TENANT_ROLES else set()
    return held == expected


def member_ensure(
    *,
    brokerage: Brokerage | None,
    actor: User | None,
    email: str,
    full_name: str,
    role: str,
    password: str,
    agent_license_number: str = "",
    hire_date: dt.date | None = None,
    performance_tier: str = PerformanceTier.STANDARD,
    is_staff: bool = False,
    is_superuser: bool = False,
) -> tuple[User, bool, list[str]]:
    """Make sure a member with these details exists and signs in with `password`; return (user, created, changed).

    Unlike `services.team_invite` this sets a password and sends no mail, so it is for demo and fixture data
    only. Before: `brokerage` is None only for a system admin. After: the user's fields match the arguments
    (an existing hire date is kept so re-running on another day changes nothing), they are in their role's
    group, and a new tenant member is recorded in the brokerage's audit log. Writes nothing when all holds.
    """
    email = User.objects.normalize_email(email).lower()
    wanted = {
        "full_name": full_name,
        "brokerage": brokerage,
        "role": role,
        "agent_license_number": agent_license_number,
        "performance_tier": performance_tier,
        "is_active": True,
        "is_staff": is_staff,
        "is_superuser": is_superuser,
    }
    user = User.objects.filter(email__iexact=email).select_related("brokerage").first()
    created = user is None
    changed: list[str] = []
    if created:
        user = User(email=email, hire_date=hire_date, **wanted)
        user.set_password(password)
        user.full_clean()
        user.save()
    else:
        for name, value in wanted.items():
            if getattr(user, name) != value:
                setattr(user, name, value)
                changed.append(name)
        if user.hire_date is None and hire_date is not None:
            user.hire_date = hire_date
            changed.append("hire_date")
        if not user.check_password(password):
            user.set_password(password)
            changed.append("password")
        if changed:
            user.full_clean()
            user.save()
    if not _role_groups_in_place(user):
        role_group_join(user)
        if not created:
            changed.append("groups")
    if created and brokerage is not None:
        services.audit_record(brokerage=brokerage, actor=actor, action="team.member_added", resource=user,
                              details={"email": email, "role": role, "via": "demo seed"})
    return user, created, changed


def _brokerage_ensure(spec: DemoBrokerage) -> tuple[Brokerage, bool, bool]:
    """The demo brokerage with its canonical profile and colours; returns (brokerage, created, updated)."""
    brokerage = (
        Brokerage.objects.filter(slug=spec.slug).first()
        or Brokerage.objects.filter(license_number=spec.license_number).first()
    )
    created = brokerage is None
    if created:
        if User.objects.filter(email__iexact=spec.owner.email).exists():
            raise CommandError(
                f"{spec.owner.email} already has an account but brokerage {spec.slug!r} does not exist; "
                "remove or rename that user and run seed_demo again."
            )
        brokerage = services.brokerage_create(
            actor=None, name=spec.name, slug=spec.slug, license_number=spec.license_number,
            owner_email=spec.owner.email,
            owner_name=spec.owner.full_name, owner_password=DEMO_PASSWORD, primary_color=spec.primary_color,
            secondary_color=spec.secondary_color, **spec.profile,
        )
    else:
        role_groups_sync(brokerage)
    before = brokerage.updated_at
    brokerage = services.brokerage_update_profile(
        brokerage=brokerage, actor=None, data={"name": spec.name, "license_number": spec.license_number, **spec.profile}
    )
    brokerage = services.brokerage_update_branding(
        brokerage=brokerage, actor=None, primary_color=spec.primary_color, secondary_color=spec.secondary_color
    )
    return brokerage, created, not created and brokerage.updated_at != before


def _seed_brokerage(spec: DemoBrokerage, rng: random.Random, today: dt.date, result: SeedResult) -> None:
    brokerage, brokerage_created, brokerage_updated = _brokerage_ensure(spec)
    if brokerage_created:
        result.created.append(f"brokerage {spec.slug}")
    elif brokerage_updated:
        result.updated.append(f"brokerage {spec.slug}")
    agents = [person for person in spec.members if person.role == Role.AGENT]
    # Draw everything for the brokerage up front, in a fixed order, so the values never depend on what exists.
    licence_numbers = rng.sample(range(10000, 99999), len(agents))
    tenure_days = [rng.randint(45, 6 * 365) for _ in spec.members]
    if len(agents) >= len(TIER_POOL):  # every tier shows up
        tiers = [TIER_POOL[i % len(TIER_POOL)] for i in range(len(agents))]
    else:
        tiers = rng.sample(TIER_POOL, len(agents))
    rng.shuffle(tiers)
    owner_tenure = rng.randint(6 * 365, 9 * 365)

    people = [(spec.owner, owner_tenure)] + list(zip(spec.members, tenure_days, strict=True))
    agent_index = 0
    for person, days in people:
        extra = {}
        if person.role == Role.AGENT:
            extra = {"agent_license_number": f"BRN-{licence_numbers[agent_index]}",
                     "performance_tier": tiers[agent_index]}
            agent_index += 1
        user, created, changed = member_ensure(
            brokerage=brokerage, actor=None, email=person.email, full_name=person.full_name, role=person.role,
            password=DEMO_PASSWORD, hire_date=today - dt.timedelta(days=days), **extra,
        )
        if created or (brokerage_created and person is spec.owner):
            result.created.append(user.email)
        elif changed:
            result.updated.append(f"{user.email} ({', '.join(changed)})")
        result.logins.append(Login(brokerage.name, user.email, user.get_role_display(), user.full_name))

    with scope(brokerage=brokerage):
        changed_settings = services.settings_update(brokerage=brokerage, actor=None, values=spec.settings)
    if changed_settings:
        note = f"settings of {spec.slug} ({', '.join(changed_settings)})"
        (result.created if brokerage_created else result.updated).append(note)


@transaction.atomic
def seed(*, today: dt.date | None = None) -> SeedResult:
    """Create or restore the demo data; safe to run any number of times (see the module docstring)."""
    today = today or timezone.localdate()
    rng = random.Random(SEED)
    result = SeedResult()
    with scopes_disabled():
        admin, created, changed = member_ensure(
            brokerage=None, actor=None, email=PLATFORM_ADMIN_EMAIL, full_name="Platform Admin",
            role=Role.SYSTEM_ADMIN, password=DEMO_PASSWORD, is_staff=True, is_superuser=True,
        )
        if created:
            result.created.append(admin.email)
        elif changed:
            result.updated.append(f"{admin.email} ({', '.join(changed)})")
        result.logins.append(Login("Platform (Django admin at /admin/)", admin.email, admin.get_role_display(),
                                   admin.full_name))
        for spec in DEMO_BROKERAGES:
            _seed_brokerage(spec, rng, today, result)
        _seed_other_apps(result)
    return result


def _seed_other_apps(result: SeedResult) -> None:
    """Each project app may add its own demo data in `<app>/demo.py` with `seed(result)`; brokerages itself
    imports no other app, so they are found by name, in INSTALLED_APPS order."""
    for config in apps.get_app_configs():
        if config.name == "brokerages" or not Path(config.path).is_relative_to(settings.BASE_DIR):
            continue
        try:
            module = importlib.import_module(f"{config.name}.demo")
        except ModuleNotFoundError as error:
            if error.name == f"{config.name}.demo":
                continue
            raise
        module.seed(result)

