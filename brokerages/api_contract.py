"""What every API route shares in its contract: the one error body (`ErrorResponse`), 409 Conflict, page-number
pagination with validated `page`/`page_size`, and query-string filters that answer 400 naming the parameter.
`brokerages.api_schema` documents all of it on every operation."""

import datetime as dt

from django.http import QueryDict
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers
from rest_framework.exceptions import APIException
from rest_framework.pagination import PageNumberPagination

MAX_PAGE_SIZE = 100

ERROR_DESCRIPTIONS = {
    400: "Invalid input: `fields` names each field or query parameter to fix.",
    401: "Missing, unknown, expired or revoked credentials.",
    403: "The caller's role or the key's scopes do not allow this.",
    404: "No such object in the caller's brokerage (or a page past the last).",
    405: "This route does not answer that method.",
    409: "The request conflicts with the record's current state (`code` says how).",
    413: "The request body is too large.",
    415: "The body's content type is not one this route reads.",
    429: "Too many requests: wait the seconds in `Retry-After`.",
}


class ErrorBodySerializer(serializers.Serializer):
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    code = serializers.CharField(help_text="A stable machine-readable code, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    fields = serializers.DictField(child=serializers.ListField(child=serializers.CharField()),
                                   help_text="Field or parameter name → its problems (400 only; else empty).")


class ErrorResponseSerializer(serializers.Serializer):
    """The body of every error answer of the API."""

    error = ErrorBodySerializer()


class Conflict(APIException):
    """409: the request is well formed but collides with the record's state (e.g. a draft already waits)."""

    status_code = 409
    default_code = "conflict"
    default_detail = "The request conflicts with the record's current state."


class Pagination(PageNumberPagination):
    """`page` (from 1) and `page_size` (1–100, default 50). A value that is not a positive whole number answers
    400 naming it; a page past the last answers 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    last_page_strings = ()

    def paginate_queryset(self, queryset, request, view=None):
        for name, upper in ((self.page_query_param, None), (self.page_size_query_param, self.max_page_size)):
            raw = request.query_params.get(name)
            if raw is None:
                continue
            if not raw.isascii() or not raw.isdigit() or int(raw) < 1 or (upper and int(raw) > upper):
                limit = f"from 1 to {upper}" if upper else "from 1"
                raise serializers.ValidationError({name: [f"Give a whole number {limit}."]})
        return super().paginate_queryset(queryset, request, view)

    def get_schema_operation_parameters(self, view):
        return [
            {"name": self.page_query_param, "required": False, "in": "query",
             "description": "Page number, from 1.", "schema": {"type": "integer", "minimum": 1}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Results per page, 1–{self.max_page_size} (default {self.page_size}).",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size}},
        ]


def paginated(view, queryset, render):
    """The page of `queryset` the request asks for, each item through `render` (a serializer class or a
    function), in the envelope {count, next, previous, results}."""
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(queryset, view.request, view=view)
    if isinstance(render, type) and issubclass(render, serializers.BaseSerializer):
        results = render(page, many=True).data
    else:
        results = [render(item) for item in page]
    return paginator.get_paginated_response(results)


# Ids are 64-bit: a larger number names nothing (and must not reach the database as a filter).
MAX_ID = 2**63 - 1
# Times an integrator records (when a call happened, a message was said) fall in this range.
EARLIEST, LATEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC), dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


class IdField(serializers.IntegerField):
    def __init__(self, **kwargs):
        super().__init__(min_value=1, max_value=MAX_ID, **kwargs)


class MomentField(serializers.DateTimeField):
    """A point in time an integrator records: ISO 8601 with a zone, from 2000 to 2099."""

    def to_internal_value(self, value):
        moment = super().to_internal_value(value)
        if not EARLIEST <= moment < LATEST:
            raise serializers.ValidationError("Give a time from the year 2000 to 2099.")
        return moment


class SinceField(serializers.DateTimeField):
    """A point in time, or a date meaning its start in the server's time zone."""

    def to_internal_value(self, value):
        if isinstance(value, str) and len(value) == 10:
            try:
                day = dt.date.fromisoformat(value)
            except ValueError:
                pass
            else:
                return timezone.make_aware(dt.datetime.combine(day, dt.time.min))
        return super().to_internal_value(value)


def since_parameter(what: str) -> OpenApiParameter:
    return OpenApiParameter("since", OpenApiTypes.DATETIME, description=(
        f"Only {what} at or after this time (ISO 8601, e.g. 2025-01-31T09:00:00Z; a date means its start)."))


def id_parameter(name: str, description: str = "") -> OpenApiParameter:
    """A query parameter naming a record by id."""
    return OpenApiParameter(name, {"type": "integer", "minimum": 1, "maximum": MAX_ID}, description=description)


def query_dict(request) -> dict:
    """The query string as {name: last value}; a parameter sent empty (`status=`) answers 400 naming it, as a
    bad value rather than "any"."""
    query = request.query_params.dict()
    empty = sorted(name for name, value in query.items() if value == "")
    if empty:
        raise serializers.ValidationError({name: ["Give a value, or leave the parameter out."] for name in empty})
    return query


def query_params(serializer_class, request) -> dict:
    """The validated query string (400 naming each bad parameter); parameters not sent are left out."""
    query = serializer_class(data=query_dict(request))
    query.is_valid(raise_exception=True)
    return {name: value for name, value in query.validated_data.items() if value not in (None, "")}


def _wrong_type(field, value) -> str | None:
    """Why a JSON value cannot be the field's (None when it can): DRF would coerce "5" to 5, 1 to true and 12
    to "12", so an integrator's mistake would pass unnoticed."""
    if value is None or isinstance(field, (serializers.JSONField, serializers.FileField, serializers.HiddenField)):
        return None
    if isinstance(field, serializers.BooleanField):
        return None if isinstance(value, bool) else "Must be true or false."
    if isinstance(field, serializers.IntegerField):
        return None if isinstance(value, int) and not isinstance(value, bool) else "Must be a whole number."
    if isinstance(field, serializers.FloatField):
        return None if isinstance(value, (int, float)) and not isinstance(value, bool) else "Must be a number."
    if isinstance(field, serializers.DecimalField):
        ok = isinstance(value, (int, float, str)) and not isinstance(value, bool)
        return None if ok else "Must be a number (or its text, e.g. \"1250000.00\")."
    if isinstance(field, (serializers.ListField, serializers.ListSerializer)):
        if not isinstance(value, list):
            return "Must be a list."
        child = field.child
        problems = [_wrong_type(child, item) for item in value]
        return next((f"Item {index}: {problem}" for index, problem in enumerate(problems, start=1) if problem), None)
    if isinstance(field, (serializers.DictField, serializers.Serializer)):
        return None if isinstance(value, dict) else "Must be an object."
    if isinstance(field, serializers.ChoiceField) and not all(isinstance(key, str) for key in field.choices):
        return None
    if isinstance(field, (serializers.CharField, serializers.ChoiceField, serializers.DateField,
                          serializers.DateTimeField, serializers.TimeField)):
        return None if isinstance(value, str) else "Must be a text."
    return None


class StrictInput(serializers.Serializer):
    """A request body as an integrator sends it: fields it does not know are refused (e.g. `brokerage` or `role`
    smuggled in), and so are JSON values of the wrong type, instead of being coerced. Form-encoded input (all
    text) is only checked for unknown fields."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError({name: ["Unknown field."] for name in unknown})
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            errors = {name: [problem] for name, value in data.items() if name in self.fields
                      and (problem := _wrong_type(self.fields[name], value))}
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)
