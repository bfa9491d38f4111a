from dataclasses import dataclass

import pytest
from django_scopes import scopes_disabled

from brokerages.models import Brokerage, Role, User

from .factories import PASSWORD, BrokerageFactory, UserFactory


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item, nextitem):
    """Transactional tests end with a flush: content types and permissions come back (post_migrate), but the
    rows a data migration wrote, the training module library, do not. Seed it again, as its migration does, so
    whatever test runs next on this worker finds the database as migrated. After the worker's last test the
    test database is already gone (session teardown), so there is nothing to seed."""
    result = yield
    marker = item.get_closest_marker("django_db")
    if nextitem is not None and marker is not None and marker.kwargs.get("transaction"):
        import importlib

        from django.apps import apps
        from pytest_django.plugin import blocking_manager_key

        library = importlib.import_module("coaching.migrations.0002_training_library")
        with item.config.stash[blocking_manager_key].unblock(), scopes_disabled():
            library.seed(apps, None)
    return result


@pytest.fixture(autouse=True)
def _unscoped_test_body(settings, tmp_path):
    """Test bodies set data up across tenants freely; each request still runs in its user's scope (the
    middleware opens a scope inside this one). Uploads go to a throwaway folder."""
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # Ids repeat across tests (rolled back), so request counters would carry over: far above what a test sends.
    # tests/brokerages/test_api_keys.py tests the limits themselves.
    settings.API_KEY_THROTTLE_RATE = settings.API_USER_THROTTLE_RATE = "100000/min"
    with scopes_disabled():
        yield


@dataclass
class Tenant:
    brokerage: Brokerage
    owner: User
    agent: User
    support: User

    def member(self, role: str) -> User:
        return {Role.BROKERAGE_OWNER: self.owner, Role.AGENT: self.agent, Role.SUPPORT_STAFF: self.support}[role]


def make_tenant(name: str) -> Tenant:
    brokerage = BrokerageFactory(name=name)
    slug = brokerage.slug
    return Tenant(
        brokerage=brokerage,
        owner=UserFactory(brokerage=brokerage, role=Role.BROKERAGE_OWNER, email=f"owner@{slug}.test"),
        agent=UserFactory(brokerage=brokerage, role=Role.AGENT, email=f"agent@{slug}.test"),
        support=UserFactory(brokerage=brokerage, role=Role.SUPPORT_STAFF, email=f"support@{slug}.test"),
    )


@pytest.fixture
def tenant(db) -> Tenant:
    return make_tenant("Palm Crest Realty")


@pytest.fixture
def other_tenant(db) -> Tenant:
    return make_tenant("Marina Heights Properties")


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def login(client):
    def _login(user: User):
        client.force_login(user)
        return client

    return _login
