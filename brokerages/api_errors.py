"""One JSON shape for every API error: {"error": {"status", "code", "message", "fields"}}."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler


def _flatten(detail) -> str:
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def json_exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        )
    response = exception_handler(exc, context)
    if response is None:
        return None
    fields = {}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        fields = {key: [str(item) for item in (value if isinstance(value, list) else [value])]
                  for key, value in detail.items()}
        # Errors about the request as a whole (a model constraint, "not both") are the message itself.
        general = fields.pop(NON_FIELD_ERRORS, []) + fields.pop("non_field_errors", [])
        parts = general + (["The request has invalid fields: " + ", ".join(fields) + "."] if fields else [])
        message = " ".join(parts)
        code = "invalid"
    else:
        message = _flatten(response.data.get("detail", response.data)) if isinstance(response.data, dict) \
            else _flatten(response.data)
        code = getattr(exc, "default_code", "error")
        if hasattr(exc, "get_codes"):
            codes = exc.get_codes()
            code = codes if isinstance(codes, str) else code
    body = {"error": {"status": response.status_code, "code": code, "message": message, "fields": fields}}
    return Response(body, status=response.status_code, headers={
        key: value for key, value in response.items() if key in {"WWW-Authenticate", "Retry-After", "Allow"}})

