"""Which provider a brokerage uses, and building that provider from Django settings."""

import functools
import logging

from django.conf import settings

from .base import Provider, ProviderError

logger = logging.getLogger("copilot.llm")

PROVIDER_NAMES = ("local", "anthropic", "gemini")


def provider_name_for(brokerage) -> str:
    """The engine this brokerage uses ("local", "anthropic" or "gemini"): its `ai_provider` setting, where
    "default" means settings.LLM_PROVIDER.

    Reads a tenant-scoped model, so it needs an active django-scopes scope (request or task scope).
    """
    # Imported here so that importing copilot.llm never requires the app registry to be ready.
    from brokerages.selectors import setting_value

    name = setting_value(brokerage, "ai_provider")
    if name == "default":
        name = settings.LLM_PROVIDER
    name = str(name).strip().lower()
    if name not in PROVIDER_NAMES:
        # A mistyped LLM_PROVIDER must not break AI features: the local engine always works.
        logger.warning("unknown ai provider %r, using the local engine", name)
        return "local"
    return name


def get_provider(name: str) -> Provider | None:
    """The provider called `name`, or None for the local engine.

    Raises ProviderError(kind="unavailable") when its API key is not configured or the name is unknown.
    """
    if name == "local":
        return None
    if name == "anthropic":
        return _build(name, settings.ANTHROPIC_API_KEY, settings.ANTHROPIC_MODEL, settings.ANTHROPIC_BASE_URL,
                      settings.LLM_TIMEOUT_SECONDS, settings.LLM_MAX_RETRIES)
    if name == "gemini":
        return _build(name, settings.GEMINI_API_KEY, settings.GEMINI_MODEL, settings.GEMINI_BASE_URL,
                      settings.LLM_TIMEOUT_SECONDS, settings.LLM_MAX_RETRIES)
    raise ProviderError("unavailable", f"Unknown AI provider {name!r}.")


@functools.lru_cache(maxsize=8)
def _build(name: str, api_key: str, model: str, base_url: str, timeout: float, max_retries: int) -> Provider:
    # One client per configuration and process, so connection pools are reused across calls. The key is the
    # whole configuration, and the clients hold no tenant data, so nothing leaks between brokerages; a
    # changed setting simply builds a new client. A missing key raises ProviderError in the provider's
    # constructor, and lru_cache does not cache exceptions.

    # SDKs are imported only when a model provider is used: the local engine needs neither.
    if name == "anthropic":
        from .anthropic_provider import AnthropicProvider

        return AnthropicProvider(api_key, model, base_url or None, timeout=timeout, max_retries=max_retries)
    from .gemini_provider import GeminiProvider

    return GeminiProvider(api_key, model, base_url or None, timeout=timeout, max_retries=max_retries)
