"""How a check's verdict is shown: the table's rows and the Markdown report of
``kedro metrics check``. Pure: a ``CheckResult`` in, text out.

Values and changes are in each key's declared format (``meaning``), runs named by
their 8-character ids, as in every table of the CLI.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_metrics.records import Run
from kedro_metrics.verdict import Entry

if TYPE_CHECKING:
    from kedro_metrics.reading.check import CheckResult

#: The first line of the Markdown report: a CI step finds its own comment by it.
MARKER = "<!-- kedro-metrics check -->"
#: The table's columns.
HEADERS = ["key", "rule", "baseline", "value", "change", "verdict"]
#: An entry's verdict in the table, and its style in a colour terminal.
VERDICTS = {
    "passed": ("passed", "green"),
    "failed": ("FAILED", "bold red"),
    "skipped": ("skipped", "dim"),
    "undecided": ("undecided", "yellow"),
}
#: An entry's verdict in the Markdown report.
SYMBOLS = {"passed": "✅", "failed": "❌", "undecided": "⚠️", "skipped": "➖"}
#: The check's verdict in words, by ``CheckResult.outcome``.
HEADLINES = {"passed": "passed", "failed": "FAILED", "undecided": "could not decide"}


def entry_state(entry: Entry) -> str:
    """passed, failed, skipped or undecided."""
    if entry.passed is True:
        return "passed"
    if entry.passed is False:
        return "failed"
    return "skipped" if entry.skipped else "undecided"


def run_label(run: Run | None) -> str:
    return "none" if run is None else f"{run.short_id} ({run.run_name})"


def summary(result: CheckResult) -> str:
    """One line: the verdict, the runs, how many entries failed or could not decide."""
    entries = result.gates
    counts = {state: 0 for state in SYMBOLS}
    for entry in entries:
        counts[entry_state(entry)] += 1
    told = [f"{counts['passed']} passed"]
    told += [f"{counts[s]} {s}" for s in ("failed", "undecided", "skipped") if counts[s]]
    return (
        f"Check {HEADLINES[result.outcome]}: run {run_label(result.run)} against baseline "
        f"{run_label(result.baseline)}; {len(entries)} gate entries: {', '.join(told)}."
    )


def table_rows(result: CheckResult) -> tuple[list[str], list[list[str | tuple[str, str]]]]:
    """The table's headers and rows, a row per entry; the verdict cell styled."""
    rows: list[list[str | tuple[str, str]]] = []
    for entry in result.gates:
        baseline, value, change = _cells(result, entry)
        rows.append([entry.name, entry.rule, baseline, value, change, VERDICTS[entry_state(entry)]])
    return HEADERS, rows


def reasons(result: CheckResult) -> list[str]:
    """Why there is no baseline run (when there is none), then a line per entry that
    did not pass: key, rule, why."""
    found = [f"No baseline: {result.no_baseline}"] if result.no_baseline else []
    return found + [
        f"{entry.name} ({entry.rule}): {entry.reason}"
        for entry in result.gates
        if entry.passed is not True and entry.reason
    ]


def markdown(result: CheckResult) -> str:
    """GitHub-flavoured Markdown for a pull-request comment, ending with a newline."""
    symbol = SYMBOLS[result.outcome]
    entries = result.gates
    failed = sum(entry.passed is False for entry in entries)
    undecided = len(result.verdict.undecided)
    if result.outcome == "failed":
        verdict = f"{failed} of {len(entries)} gate checks failed."
    elif result.outcome == "undecided":
        verdict = f"{undecided} of {len(entries)} gate checks could not decide."
    else:
        verdict = f"every gate check passed ({len(entries)})."
    baseline = (
        f"baseline {_run_md(result.baseline)}"
        if result.baseline is not None
        else f"no baseline ({_cell(result.no_baseline or 'none')})"
    )
    lines = [
        MARKER,
        f"**{symbol} kedro-metrics check {HEADLINES[result.outcome]}**: {verdict}",
        "",
        f"Run {_run_md(result.run)} against {baseline}.",
        "",
        "| | Metric | Rule | Baseline | Run | Change | Reason |",
        "|:-:|---|---|--:|--:|--:|---|",
    ]
    for entry in entries:
        baseline_cell, value, change = _cells(result, entry)
        cells = [
            SYMBOLS[entry_state(entry)], f"`{entry.name}`", f"`{entry.rule}`",
            baseline_cell, value, change, _cell(entry.reason or ""),
        ]  # fmt: skip
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _cells(result: CheckResult, entry: Entry) -> tuple[str, str, str]:
    """The baseline, value and change of an entry in its key's format."""
    meaning = result.meaning(entry.name)
    change = None
    if entry.value is not None and entry.baseline is not None:
        change = entry.value - entry.baseline
    return meaning.show(entry.baseline), meaning.show(entry.value), meaning.show_change(change)


def _run_md(run: Run) -> str:
    return f"`{run.short_id}` ({_cell(run.run_name)})"


def _cell(text: str) -> str:
    """Text safe in a Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")
