"""What every API test needs: a client holding a member's token, and the one JSON error shape."""

from rest_framework.test import APIClient

from brokerages import services
from brokerages.models import User


def api_as(user: User) -> APIClient:
    key = services.api_token_create(user=user).key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def assert_error(response, status: int) -> dict:
    """Every error answers the same JSON shape; returns the inner `error` object."""
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "fields"}
    assert error["status"] == status
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["fields"], dict)
    return error
