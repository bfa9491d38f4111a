"""Sending SMS and WhatsApp messages through a pluggable backend, as Django does for e-mail.

`settings.NURTURING_MESSAGE_BACKEND` names the backend class (dotted path); the default prints each message to
standard output, so the product works without a messaging provider. A provider's backend implements
`send(message)` and raises `MessageError` with a reason a person can act on when the message did not go out.
"""

import sys
import threading
from dataclasses import dataclass

from django.conf import settings
from django.utils.module_loading import import_string



class MessageError(Exception):
    """The message was not sent; the text says why (shown on the follow-up, which can be retried)."""


@dataclass(frozen=True)
class OutgoingMessage:
    channel: str  # "sms" or "whatsapp"
    to: str  # the lead's phone, international format
    body: str
    sender: str  # who the lead sees it from: the agent and brokerage


class ConsoleBackend:
    """Writes each message to standard output (the embedded default, like Django's console e-mail)."""

    _lock = threading.Lock()

    def send(self, message: OutgoingMessage) -> None:
        text = (f"--- {message.channel} to {message.to} from {message.sender} ---\n{message.body}\n"
                f"{'-' * 40}\n")
        with self._lock:
            sys.stdout.write(text)
            sys.stdout.flush()


class LocmemBackend:
    """Keeps messages in `LocmemBackend.outbox` (tests empty it), like Django's locmem e-mail backend."""

    outbox: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> None:
        self.outbox.append(message)


def send_message(message: OutgoingMessage) -> None:
    """Hand the message to the configured backend; raises MessageError when it could not be sent."""
    backend = import_string(settings.NURTURING_MESSAGE_BACKEND)()
    backend.send(message)
