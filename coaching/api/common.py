"""What the coaching API views share: the base view, and how a state conflict reaches the client.

A request that is well formed but collides with the record's state — a message for a conversation that has
ended, a second running session for an agent, pausing a session that has ended — answers **409 Conflict** with
the service's message and a stable `code` (`conversation_ended`, `session_running`, `session_ended`); bad input
answers 400 with the fields to fix.
"""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from rest_framework import serializers
from rest_framework.exceptions import PermissionDenied

from brokerages.api_base import TenantAPIView
from brokerages.api_contract import Conflict, IdField, Pagination, SinceField, id_parameter, query_dict
from brokerages.models import User

from ..permissions import is_coach, uses_coaching
from ..selectors.sessions import coached_agents

CONFLICT_CODES = frozenset({"conversation_ended", "session_running", "session_ended"})


@contextmanager
def conflicts_as_409():
    """Turn the services' state-conflict ValidationErrors into 409; any other ValidationError stays a 400."""
    try:
        yield
    except ValidationError as error:
        code = getattr(error, "code", None)
        if code in CONFLICT_CODES:
            raise Conflict(detail=" ".join(error.messages), code=code) from None
        raise


class CoachingAPIView(TenantAPIView):
    """Every coaching route also needs one of the two coaching permissions (coached or coaching); routes that
    need a particular one name it in `method_perms`, and lists narrow themselves to what the caller may see."""

    pagination_class = Pagination

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not uses_coaching(self.perms):
            raise PermissionDenied("Your role does not allow this.")


def agent_for(view: CoachingAPIView, agent_id: int | None) -> User:
    """The coached member a request is about: the caller by default; someone else only for managers."""
    if agent_id is None or agent_id == view.request.user.pk:
        agent_id = view.request.user.pk
    elif not is_coach(view.perms):
        raise serializers.ValidationError({"agent_id": ["Agents act for themselves only."]})
    agent = coached_agents(view.brokerage).filter(pk=agent_id).first()
    if agent is None:
        raise serializers.ValidationError({"agent_id": ["No coached member of this brokerage has this id."]})
    return agent


BOOLEAN_FILTERS = ("ended", "escalated", "acknowledged", "running")


class ListQuerySerializer(serializers.Serializer):
    agent = IdField(required=False)
    conversation = IdField(required=False)
    since = SinceField(required=False)
    ended = serializers.ChoiceField(["true", "false"], required=False)
    escalated = serializers.ChoiceField(["true", "false"], required=False)
    acknowledged = serializers.ChoiceField(["true", "false"], required=False)
    running = serializers.ChoiceField(["true", "false"], required=False)


def list_query(request) -> dict:
    """The list filters of the query string (400 on a bad one); yes/no filters as True, False or None."""
    query = ListQuerySerializer(data=query_dict(request))
    query.is_valid(raise_exception=True)
    data = query.validated_data
    found = {name: data.get(name) for name in ("agent", "conversation", "since")}
    found.update({name: data[name] == "true" if name in data else None for name in BOOLEAN_FILTERS})
    return found


AGENT_FILTER = id_parameter("agent", "Only this agent's (managers; an agent sees their own).")
