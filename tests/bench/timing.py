"""Shared timing helpers for the benchmarks: sample latencies, summarise them (median, p95), print one line per
benchmark and keep the numbers in var/bench/<name>.json for the benchmark table.

Percentiles use the inclusive method of `statistics.quantiles` (linear interpolation between order statistics).
"""

import json
import os
import platform
import statistics
import subprocess
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUT_DIR = Path(os.environ.get("BENCH_OUT_DIR", ROOT / "var" / "bench"))

# Lines printed at the end of the pytest run (see conftest.pytest_terminal_summary).
SUMMARY_LINES: list[str] = []


@dataclass
class Stats:
    samples: int
    median_ms: float
    p95_ms: float
    mean_ms: float
    min_ms: float
    max_ms: float

    @classmethod
    def of(cls, durations_ms: list[float]) -> "Stats":
        if len(durations_ms) < 2:
            raise ValueError("need at least two samples for a percentile")
        p95 = statistics.quantiles(durations_ms, n=100, method="inclusive")[94]
        return cls(len(durations_ms), round(statistics.median(durations_ms), 3), round(p95, 3),
                   round(statistics.fmean(durations_ms), 3), round(min(durations_ms), 3), round(max(durations_ms), 3))


def time_ms(fn: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def sample(fn: Callable[[object], object], inputs: Iterable, *, check: Callable[[object, object], None] | None = None,
           ) -> list[float]:
    """One duration (ms) per input; `check(input, result)` runs outside the timed span."""
    durations = []
    for item in inputs:
        elapsed, result = time_ms(lambda item=item: fn(item))
        if check is not None:
            check(item, result)
        durations.append(elapsed)
    return durations


def _git_commit() -> str:
    """The commit measured, with "+dirty" when the work tree has changes (the numbers are of what was on disk)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,  # noqa: S603,S607
                              timeout=10, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,  # noqa: S603,S607
                               capture_output=True, text=True, timeout=10, check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{head}+dirty" if dirty else head


@dataclass
class BenchResult:
    issue: int  # the issue whose target this measures
    name: str
    description: str
    database: str
    target: Stats
    baseline_name: str
    baseline: Stats
    limit_p95_ms: float
    rounds: int
    dataset: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    informational: bool = False  # reported against the limit for context, not asserted

    @property
    def ratio(self) -> float:
        return round(self.target.median_ms / self.baseline.median_ms, 1) if self.baseline.median_ms else float("inf")

    @property
    def met(self) -> bool:
        return self.target.p95_ms <= self.limit_p95_ms

    def line(self) -> str:
        return (f"{self.description} ({self.database}): median {self.target.median_ms:.1f} ms, "
                f"p95 {self.target.p95_ms:.1f} ms, baseline {self.baseline_name} median "
                f"{self.baseline.median_ms:.2f} ms (ratio {self.ratio}x); target p95 <= {self.limit_p95_ms:g} ms: "
                f"{'MET' if self.met else 'MISSED'}{' (informational, not asserted)' if self.informational else ''}")

    def publish(self) -> Path:
        """Print the summary line and write var/bench/<name>.json; returns the JSON path."""
        import django

        OUT_DIR.mkdir(parents=True, exist_ok=True)
        path = OUT_DIR / f"{self.name}.json"
        payload = {
            "issue": self.issue, "name": self.name, "description": self.description, "database": self.database,
            "target": {"metric": "p95_ms", "limit_ms": self.limit_p95_ms, "met": self.met,
                       "asserted": not self.informational},
            "result": asdict(self.target), "baseline": {"name": self.baseline_name, **asdict(self.baseline)},
            "ratio_median": self.ratio, "rounds": self.rounds, "dataset": self.dataset, "notes": self.notes,
            "line": self.line(),
            "commit": _git_commit(),
            "environment": {"python": platform.python_version(), "django": django.get_version(),
                            "machine": platform.machine(), "cpus": os.cpu_count(), "platform": platform.platform(),
                            # other work on the machine inflates latencies; the load shows how busy it was
                            "load_average_1_5_15": [round(x, 2) for x in os.getloadavg()]},
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        path.write_text(json.dumps(payload, indent=2) + "\n")
        SUMMARY_LINES.append(self.line())
        print("\n" + self.line())
        return path
