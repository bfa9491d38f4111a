"""Gemini through the official `google-genai` SDK (Gemini Developer API, API-key auth)."""

import importlib
import time

from google import genai
from google.genai import errors, types

from .base import Completion, ProviderError, log_completion
from .budget import call_within, retry_after

# google-genai talks HTTP through httpx2 or httpx, whichever is installed, and lets their transport errors
# (timeouts, refused connections) through unwrapped; catch both families so either install is covered.
_TIMEOUTS: tuple[type[Exception], ...] = ()
_TRANSPORT: tuple[type[Exception], ...] = ()
for _module_name in ("httpx2", "httpx"):
    try:
        _module = importlib.import_module(_module_name)
    except ImportError:
        continue
    _TIMEOUTS += (_module.TimeoutException,)
    _TRANSPORT += (_module.TransportError,)


class GeminiProvider:
    name = "gemini"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        timeout: float = 20.0,
        max_retries: int = 2,
        retry_delay: float = 1.0,
    ) -> None:
        if not api_key:
            raise ProviderError("unavailable", "No Gemini API key is configured.")
        self.model = model
        # `timeout` bounds the whole call, retries included (budget.call_within), so the SDK makes one attempt
        # per request (no retry_options); each attempt's timeout goes in the request, in integer milliseconds
        # (0 would mean "no timeout").
        self.timeout, self.max_retries, self.retry_delay = timeout, max_retries, retry_delay
        http_options = types.HttpOptions(base_url=base_url or None, timeout=_millis(timeout))
        # vertexai=False pins the Developer API even if GOOGLE_GENAI_USE_VERTEXAI is set in the environment.
        self._client = genai.Client(api_key=api_key, vertexai=False, http_options=http_options)

    def complete(self, *, system: str, prompt: str, max_tokens: int = 1024, json_mode: bool = False) -> Completion:
        started = time.perf_counter()

        def attempt(timeout: float) -> types.GenerateContentResponse:
            config = types.GenerateContentConfig(
                system_instruction=system or None,
                max_output_tokens=max_tokens,
                # JSON mode makes Gemini emit bare JSON; the caller still validates it against its schema.
                response_mime_type="application/json" if json_mode else None,
                http_options=types.HttpOptions(timeout=_millis(timeout)),
            )
            try:
                return self._client.models.generate_content(model=self.model, contents=prompt, config=config)
            except errors.APIError as error:
                raise _status_error(error) from error
            except _TIMEOUTS as error:
                raise ProviderError("timeout", "Gemini did not answer in time.") from error
            except _TRANSPORT as error:
                raise ProviderError("unavailable", f"Could not reach Gemini: {error}") from error
            except ValueError as error:
                # The body was not the JSON the SDK expects: errors.UnknownApiResponseError and pydantic's
                # ValidationError are both ValueErrors.
                raise ProviderError("malformed", "Gemini sent a response the SDK could not read.") from error

        response = call_within(attempt, budget=self.timeout, max_retries=self.max_retries,
                               retry_delay=self.retry_delay)
        latency_ms = (time.perf_counter() - started) * 1000
        text = _answer_text(response)
        if not text:
            # Blocked by a safety filter, or max_output_tokens spent on thinking: no answer to use.
            reason = response.candidates[0].finish_reason if response.candidates else "no candidates"
            raise ProviderError("malformed", f"Empty reply from Gemini (finish_reason={reason}).")
        usage = response.usage_metadata
        completion = Completion(
            text=text,
            provider=self.name,
            model=response.model_version or self.model,
            input_tokens=(usage.prompt_token_count or 0) if usage else 0,
            # Thinking tokens are billed as output, so they count here too.
            output_tokens=((usage.candidates_token_count or 0) + (usage.thoughts_token_count or 0)) if usage else 0,
            latency_ms=latency_ms,
        )
        log_completion(completion)
        return completion


def _millis(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _answer_text(response: types.GenerateContentResponse) -> str:
    """The first candidate's visible text; thought summaries are not part of the answer."""
    if not response.candidates or not response.candidates[0].content:
        return ""
    parts = response.candidates[0].content.parts or []
    return "".join(part.text for part in parts if part.text and not part.thought).strip()


def _status_error(error: errors.APIError) -> ProviderError:
    code = error.code or 0
    headers = getattr(error.response, "headers", None)
    if code == 429:
        return ProviderError("rate_limited", "Gemini rate limit reached.", retry_after=retry_after(headers))
    if code in (401, 403) or "API_KEY_INVALID" in str(error.details):
        # Gemini answers a wrong key with 400 INVALID_ARGUMENT and reason API_KEY_INVALID, not 401.
        return ProviderError("auth", "Gemini rejected the API key.")
    if code == 408:
        return ProviderError("timeout", "Gemini timed out the request.")
    if code >= 500:
        return ProviderError("server_error", f"Gemini server error {code}.", retry_after=retry_after(headers))
    return ProviderError("bad_request", f"Gemini refused the request ({code}): {error.message}")
