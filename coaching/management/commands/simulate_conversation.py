"""Replay a realistic agent–lead conversation message by message, as a phone or WhatsApp system would post it.

With the server running (`make run`) and the agent's Live coaching page open in a browser, the alerts appear on
that page as the messages arrive. By default the messages go through the running server's API (so the alerts
are pushed by the process that holds the agent's socket, whichever channel layer is configured); `--via direct`
records them in this process instead (useful with Redis, or with no server at all).
"""

import json
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django_scopes import scope, scopes_disabled
from rest_framework.authtoken.models import Token

from brokerages.models import Role, User
from brokerages.services import api_token_create

from ...demo_conversations import SCRIPTS
from ...models import CoachingAlert, CoachingSession, Conversation, Intensity
from ...realtime import alert_payload
from ...services.conversations import conversation_end, conversation_start, message_record
from ...services.sessions import session_start, session_stop

DEFAULT_BASE_URL = "http://127.0.0.1:8000"


class Command(BaseCommand):
    help = "Play a scripted conversation for an agent, one message at a time, and print the coaching alerts."

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="The agent's sign-in e-mail address.")
        parser.add_argument("--script", default="fumbled-price-objection", choices=sorted(SCRIPTS),
                            help="Which conversation to play (default: a fumbled price objection).")
        parser.add_argument("--intensity", choices=Intensity.values,
                            help="Coach at this intensity (restarting the agent's session if it runs at another); "
                                 "without it the running session is used, or one is started at the default.")
        parser.add_argument("--delay", type=float, default=1.5, help="Seconds between messages (default 1.5).")
        parser.add_argument("--via", choices=("api", "direct"), default="api",
                            help="Post through the running server's API (default) or record in this process.")
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL or DEFAULT_BASE_URL,
                            help="The running server, for --via api.")

    def handle(self, *args, agent: str, script: str, intensity: str | None, delay: float, via: str,
               base_url: str, **options):
        if delay < 0:
            raise CommandError("--delay cannot be negative.")
        with scopes_disabled():
            member = User.objects.filter(email__iexact=agent.strip(), is_active=True).select_related(
                "brokerage").first()
        if member is None or member.brokerage_id is None:
            raise CommandError(f"No active member of a brokerage has the e-mail address {agent!r}.")
        brokerage = member.brokerage
        with scope(brokerage=brokerage):
            manager = User.objects.filter(brokerage=brokerage, role=Role.BROKERAGE_OWNER, is_active=True).order_by(
                "pk").first()
            if manager is None:
                raise CommandError(f"{brokerage.name} has no active owner to run the simulation as.")
            session = self._session(brokerage, manager, member, intensity)
        self.stdout.write(f"Coaching {member.display_name} at {session.get_intensity_display()} intensity; "
                          f"playing “{SCRIPTS[script].title}”.")
        player = ApiPlayer(base_url, manager) if via == "api" else DirectPlayer(brokerage, manager)
        conversation_id = player.start(member.pk)
        for speaker, text in SCRIPTS[script].lines:
            alerts = player.say(conversation_id, speaker, text)
            self.stdout.write(f"  {speaker:>5}: {text}")
            for alert in alerts:
                self.stdout.write(self.style.WARNING(f"        ⚑ {alert['priority']}: {alert['title']}"
                                                     f"{' (escalated)' if alert['escalated'] else ''}"))
            time.sleep(delay)
        quality = player.end(conversation_id)
        with scope(brokerage=brokerage):
            reviews = CoachingAlert.objects.filter(brokerage=brokerage, conversation_id=conversation_id,
                                                   alert_type=CoachingAlert.AlertType.CONVERSATION_REVIEW)
            for alert in reviews.order_by("pk"):
                self.stdout.write(self.style.WARNING(f"  review ⚑ {alert.priority}: {alert.title}"))
        self.stdout.write(self.style.SUCCESS(f"Conversation {conversation_id} ended: quality {quality}/100."))

    def _session(self, brokerage, manager: User, agent: User, intensity: str | None) -> CoachingSession:
        running = CoachingSession.objects.filter(brokerage=brokerage, agent=agent,
                                                 status__in=CoachingSession.RUNNING).first()
        if running is not None and running.status == CoachingSession.Status.ACTIVE and intensity in (
                None, running.intensity):
            return running
        try:
            if running is not None:
                session_stop(brokerage=brokerage, actor=manager, session=running)
            return session_start(brokerage=brokerage, actor=manager, agent=agent, intensity=intensity)
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None


class DirectPlayer:
    """Records through the services in this process."""

    def __init__(self, brokerage, actor: User) -> None:
        self.brokerage, self.actor = brokerage, actor

    def start(self, agent_id: int) -> int:
        with scope(brokerage=self.brokerage):
            agent = User.objects.get(pk=agent_id, brokerage=self.brokerage)
            return conversation_start(brokerage=self.brokerage, actor=self.actor, agent=agent, channel="whatsapp").pk

    def say(self, conversation_id: int, speaker: str, text: str) -> list[dict]:
        with scope(brokerage=self.brokerage):
            conversation = self._conversation(conversation_id)
            recorded = message_record(brokerage=self.brokerage, actor=self.actor, conversation=conversation,
                                      speaker=speaker, text=text)
            return [alert_payload(alert) for alert in recorded.alerts]

    def end(self, conversation_id: int) -> float | None:
        with scope(brokerage=self.brokerage):
            return conversation_end(brokerage=self.brokerage, actor=self.actor,
                                    conversation=self._conversation(conversation_id)).quality_score

    def _conversation(self, conversation_id: int) -> Conversation:
        return Conversation.objects.get(pk=conversation_id, brokerage=self.brokerage)


class ApiPlayer:
    """Posts to the running server's coaching API with the owner's API token, like a telephony integration."""

    def __init__(self, base_url: str, actor: User) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise CommandError(f"--base-url must be an http(s) address, not {base_url!r}.")
        self.base_url = base_url.rstrip("/")
        with scopes_disabled():
            token = Token.objects.filter(user=actor).first() or api_token_create(user=actor)
        self.token = token.key

    def start(self, agent_id: int) -> int:
        return self._post("/api/coaching/conversations", {"agent_id": agent_id, "channel": "whatsapp"})["id"]

    def say(self, conversation_id: int, speaker: str, text: str) -> list[dict]:
        return self._post(f"/api/coaching/conversations/{conversation_id}/messages",
                          {"speaker": speaker, "text": text})["alerts"]

    def end(self, conversation_id: int) -> float | None:
        return self._post(f"/api/coaching/conversations/{conversation_id}/end", {})["quality_score"]

    def _post(self, path: str, body: dict) -> dict:
        request = urllib.request.Request(  # noqa: S310  (scheme checked to be http(s) in __init__)
            self.base_url + path, data=json.dumps(body).encode(), method="POST",
            headers={"Authorization": f"Token {self.token}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            raise CommandError(f"The server refused {path}: {error.code} {error.read()[:300]!r}") from None
        except urllib.error.URLError as error:
            raise CommandError(f"No server answers at {self.base_url} ({error.reason}). Start it with `make run`, "
                               "or use --via direct.") from None
