from io import StringIO

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django_scopes import scope, scopes_disabled
from guardian.shortcuts import remove_perm
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

from brokerages import selectors
from brokerages.demo import DEMO_PASSWORD, DEMO_URL, PALM_CREST, PLATFORM_ADMIN_EMAIL
from brokerages.models import (
    AuditLog,
    Brokerage,
    BrokerageGroupObjectPermission,
    BrokerageSetting,
    PerformanceTier,
    Role,
    User,
)
from brokerages.permissions import role_group_name


def seed_demo() -> str:
    out = StringIO()
    # An empty, enabled scope: every tenant query fails unless the command manages its own scoping.
    with scope():
        call_command("seed_demo", stdout=out)
    return out.getvalue()


def snapshot() -> dict:
    with scopes_disabled():
        return {
            "brokerages": list(Brokerage.objects.order_by("pk").values_list("pk", "slug", "updated_at")),
            "users": list(User.objects.order_by("pk").values_list(
                "pk", "email", "password", "role", "brokerage_id", "agent_license_number", "hire_date",
                "performance_tier")),
            "memberships": sorted(User.groups.through.objects.values_list("pk", "user_id", "group_id")),
            "group_perms": BrokerageGroupObjectPermission.objects.count(),
            "settings": list(BrokerageSetting.objects.order_by("pk").values_list("pk", "setting_value", "updated_at")),
            "audit": AuditLog.objects.count(),
        }


def palm_crest_agents():
    return User.objects.filter(brokerage__slug="palm-crest", role=Role.AGENT).select_related("brokerage")


@pytest.mark.django_db
def test_seed_demo_creates_the_demo_brokerages_and_people():
    output = seed_demo()

    palm = Brokerage.objects.get(slug="palm-crest")
    marina = Brokerage.objects.get(slug="marina-heights")
    assert palm.name == "Palm Crest Realty" and palm.license_number == "ORN-24817"
    assert palm.phone.startswith("+971") and "Business Bay" in palm.address
    assert marina.name == "Marina Heights Properties"
    assert palm.members.filter(role=Role.AGENT).count() == 10
    assert palm.members.filter(role=Role.SUPPORT_STAFF).get().email == "support@palmcrest.ae"
    assert palm.members.filter(role=Role.BROKERAGE_OWNER).get().email == "owner@palmcrest.ae"
    assert marina.members.filter(role=Role.AGENT).count() == 2
    assert marina.members.get(role=Role.BROKERAGE_OWNER).email == "owner@marinaheights.ae"

    admin = User.objects.get(email=PLATFORM_ADMIN_EMAIL)
    assert admin.is_staff and admin.is_superuser and admin.role == Role.SYSTEM_ADMIN and admin.brokerage is None

    agents = list(palm_crest_agents())
    assert len({agent.agent_license_number for agent in agents}) == 10
    assert all(agent.agent_license_number.startswith("BRN-") for agent in agents)
    assert {agent.performance_tier for agent in agents} == set(PerformanceTier.values)
    assert len({agent.hire_date for agent in agents}) > 5
    assert all(agent.email.split("@")[0] == agent.full_name.split()[0].lower() for agent in agents)

    with scope(brokerage=palm):
        assert selectors.setting_value(palm, "forgotten_lead_days") == 10
    with scope(brokerage=marina):
        assert selectors.setting_value(marina, "forgotten_lead_days") == 14

    assert DEMO_URL in output and DEMO_PASSWORD in output
    for user in User.objects.all():
        assert user.email in output


@pytest.mark.django_db
def test_seed_demo_twice_changes_nothing():
    seed_demo()
    first = snapshot()
    output = seed_demo()
    assert snapshot() == first
    assert "nothing changed" in output
    assert Brokerage.objects.count() == 2
    assert User.objects.count() == 1 + (1 + 1 + 10) + (1 + 2)


