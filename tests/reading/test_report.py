"""The check's report, pure: the Markdown (a golden file), the table rows, the
summary line and the reasons, from hand-made runs and gates (no store)."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from kedro_metrics.gates import Gates
from kedro_metrics.meaning import Declarations, RunMeaning
from kedro_metrics.points import MetricPoint
from kedro_metrics.reading import report
from kedro_metrics.reading.check import CheckResult, verdict_tags
from kedro_metrics.records import Run
from kedro_metrics.verdict import evaluate

GOLDEN = Path(__file__).parent / "golden" / "check_report.md"
DECLARED = Declarations.parse(
    {
        "*accuracy": {"direction": "max", "format": "percent"},
        "*loss": {"direction": "min"},
        "*recall": {"direction": "max"},
    },
    source="metrics.yml",
)
GATES = Gates.parse(
    {
        "m.accuracy": {"min": 0.85, "max_drop": 0.01},
        "m.loss": {"max_drop_pct": 5},
        "m.f1": {"min": 0.5},
        "*.auc": {"required": True},
        "m.recall": {"noise": {"runs": 3, "sigmas": 2}},
    },
    declarations=DECLARED,
    source="metrics.yml",
)


def run(run_id: str, name: str, values: dict[str, float]) -> Run:
    latest = {key: MetricPoint(key, value, 0, 1) for key, value in values.items()}
    return Run(run_id, name, "FINISHED", 1, 2, "exp", "1", latest=latest)


def result(checked: dict[str, float], baseline: dict[str, float] | None) -> CheckResult:
    meaning = RunMeaning({}, DECLARED)
    the_run = run("a1b2c3d4e5f6a7b8", "feature | run", checked)
    base = run("0f1e2d3c4b5a6978", "main run", baseline) if baseline is not None else None
    verdict = evaluate(
        GATES, run_values=checked, baseline_values=baseline,
        sample=[baseline] if baseline else [], meaning=meaning,
    )  # fmt: skip
    return CheckResult(the_run, base, verdict, meaning, None if base else "no run on main")


REGRESSION = result(
    {"m.accuracy": 0.9, "m.loss": 0.5, "m.recall": 0.7},
    {"m.accuracy": 0.92, "m.loss": 0.4, "m.recall": 0.8},
)


def test_markdown_golden():
    assert report.markdown(REGRESSION) == GOLDEN.read_text()


def test_markdown_starts_with_the_marker_and_escapes_pipes():
    lines = report.markdown(REGRESSION).splitlines()
    assert lines[0] == "<!-- kedro-metrics check -->"
    assert "(feature \\| run)" in lines[3]


def test_table_rows_in_declared_formats():
    headers, rows = report.table_rows(REGRESSION)
    assert headers == ["key", "rule", "baseline", "value", "change", "verdict"]
    assert rows == [
        ["m.accuracy", "min: 0.85", "92.00%", "90.00%", "-2.00%", ("passed", "green")],
        ["m.accuracy", "max_drop: 0.01", "92.00%", "90.00%", "-2.00%", ("FAILED", "bold red")],
        ["m.loss", "max_drop_pct: 5", "0.4", "0.5", "+0.1", ("FAILED", "bold red")],
        ["m.f1", "min: 0.5", "-", "-", "-", ("skipped", "dim")],
        ["*.auc", "required: true", "-", "-", "-", ("FAILED", "bold red")],
        ["m.recall", "noise: {runs: 3, sigmas: 2}", "0.8", "0.7", "-0.1", ("undecided", "yellow")],
    ]  # fmt: skip


def test_summary_and_reasons():
    assert report.summary(REGRESSION) == (
        "Check FAILED: run a1b2c3d4 (feature | run) against baseline 0f1e2d3c (main run); "
        "6 gate entries: 1 passed, 3 failed, 1 undecided, 1 skipped."
    )
    assert report.reasons(REGRESSION) == [
        "m.accuracy (max_drop: 0.01): 0.9 is below 0.91, the baseline 0.92 minus the max_drop 0.01",
        "m.loss (max_drop_pct: 5): 0.5 is above 0.42, the baseline 0.4 plus 5%",
        "m.f1 (min: 0.5): skipped: m.f1 is not in the run",
        "*.auc (required: true): no key of the run matches '*.auc' (required)",
        "m.recall (noise: {runs: 3, sigmas: 2}): 1 of the 3 newest baseline runs have a value "
        "of m.recall (1 found): noise needs 2",
    ]


@pytest.mark.parametrize(
    ("checked", "outcome", "headline"),
    [
        ({"m.accuracy": 0.95, "m.loss": 0.3, "m.f1": 0.6, "x.auc": 0.7}, "passed", "✅"),
        ({"m.accuracy": math.nan, "x.auc": 0.7}, "failed", "❌"),
    ],
)
def test_verdict_line_and_tags(checked, outcome, headline):
    found = result(checked, {"m.accuracy": 0.9, "m.loss": 0.4})
    assert found.outcome == outcome
    second = report.markdown(found).splitlines()[1]
    assert second.startswith(f"**{headline} kedro-metrics check")
    assert verdict_tags(found) == {
        "kedro_metrics.check": outcome, "kedro_metrics.check.baseline": "0f1e2d3c4b5a6978"
    }  # fmt: skip


def test_undecided_without_a_baseline_says_why():
    found = result({"m.accuracy": 0.95, "x.auc": 0.7, "m.loss": 0.3}, None)
    assert found.passed is None
    assert found.why_undecided == (
        "2 gate checks could not decide; first: m.accuracy (max_drop: 0.01): no baseline run"
    )
    lines = report.markdown(found).splitlines()
    assert lines[1] == (
        "**⚠️ kedro-metrics check could not decide**: 2 of 6 gate checks could not decide."
    )
    assert lines[3] == "Run `a1b2c3d4` (feature \\| run) against no baseline (no run on main)."
    assert report.reasons(found)[0] == "No baseline: no run on main"
    assert verdict_tags(found) == {"kedro_metrics.check": "undecided"}
