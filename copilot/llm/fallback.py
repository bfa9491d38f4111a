"""Model first, local engine when the model fails: every AI feature degrades instead of erroring."""

import logging
from collections.abc import Callable
from typing import TypeVar

from .base import ProviderError

logger = logging.getLogger("copilot.llm")

T = TypeVar("T")


def with_fallback(model_call: Callable[[], T], local_call: Callable[[], T]) -> tuple[T, bool, str | None]:
    """Return (result, degraded, reason).

    `degraded` is True when the model call raised ProviderError and the local engine answered instead;
    `reason` is then the error's kind (stable and safe to show), otherwise None. Other exceptions are bugs
    and propagate.
    """
    try:
        return model_call(), False, None
    except ProviderError as error:
        logger.warning("llm call failed, using the local engine: kind=%s %s", error.kind, error.message)
        return local_call(), True, error.kind