@pytest.mark.django_db
def test_demo_logins_work_and_roles_carry_their_permissions():
    seed_demo()
    seed_demo()
    palm = Brokerage.objects.get(slug="palm-crest")
    marina = Brokerage.objects.get(slug="marina-heights")

    owner = authenticate(email="owner@palmcrest.ae", password=DEMO_PASSWORD)
    assert owner is not None and owner.has_perm("brokerages.manage_brokerage", palm)
    assert authenticate(email=PLATFORM_ADMIN_EMAIL, password=DEMO_PASSWORD) is not None
    assert not owner.has_perm("brokerages.view_brokerage", marina)

    for agent in palm_crest_agents():
        assert authenticate(email=agent.email, password=DEMO_PASSWORD) == agent
        assert list(agent.groups.values_list("name", flat=True)) == [role_group_name(palm, Role.AGENT)]
        assert agent.has_perm("brokerages.view_knowledge_base", palm)
        assert not agent.has_perm("brokerages.manage_brokerage", palm)
        assert not agent.has_perm("brokerages.view_knowledge_base", marina)

    support = User.objects.get(email="support@palmcrest.ae")
    assert support.has_perm("brokerages.view_team_performance", palm)
    assert not support.has_perm("brokerages.use_workflow_automation", palm)


@pytest.mark.django_db
def test_seed_demo_restores_what_was_changed_since():
    seed_demo()
    omar = User.objects.get(email="omar@palmcrest.ae")
    canonical = (omar.agent_license_number, omar.performance_tier, omar.hire_date)
    palm = omar.brokerage
    User.objects.filter(pk=omar.pk).update(agent_license_number="X", performance_tier=PerformanceTier.DEVELOPING
                                           if omar.performance_tier != PerformanceTier.DEVELOPING
                                           else PerformanceTier.STANDARD)
    omar.set_password("something-else-entirely")
    omar.save()
    omar.groups.clear()
    remove_perm("brokerages.view_knowledge_base", omar.groups.model.objects.get(
        name=role_group_name(palm, Role.AGENT)), palm)

    output = seed_demo()

    omar = User.objects.get(pk=omar.pk)
    assert (omar.agent_license_number, omar.performance_tier, omar.hire_date) == canonical
    assert omar.check_password(DEMO_PASSWORD)
    assert omar.has_perm("brokerages.view_knowledge_base", palm)
    assert "Restored:" in output and "omar@palmcrest.ae (" in output
    assert User.objects.filter(email__endswith="@palmcrest.ae").count() == 1 + len(PALM_CREST.members)


@pytest.mark.django_db
def test_seed_demo_records_the_creation_in_the_audit_log():
    seed_demo()
    palm = Brokerage.objects.get(slug="palm-crest")
    actions = list(AuditLog.objects.filter(brokerage=palm).values_list("action", flat=True))
    assert actions.count("brokerage.created") == 1
    assert actions.count("team.member_added") == 11
    assert "settings.updated" in actions


def api_token(*args: str) -> str:
    out = StringIO()
    with scope():
        call_command("api_token", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


@pytest.mark.django_db
def test_api_token_prints_a_key_that_authenticates(tenant):
    key = api_token("--email", tenant.agent.email.upper())

    assert Token.objects.get(key=key).user == tenant.agent
    user, token = TokenAuthentication().authenticate_credentials(key)
    assert user == tenant.agent and token.key == key
    assert AuditLog.objects.filter(brokerage=tenant.brokerage, action="api_token.created").count() == 1

    assert api_token("--email", tenant.agent.email) == key
    assert Token.objects.filter(user=tenant.agent).count() == 1


@pytest.mark.django_db
def test_api_token_rotate_replaces_the_key(tenant):
    old = api_token("--email", tenant.owner.email)
    new = api_token("--email", tenant.owner.email, "--rotate")
    assert new != old
    assert not Token.objects.filter(key=old).exists()
    assert Token.objects.get(key=new).user == tenant.owner


@pytest.mark.django_db
def test_api_token_refuses_unknown_and_inactive_users(tenant):
    with pytest.raises(CommandError, match="nobody@example.test"):
        api_token("--email", "nobody@example.test")

    User.objects.filter(pk=tenant.support.pk).update(is_active=False)
    with pytest.raises(CommandError, match="deactivated"):
        api_token("--email", tenant.support.email)
    assert not Token.objects.filter(user=tenant.support).exists()
