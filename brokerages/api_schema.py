"""The OpenAPI schema class of the API (settings: DEFAULT_SCHEMA_CLASS).

The schema is what integrators (and the fuzzer in tests/api/test_fuzz.py) trust, so each operation lists the
error statuses it can really answer, all with the one `ErrorResponse` body: 401 (no or bad credentials), 403
(role or scope) and 429 (throttled) always; 400 when it reads a body or query parameters; 404 on a route with an
id (or a page past the last); 413 and 415 when it reads a body. A view adds more (409) with
`extend_schema(responses=...)`. Kept apart from `api_contract` because drf-spectacular's AutoSchema imports DRF's
generic views, which import the pagination class named in the settings.
"""

from drf_spectacular.openapi import AutoSchema as SpectacularAutoSchema
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from .api_contract import ERROR_DESCRIPTIONS, ErrorResponseSerializer


class AutoSchema(SpectacularAutoSchema):
    """drf-spectacular's schema, plus the error answers (one `ErrorResponse` component) every operation can
    give, and path ids documented as the whole numbers the URLs accept."""

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        for code in self._error_codes():
            if str(code) not in responses:
                responses[str(code)] = self._get_response_for_code(ErrorResponseSerializer, str(code),
                                                                   direction=direction)
                responses[str(code)]["description"] = ERROR_DESCRIPTIONS[code]
        return responses

    def _error_codes(self) -> list[int]:
        codes = [401, 403, 429]
        has_body = self.method in ("POST", "PUT", "PATCH")
        if has_body or self._get_pagination_parameters() or self._has_query_parameters():
            codes.append(400)
        # A body may name another record by id (a lead, an agent) that is not the caller's to use.
        if "{" in self.path or self._get_pagination_parameters() or has_body:
            codes.append(404)
        if has_body:
            codes.extend((413, 415))
        return sorted(codes)

    def _has_query_parameters(self) -> bool:
        override = self.get_override_parameters()
        return any(getattr(parameter, "location", OpenApiParameter.QUERY) == OpenApiParameter.QUERY
                   for parameter in override)

    def _map_basic_serializer(self, serializer, direction):
        schema = super()._map_basic_serializer(serializer, direction)
        if direction == "response":
            for field_schema in schema.get("properties", {}).values():
                if field_schema.get("format") in ("email", "uri"):
                    # Stored addresses may be empty (""), which is no e-mail address or URI; requests keep it.
                    del field_schema["format"]
        return schema

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if direction == "request" and isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            # Amounts are read as a number or as its exact text ("1250000.00"); answers give the text.
            text = {key: value for key, value in schema.items() if key in ("type", "format", "pattern")}
            schema = {key: value for key, value in schema.items() if key not in text}
            schema["oneOf"] = [{"type": "number"}, text]
        return schema

    def _get_parameters(self):
        parameters = super()._get_parameters()
        for parameter in parameters:
            schema = parameter.get("schema", {})
            if parameter["in"] == "query" and schema.get("type") == "string" and not (
                    {"enum", "format", "pattern"} & set(schema)):
                # A text parameter is sent non-empty (an empty one answers 400: leave it out instead), and
                # without NUL characters, which DRF refuses.
                schema["pattern"] = "^[^\\x00]+$"
        return parameters

    def _resolve_path_parameters(self, variables):
        parameters = super()._resolve_path_parameters(variables)
        for parameter in parameters:
            if parameter["schema"].get("type") == "integer":
                # Django's int converter matches digits only; anything else is another (unknown) URL.
                parameter["schema"]["minimum"] = 0
        return parameters
