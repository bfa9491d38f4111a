"""The benchmark table: every result a benchmark run left in var/bench/ (one JSON file per measured target, see
timing.BenchResult.publish), printed as one table and written as var/bench/table.json and var/bench/table.md.

    python -m tests.bench.table [DIR]

Each row is one target from the issues: the measured median and p95, the baseline measured in the same run and
the ratio of the medians. Exits non-zero when a result file is unreadable; a missed target is shown, not fatal
(the benchmark itself asserts the targets that are asserted).
"""

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

from .timing import OUT_DIR

COLUMNS = ("issue", "target", "database", "median ms", "p95 ms", "limit", "baseline", "base median",
           "base p95", "ratio", "status")


def rows(results: list[dict]) -> list[dict]:
    table = []
    for result in sorted(results, key=lambda r: (r["issue"], r["name"])):
        met = result["target"]["met"]
        status = "met" if met else "MISSED"
        if not result["target"]["asserted"]:
            status += " (informational)"
        table.append({
            "issue": result["issue"], "name": result["name"], "target": result["description"],
            "database": result["database"], "median_ms": result["result"]["median_ms"],
            "p95_ms": result["result"]["p95_ms"], "limit_p95_ms": result["target"]["limit_ms"],
            "metric": result["target"].get("metric", "p95_ms"), "max_ms": result["result"].get("max_ms"),
            "baseline": result["baseline"]["name"], "baseline_median_ms": result["baseline"]["median_ms"],
            "baseline_p95_ms": result["baseline"]["p95_ms"], "ratio_median": result["ratio_median"],
            "samples": result["result"]["samples"], "met": met, "asserted": result["target"]["asserted"],
            "status": status, "commit": result.get("commit"), "measured_at": result.get("measured_at"),
            "load_average_1_5_15": result.get("environment", {}).get("load_average_1_5_15"),
        })
    return table


def _cells(row: dict) -> tuple[str, ...]:
    # The load test's limit is on its slowest request (and no errors), not on the p95 (tests/bench/bench_load.py).
    limit = (f"max < {row['limit_p95_ms']:g}: {row['max_ms']:.1f}" if row["metric"] == "max_ms"
             else f"<= {row['limit_p95_ms']:g}")
    return (f"#{row['issue']}", row["target"], row["database"], f"{row['median_ms']:.1f}", f"{row['p95_ms']:.1f}",
            limit, row["baseline"], f"{row['baseline_median_ms']:.2f}",
            f"{row['baseline_p95_ms']:.2f}", f"{row['ratio_median']}x", row["status"])


def text_table(table: list[dict]) -> str:
    lines = [COLUMNS, *(_cells(row) for row in table)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(COLUMNS))]
    rendered = ["  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
                for line in lines]
    rendered.insert(1, "  ".join("-" * width for width in widths))
    return "\n".join(rendered)


def markdown_table(table: list[dict]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "/") for cell in _cells(row)) + " |" for row in table]
    return "\n".join(lines)


def main(directory: Path) -> int:
    results = []
    for path in sorted(directory.glob("*.json")):
        if path.name == "table.json":
            continue
        try:
            results.append(json.loads(path.read_text()))
        except (OSError, ValueError) as error:
            print(f"{path}: unreadable benchmark result ({error})", file=sys.stderr)
            return 1
    if not results:
        print(f"No benchmark results in {directory}.", file=sys.stderr)
        return 1
    table = rows(results)
    missed = [row["name"] for row in table if not row["met"]]
    summary = {"generated_at": datetime.now(UTC).isoformat(timespec="seconds"), "targets": len(table),
               "met": len(table) - len(missed), "missed": missed, "rows": table}
    (directory / "table.json").write_text(json.dumps(summary, indent=2) + "\n")
    (directory / "table.md").write_text(markdown_table(table) + "\n")
    print(f"\nBenchmark table ({len(table)} targets, {len(table) - len(missed)} met)\n")
    print(text_table(table))
    print(f"\nWritten: {directory / 'table.json'} and {directory / 'table.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT_DIR))
