"""check.on_run_end's verdict at the end of a run, from hand-made results: fail raises
one error after logging one ERROR, warn logs the same as a WARNING, undecided never
fails (the e2e runs are in tests/e2e/test_e2e_check.py)."""

from __future__ import annotations

import logging

from kedro_metrics.hook.run_check import RunCheckFailed, _told
from tests.reading.test_report import REGRESSION, result

PASSING = result(
    {"m.accuracy": 0.95, "m.loss": 0.3, "x.auc": 0.7}, {"m.accuracy": 0.9, "m.loss": 0.4}
)
UNDECIDED = result({"m.accuracy": 0.95, "x.auc": 0.7}, None)


def records(caplog, level):
    return [
        r for r in caplog.records if r.name == "kedro_metrics.hook.run_check" and r.levelno == level
    ]


def test_fail_logs_one_error_and_returns_the_exit_1_error(caplog):
    caplog.set_level(logging.INFO)
    error = _told(REGRESSION, failing=True)
    assert isinstance(error, RunCheckFailed) and error.exit_code == 1
    assert str(error) == (
        "run a1b2c3d4 failed 3 of 6 gate checks (metrics.yml check.on_run_end: fail); the run "
        "stays FINISHED. See `kedro metrics check a1b2c3d4`."
    )
    (logged,) = records(caplog, logging.ERROR)
    assert logged.getMessage().splitlines()[1:] == [
        "  m.accuracy (max_drop: 0.01): 0.9 is below 0.91, the baseline 0.92 minus the max_drop 0.01",
        "  m.loss (max_drop_pct: 5): 0.5 is above 0.42, the baseline 0.4 plus 5%",
        "  *.auc (required: true): no key of the run matches '*.auc' (required)",
    ]


def test_warn_logs_the_same_as_a_warning_and_does_not_fail(caplog):
    caplog.set_level(logging.INFO)
    assert _told(REGRESSION, failing=False) is None
    assert records(caplog, logging.ERROR) == []
    (logged,) = records(caplog, logging.WARNING)
    assert "Failed:" in logged.getMessage()


def test_undecided_never_fails(caplog):
    caplog.set_level(logging.INFO)
    assert UNDECIDED.passed is None
    assert _told(UNDECIDED, failing=True) is None
    (logged,) = records(caplog, logging.WARNING)
    assert logged.getMessage().startswith(
        "kedro-metrics: the check of run a1b2c3d4: 1 gate check could not decide"
    )


def test_passed_is_an_info_line(caplog):
    caplog.set_level(logging.INFO)
    assert PASSING.passed is True
    assert _told(PASSING, failing=True) is None
    (logged,) = records(caplog, logging.INFO)
    assert logged.getMessage().startswith("kedro-metrics: Check passed: run a1b2c3d4")
