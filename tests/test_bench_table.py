"""The benchmark table that `make bench` prints (tests/bench/table.py): one row per target, the baseline beside
it, a missed target shown as missed, and the same rows written as JSON and Markdown."""

import json

from tests.bench import table


def _result(name: str, *, issue: int, p95: float, limit: float, asserted: bool = True) -> dict:
    return {"issue": issue, "name": name, "description": f"{name} described", "database": "postgresql 15.18",
            "target": {"metric": "p95_ms", "limit_ms": limit, "met": p95 <= limit, "asserted": asserted},
            "result": {"samples": 60, "median_ms": p95 / 2, "p95_ms": p95},
            "baseline": {"name": "bare push", "median_ms": 2.5, "p95_ms": 4.0},
            "ratio_median": round(p95 / 2 / 2.5, 1), "commit": "abc1234", "measured_at": "2026-11-21T10:00:00+00:00",
            "environment": {"load_average_1_5_15": [0.5, 0.4, 0.3]}}


def test_the_table_lists_every_target_by_issue_and_flags_the_missed_one(tmp_path, capsys):
    (tmp_path / "b.json").write_text(json.dumps(_result("alerts", issue=9, p95=33.0, limit=30.0)))
    (tmp_path / "a.json").write_text(json.dumps(_result("search", issue=3, p95=12.0, limit=30.0)))
    (tmp_path / "c.json").write_text(json.dumps(_result("closed_loop", issue=8, p95=600.0, limit=50.0,
                                                        asserted=False)))

    assert table.main(tmp_path) == 0

    printed = capsys.readouterr().out
    lines = [line for line in printed.splitlines() if line.startswith("#")]
    assert [line.split()[0] for line in lines] == ["#3", "#8", "#9"]
    assert "met" in lines[0] and "MISSED (informational)" in lines[1] and lines[2].endswith("MISSED")
    assert "bare push" in lines[0] and "12.0" in lines[0] and "<= 30" in lines[0]
    written = json.loads((tmp_path / "table.json").read_text())
    assert (written["targets"], written["met"], written["missed"]) == (3, 1, ["closed_loop", "alerts"])
    assert written["rows"][2]["baseline_median_ms"] == 2.5
    markdown = (tmp_path / "table.md").read_text().splitlines()
    assert len(markdown) == 2 + 3 and markdown[2].startswith("| #3 | search described |")


def test_an_empty_or_unreadable_result_folder_fails_with_a_message(tmp_path, capsys):
    assert table.main(tmp_path) == 1
    assert "No benchmark results" in capsys.readouterr().err
    (tmp_path / "broken.json").write_text("{not json")
    assert table.main(tmp_path) == 1
    assert "broken.json: unreadable benchmark result" in capsys.readouterr().err
