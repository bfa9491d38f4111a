from django.conf import settings
from django.http import JsonResponse
from django_scopes import scope, scopes_disabled

from .keys import key_label
from .models import ApiKey
from .request_context import client_ip, ip_from_request
from .services import permission_denied_record

MB = 1024 * 1024


def _api_error(status: int, code: str, message: str) -> JsonResponse:
    """The API's one error body (see brokerages.api_errors), for answers given before DRF is reached."""
    return JsonResponse({"error": {"status": status, "code": code, "message": message, "fields": {}}},
                        status=status)


class ApiBodyLimitMiddleware:
    """Refuse an /api/ request whose body is too big from its Content-Length (413), before any of it is read into
    memory or parsed: `API_MAX_BODY_BYTES` in general, `API_MAX_UPLOAD_BYTES` for multipart file uploads (whose
    files the services check against their own limits). A body without a length (chunked) could be of any size,
    so it is refused (411). Under ASGI, Django has already spooled the body to a temporary file by now, which
    keeps memory bounded; what this saves is the parsing and the work behind it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path_info.startswith("/api/"):
            refusal = self._refusal(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)

    @staticmethod
    def _refusal(request) -> JsonResponse | None:
        declared = request.META.get("CONTENT_LENGTH")
        if not declared:
            if request.META.get("HTTP_TRANSFER_ENCODING"):
                return _api_error(411, "length_required", "Send the request body with a Content-Length header; "
                                                          "chunked bodies are not accepted.")
            return None
        try:
            length = int(declared)
        except ValueError:
            return _api_error(400, "parse_error", "The Content-Length header is not a number.")
        upload = request.content_type == "multipart/form-data"
        limit = settings.API_MAX_UPLOAD_BYTES if upload else settings.API_MAX_BODY_BYTES
        if length <= limit:
            return None
        if upload:
            message = (f"The upload is {length / MB:.1f} MB; the API accepts file uploads of at most "
                       f"{limit / MB:.1f} MB.")
        else:
            message = (f"The request body is {length / MB:.1f} MB; the API accepts at most {limit / MB:.1f} MB "
                       f"(file uploads as multipart/form-data: {settings.API_MAX_UPLOAD_BYTES / MB:.1f} MB).")
        return _api_error(413, "too_large", message)


class TenantScopeMiddleware:
    """Scope every query of a tenant-owned model to the signed-in user's brokerage.

    Anonymous requests get no scope, so any tenant query they make fails loudly (ScopeError). The admin is
    for system admins and works across brokerages. API requests authenticated by token are scoped by
    `brokerages.api_base.TenantAPIView` once DRF has authenticated them.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = client_ip.set(ip_from_request(request))
        try:
            user = request.user
            request.brokerage = user.brokerage if user.is_authenticated else None
            if request.path.startswith("/admin/"):
                with scopes_disabled():
                    return self.get_response(request)
            if request.brokerage is not None:
                with scope(brokerage=request.brokerage):
                    return self.get_response(request)
            return self.get_response(request)
        finally:
            client_ip.reset(token)


class PermissionDeniedAuditMiddleware:
    """Every 403 a signed-in member of a brokerage receives, from a page or from the API, leaves one
    `permission.denied` entry in that brokerage's audit log (method, path, view): the one place such refusals
    are recorded, whichever check raised them (a view's role check, an object check, an API key's scope, CSRF).
    API callers are known here too: DRF sets the user it authenticated (token or key) on the request. Requests
    that are not refused cost nothing."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 403:
            self._record(request)
        return response

    @staticmethod
    def _record(request) -> None:
        user = getattr(request, "user", None)
        if user is None:
            return
        match = request.resolver_match
        details = {}
        key = getattr(request, "auth", None)
        if isinstance(key, ApiKey):
            details["api_key"] = key_label(key)
        permission_denied_record(user=user, method=request.method, path=request.path,
                                 view=match.view_name if match else "", details=details)
