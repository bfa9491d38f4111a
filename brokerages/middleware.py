from django_scopes import scope, scopes_disabled

from .request_context import client_ip, ip_from_request


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
