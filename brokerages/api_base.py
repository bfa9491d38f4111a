"""The base of every API view: the caller's brokerage scopes all queries, and each method needs a permission."""

from contextlib import ExitStack
from typing import Callable

from django_scopes import scope
from rest_framework.exceptions import MethodNotAllowed, PermissionDenied
from rest_framework.views import APIView

from .keys import READ, WRITE, key_label, scopes_grant
from .models import ApiKey
from .permissions import brokerage_perms
from .request_context import acting_with_api_key

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class TenantAPIView(APIView):
    """Subclasses name the brokerage permission each HTTP method needs in `method_perms`.

    Authentication happens inside DRF (key, token or session), so the tenant scope is entered here rather than in
    the middleware. HEAD and OPTIONS need the GET permission. A call with an integration key also needs the
    key's scope for the view's app (its area): read for GET, HEAD and OPTIONS, write for anything else.
    """

    method_perms: dict[str, str] = {}
    # `lookup(brokerage, pk)` finds the object of a detail route before permissions are checked, so another
    # brokerage's object answers 404 whatever the caller's role; handlers find it in `self.object`.
    lookup: Callable | None = None
    # `allow(user, perms, obj)`: the object-level check after the brokerage permission (403 when it fails).
    allow: Callable | None = None

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        # A method the route does not answer is 405 for everyone, before any role or object is considered.
        if request.method.lower() not in self.http_method_names or not hasattr(self, request.method.lower()):
            raise MethodNotAllowed(request.method)
        user = request.user
        if user.brokerage_id is None:
            raise PermissionDenied("This API is for members of a brokerage.")
        self.brokerage = user.brokerage
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if key is not None:
            self._check_key_scope(key, request.method)
        self._tenant_scope = ExitStack()
        self._tenant_scope.enter_context(scope(brokerage=self.brokerage))
        if key is not None:
            self._tenant_scope.enter_context(acting_with_api_key(key_label(key)))
        if self.lookup is not None:
            self.object = type(self).lookup(self.brokerage, kwargs["pk"])
        method = "GET" if request.method in {"HEAD", "OPTIONS"} else request.method
        needed = self.method_perms.get(method)
        self.perms = brokerage_perms(user, self.brokerage)
        if needed is None or needed not in self.perms:
            raise PermissionDenied("Your role does not allow this.")
        if self.allow is not None and self.lookup is not None and not type(self).allow(user, self.perms, self.object):
            raise PermissionDenied("You do not have access to this.")

    def _check_key_scope(self, key: ApiKey, method: str) -> None:
        area = type(self).__module__.split(".")[0]
        level = READ if method in SAFE_METHODS else WRITE
        if not scopes_grant(key.scopes, area, level):
            raise PermissionDenied(f"This API key lacks the scope {area}:{level}.")

    def finalize_response(self, request, response, *args, **kwargs):
        tenant_scope = getattr(self, "_tenant_scope", None)
        try:
            return super().finalize_response(request, response, *args, **kwargs)
        finally:
            if tenant_scope is not None:
                tenant_scope.close()
