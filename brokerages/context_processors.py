from .models import Notification
from .navigation import menu_for
from .permissions import request_perms


def brokerage(request) -> dict:
    current = getattr(request, "brokerage", None)
    if current is None:
        return {"brokerage": None, "nav_items": []}
    unread = Notification.objects.filter(brokerage=current, recipient=request.user, read_at__isnull=True).count()
    return {"brokerage": current, "nav_items": menu_for(request.user, request_perms(request)),
            "unread_notifications": unread}
