"""Isolation cases for the owners' API keys pages."""

import itertools

from brokerages.keys import api_key_create
from tests.isolation import OWNER, Case

OWNERS = frozenset({OWNER})
_names = itertools.count(1)


def owners_key(tenant, member) -> dict:
    """A key of the tenant, created by its owner (only owners create keys)."""
    key, _ = api_key_create(brokerage=tenant.brokerage, actor=tenant.owner, name=f"Portal sync {next(_names)}",
                            scopes=["nurturing:read"])
    return {"pk": key.pk}


ROUTES: dict = {
    "brokerages:api_keys": [Case(OWNERS)],
    "brokerages:api_key_create": [Case(OWNERS, ("POST",), data={"name": "Portal sync", "scopes": ["nurturing:read"]})],
    "brokerages:api_key_revoke": [Case(OWNERS, ("POST",), objects=owners_key)],
}
