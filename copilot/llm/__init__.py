"""The model-provider layer: one contract (`Provider.complete` -> `Completion`) for Claude and Gemini.

Features call `get_provider(provider_name_for(brokerage))`, run the model through `generate_structured`
inside `with_fallback`, and fall back to their local engine when the provider is None or the call fails.
"""

from .base import Completion, Provider, ProviderError, quote
from .fallback import with_fallback
from .registry import get_provider, provider_name_for
from .structured import extract_json_object, generate_structured

__all__ = [
    "Completion",
    "Provider",
    "ProviderError",
    "extract_json_object",
    "generate_structured",
    "get_provider",
    "provider_name_for",
    "quote",
    "with_fallback",
]
