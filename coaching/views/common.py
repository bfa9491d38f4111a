"""What the coaching pages share: the access decorator, the analysis as the pages show it, and the way back
after an action.

htmx swaps only 2xx responses, so a fragment with form errors answers 200 (the errors are in it); a full page
with form errors answers 400.
"""

from dataclasses import dataclass
from functools import wraps

from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from brokerages.permissions import request_perms
from brokerages.web import tenant_view

from ..analysis import AREA_LABELS, EXPERTISE_LABELS
from ..analysis.types import AREAS, Analysis, Finding
from ..permissions import is_coach, uses_coaching

GOOD_SCORE, POOR_SCORE = 70, 60


def coaching_view(perm: str | None = None, *, lookup=None, allow=None):
    """`tenant_view` for coaching pages. With `perm`, the member needs it; without, either coaching permission
    (coached or coaching) — lists then narrow themselves to what the member may see."""

    def decorator(view):
        @tenant_view(perm or "view_brokerage", lookup=lookup, allow=allow)
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if perm is None and not uses_coaching(request_perms(request)):
                raise PermissionDenied("Your role does not allow this.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def is_manager(request) -> bool:
    return is_coach(request_perms(request))


def fragment(request) -> bool:
    """An htmx request for a fragment (a boosted link or form wants the whole page)."""
    return bool(request.htmx) and not request.htmx.boosted


def back(request, default: str, **kwargs):
    """Redirect to the form's `next` (a path on this site) or to `default`."""
    target = request.POST.get("next") or request.GET.get("next")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default, **kwargs)


def label(key: str) -> str:
    return AREA_LABELS.get(key) or EXPERTISE_LABELS.get(key) or key.replace("_", " ").capitalize()


def grade(score: float | None) -> str:
    """The CSS class of a 0–100 score: the issue's scoring contract (≥ 70 handled well, < 60 handled badly)."""
    if score is None:
        return "none"
    return "good" if score >= GOOD_SCORE else "poor" if score < POOR_SCORE else "fair"


@dataclass(frozen=True)
class Bar:
    key: str
    label: str
    score: float | None
    team: float | None = None  # the team's mean, drawn as a mark on the bar

    @property
    def grade(self) -> str:
        return grade(self.score)


@dataclass(frozen=True)
class AnalysisView:
    """An analysis as the pages show it: bars per area, issues before strengths."""

    analysis: Analysis
    areas: list[Bar]
    expertise: list[Bar]
    issues: list[Finding]
    strengths: list[Finding]

    @property
    def grade(self) -> str:
        return grade(self.analysis.overall_quality_score)

    @property
    def talk_ratio_percent(self) -> int | None:
        ratio = self.analysis.talk_ratio
        return None if ratio is None else round(ratio * 100)


def analysis_view(data: dict) -> AnalysisView | None:
    if not data:
        return None
    analysis = Analysis.from_dict(data)
    return AnalysisView(
        analysis=analysis,
        areas=[Bar(area, label(area), analysis.quality_scores_by_area.get(area)) for area in AREAS],
        expertise=[Bar(key, label(key), score) for key, score in analysis.expertise_scores.items()],
        issues=[finding for finding in analysis.findings if not finding.positive],
        strengths=[finding for finding in analysis.findings if finding.positive],
    )


def profile_bars(scores: dict, team: dict | None = None) -> list[Bar]:
    """A profile's scores by area as bars (areas without data shown as such, not as zero)."""
    return [Bar(key, label(key), score, (team or {}).get(key)) for key, score in scores.items()]
