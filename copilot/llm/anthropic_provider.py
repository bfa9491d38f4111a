"""Claude through the official `anthropic` SDK."""

import time

import anthropic

from .base import JSON_INSTRUCTION, Completion, ProviderError, log_completion
from .budget import call_within, retry_after


class AnthropicProvider:
    name = "anthropic"

    def __init__(
        self, api_key: str, model: str, base_url: str | None = None, timeout: float = 20.0, max_retries: int = 2,
        retry_delay: float = 0.5,
    ) -> None:
        if not api_key:
            raise ProviderError("unavailable", "No Anthropic API key is configured.")
        self.model = model
        # `timeout` bounds the whole call, retries included (budget.call_within), so the SDK makes one attempt
        # per request. An explicit api_key also stops it from reading credentials from the environment or a
        # profile on disk.
        self.timeout, self.max_retries, self.retry_delay = timeout, max_retries, retry_delay
        self._client = anthropic.Anthropic(api_key=api_key, base_url=base_url or None, timeout=timeout, max_retries=0)

    def complete(self, *, system: str, prompt: str, max_tokens: int = 1024, json_mode: bool = False) -> Completion:
        # JSON is asked for in the system prompt, not by prefilling the reply with "{": current Claude models
        # reject a prefilled assistant turn, and the caller's JSON extraction tolerates fences and prose.
        if json_mode:
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        started = time.perf_counter()

        def attempt(timeout: float):
            try:
                return self._client.messages.create(
                    model=self.model,
                    max_tokens=max_tokens,
                    system=system,
                    messages=[{"role": "user", "content": prompt}],
                    timeout=timeout,
                )
            except anthropic.AnthropicError as error:
                raise _provider_error(error) from error
            except ValueError as error:
                # A 200 whose body is not JSON (a proxy's error page, say) escapes the SDK as a JSONDecodeError.
                raise ProviderError("malformed", "Claude sent a response the SDK could not read.") from error

        message = call_within(attempt, budget=self.timeout, max_retries=self.max_retries,
                              retry_delay=self.retry_delay)
        latency_ms = (time.perf_counter() - started) * 1000
        text = "".join(block.text for block in message.content if block.type == "text").strip()
        if not text:
            # A refusal or a reply cut off before any text is no answer; the local engine does better.
            raise ProviderError("malformed", f"Empty reply from Claude (stop_reason={message.stop_reason}).")
        completion = Completion(
            text=text,
            provider=self.name,
            model=message.model or self.model,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
            latency_ms=latency_ms,
        )
        log_completion(completion)
        return completion


def _provider_error(error: anthropic.AnthropicError) -> ProviderError:
    # Order matters: APITimeoutError is an APIConnectionError, RateLimitError an APIStatusError.
    if isinstance(error, anthropic.APITimeoutError):
        return ProviderError("timeout", "Claude did not answer in time.")
    if isinstance(error, anthropic.APIConnectionError):
        return ProviderError("unavailable", f"Could not reach Claude: {error}")
    if isinstance(error, anthropic.RateLimitError):
        return ProviderError("rate_limited", "Claude rate limit reached.",
                             retry_after=retry_after(error.response.headers))
    if isinstance(error, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return ProviderError("auth", "Claude rejected the API key.")
    if isinstance(error, anthropic.APIStatusError):
        if error.status_code == 408:
            return ProviderError("timeout", "Claude timed out the request.")
        if error.status_code >= 500:
            return ProviderError("server_error", f"Claude server error {error.status_code}.",
                                 retry_after=retry_after(error.response.headers))
        return ProviderError("bad_request", f"Claude refused the request ({error.status_code}): {error.api_message}")
    if isinstance(error, anthropic.APIResponseValidationError):
        return ProviderError("malformed", "Claude sent a response the SDK could not read.")
    if isinstance(error, anthropic.CredentialsError):
        return ProviderError("auth", "Claude credentials are not usable.")
    return ProviderError("server_error", f"Claude call failed: {type(error).__name__}")
