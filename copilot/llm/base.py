"""The contract every model provider meets, and the helpers the providers share.

Features depend on `Provider` and `Completion` only, so Claude and Gemini are interchangeable and the local
engine can stand in for either whenever a call fails (see `fallback.with_fallback`).
"""

import html
import logging
import re
from dataclasses import dataclass
from typing import Protocol

logger = logging.getLogger("copilot.llm")

# Why a call failed, in words a caller can branch on and an operator can count.
ERROR_KINDS = frozenset({"timeout", "rate_limited", "server_error", "bad_request", "auth", "malformed", "unavailable"})

# Error text from an SDK may quote the response body; keep log lines and `degraded` reasons short.
_MAX_MESSAGE = 300

# One instruction for every provider: the model must return data, not prose around it.
JSON_INSTRUCTION = (
    "Reply with a single JSON object and nothing else: no prose before or after it, no Markdown code fences."
)


@dataclass(frozen=True)
class Completion:
    text: str
    provider: str  # "anthropic" or "gemini"
    model: str
    input_tokens: int
    output_tokens: int
    latency_ms: float


class ProviderError(Exception):
    """A model call that produced no usable answer; `kind` is one of ERROR_KINDS. `retry_after` is the wait in
    seconds the server asked for before another attempt, when it named one."""

    def __init__(self, kind: str, message: str, *, retry_after: float | None = None) -> None:
        if kind not in ERROR_KINDS:
            raise ValueError(f"Unknown provider error kind {kind!r}.")
        self.kind = kind
        self.message = message[:_MAX_MESSAGE]
        self.retry_after = retry_after
        super().__init__(f"{kind}: {self.message}")


class Provider(Protocol):
    name: str

    def complete(self, *, system: str, prompt: str, max_tokens: int = 1024, json_mode: bool = False) -> Completion:
        ...


# A tag opening or closing a quote, in any case and with stray whitespace, as a model would still read it.
_DATA_TAG = re.compile(r"<(\s*/?\s*data)", re.IGNORECASE)


def quote(label: str, text: str) -> str:
    """Wrap untrusted text (passages, lead messages, CRM fields, questions) as data the model must not obey.

    Any `<data`/`</data` inside the text is defused (its `<` becomes `&lt;`), so the text can neither close
    this quote nor open a new one; the label is attribute-escaped for the same reason.
    """
    safe_text = _DATA_TAG.sub(r"&lt;\1", text)
    return f'<data label="{html.escape(label, quote=True)}">\n{safe_text}\n</data>'


def log_completion(completion: Completion) -> None:
    logger.info(
        "llm call provider=%s model=%s input_tokens=%d output_tokens=%d latency_ms=%.0f",
        completion.provider,
        completion.model,
        completion.input_tokens,
        completion.output_tokens,
        completion.latency_ms,
    )
