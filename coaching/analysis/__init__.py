"""Conversation analysis for coaching: one contract, two engines (see DESIGN, "AI features").

`analyse(messages, final=...)` is the local rule/lexicon engine: deterministic, offline and fast enough to run
after every message. `analyse_with(engine, messages)` runs a model (Claude or Gemini) with validated structured
output and falls back to the local engine, marked degraded, when the model fails or answers badly.
"""

from .local import analyse
from .model import analyse_with
from .types import AREA_LABELS, AREAS, EXPERTISE_AREAS, EXPERTISE_LABELS, SEVERITIES, Analysis, Finding, MessageIn

__all__ = ["AREAS", "AREA_LABELS", "EXPERTISE_AREAS", "EXPERTISE_LABELS", "SEVERITIES", "Analysis", "Finding", "MessageIn", "analyse",
           "analyse_with"]
