"""Typed answers from a model: ask for JSON, find it in the reply, validate it with pydantic."""

import json
import re
from typing import TypeVar

import pydantic

from .base import Completion, Provider, ProviderError

M = TypeVar("M", bound=pydantic.BaseModel)

# A ```json … ``` (or bare ```) block; models add one even when told not to.
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.IGNORECASE | re.DOTALL)


def extract_json_object(text: str) -> dict:
    """The first JSON object in `text`, inside a code fence or after leading prose.

    Raises ProviderError(kind="malformed") when there is none.
    """
    candidates = [match.group(1) for match in _FENCE.finditer(text)] + [text]
    decoder = json.JSONDecoder()
    for candidate in candidates:
        # Try each "{" in turn: prose before the object may itself contain braces.
        for match in re.finditer(r"\{", candidate):
            try:
                value, _end = decoder.raw_decode(candidate, match.start())
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ProviderError("malformed", "The model's reply contains no JSON object.")


def generate_structured(
    provider: Provider, *, system: str, prompt: str, schema: type[M], max_tokens: int = 1024
) -> tuple[M, Completion]:
    """Ask for an answer shaped like `schema` and return it validated, with the raw completion.

    A reply that is not JSON or does not fit the schema raises ProviderError(kind="malformed"), so callers can
    fall back to the local engine exactly as for a timeout.
    """
    # The schema goes into the system prompt so both providers see the same shape to fill in.
    shape = json.dumps(schema.model_json_schema(), separators=(",", ":"))
    system = f"{system}\n\nThe JSON object must match this JSON Schema:\n{shape}"
    completion = provider.complete(system=system, prompt=prompt, max_tokens=max_tokens, json_mode=True)
    data = extract_json_object(completion.text)
    try:
        return schema.model_validate(data), completion
    except pydantic.ValidationError as error:
        fields = ", ".join(".".join(str(part) for part in item["loc"]) or "(root)" for item in error.errors()[:5])
        raise ProviderError("malformed", f"The model's JSON does not fit {schema.__name__}: {fields}") from error
