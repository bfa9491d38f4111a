"""What every tenant page shares: who may open it, and how a service's errors reach a form."""

from functools import wraps
from typing import Callable

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import redirect

from .permissions import request_perms, require_perm


def tenant_view(perm: str, lookup: Callable | None = None, allow: Callable | None = None):
    """Signed-in member of a brokerage holding `perm` on it (403 otherwise). System admins, who belong to no
    brokerage, are sent to the admin.

    With `lookup(brokerage, pk)`, the object is found first and handed to the view instead of its pk: another
    brokerage's object answers 404 whatever the caller's role, and only then does a missing permission
    answer 403. `allow(user, perms, obj)` adds the object-level check (e.g. an agent and someone else's lead).
    """

    def decorator(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.brokerage is None:
                return redirect("admin:index")
            if lookup is not None:
                kwargs["obj"] = lookup(request.brokerage, kwargs.pop("pk"))
            require_perm(request, perm)
            if allow is not None and not allow(request.user, request_perms(request), kwargs["obj"]):
                raise PermissionDenied("You do not have access to this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def form_error(form, error: ValidationError) -> None:
    """Show a service's ValidationError on the form, on the fields it names."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)
