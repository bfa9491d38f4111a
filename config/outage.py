"""What a person or an integration sees when a request fails on the server: Django's `handler500`
(config/urls.py).

A request that fails because the database cannot be reached (connections refused or cut, the pool's wait for
one running out) answers 503 with `Retry-After`: the branded "temporarily unavailable" page, or on the API the
error body every API error has (brokerages/api_errors.py). Its transaction was rolled back whole, so the page
says so: nothing was half-saved. Any other failure answers 500 the same two ways. Neither shows a traceback,
SQL or a setting; the exception is logged by Django with the request's id, which the page shows for support.
The page is rendered without a request context, so it touches neither the database nor the session.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template.loader import render_to_string
from psycopg_pool import PoolTimeout

# Django wraps the driver's errors in its own classes; the pool's timeout can escape unwrapped.
DATABASE_UNAVAILABLE = (OperationalError, InterfaceError, PoolTimeout)
RETRY_AFTER_SECONDS = 30

MESSAGES = {
    # A pool that hands out no connection in time may mean the database is away or every connection is busy
    # (overload): the message holds for both.
    503: ("service_unavailable", "The service is temporarily unavailable: its database is unreachable or too "
                                 "busy. Nothing of this request was saved; try it again in a minute."),
    500: ("server_error", "Something went wrong on our side and was logged. Try again; if it keeps failing, "
                          "contact support with the request id."),
}


def server_error(request) -> HttpResponse:
    """Django's 500 handler: called while the request's uncaught exception is being handled."""
    status = 503 if isinstance(sys.exc_info()[1], DATABASE_UNAVAILABLE) else 500
    request_id = getattr(request, "request_id", None)
    if request.path_info.startswith("/api/"):
        code, message = MESSAGES[status]
        response = JsonResponse({"error": {"status": status, "code": code, "message": message, "fields": {}}},
                                status=status)
    else:
        response = HttpResponse(render_to_string(f"{status}.html", {"request_id": request_id}), status=status)
    if status == 503:
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response
