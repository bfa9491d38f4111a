import pytest
from django.urls import reverse


@pytest.mark.django_db
def test_owner_pages_render(tenant, login):
    client = login(tenant.owner)
    for name in ["home", "account", "brokerages:profile", "brokerages:settings", "brokerages:branding",
                 "brokerages:team", "brokerages:audit_log"]:
        response = client.get(reverse(name))
        assert response.status_code == 200, name
