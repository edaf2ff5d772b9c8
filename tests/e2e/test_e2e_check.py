"""`kedro metrics check` after real `kedro run`s in a real git repository: a run on
`main` and runs on a feature branch (the hook's branch tag), the exit codes, the
exact JSON, the Markdown report, the verdict tags, `check: {on_run_end: fail}`, and
`kedro_metrics.check()` inside a node; on sqlite and on a loopback `mlflow server`.

The runs, oldest first, of the ``gated`` pipeline (``nodes.quality_scores`` then
``nodes.register_when_passed``, which logs the node's own verdict as
``gate_metrics.verdict``: 1 passed, 0 failed, -1 undecided):

- ``F0`` on ``feature``, quality 0.875, before ``main`` has any run;
- ``M`` on ``main``, quality 0.75;
- ``F1`` on ``feature``, 0.875 (better than ``M``), ``F2`` 0.625 (worse);
- ``F3`` on ``feature``, 0.625, with ``check: {on_run_end: fail}``.

quality q gives ``scored_metrics.accuracy`` = q, ``.f1`` = q - 0.125 and ``.loss`` =
[1.0, 1 - q, 1.25 - q], whose ``min`` the run does not store: the check computes it.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import metrics_in_process
from tests.e2e.test_e2e_run_context import git

pytestmark = pytest.mark.e2e

METRICS_YML = """\
baseline: "branch:main"
metrics:
  "*accuracy": {direction: max, format: percent}
  "*loss": {direction: min, format: ".4f"}
gates:
  "scored_metrics.accuracy": {min: 0.5, max_drop: 0.05}
  "scored_metrics.loss.min": {max_drop_pct: 10}
  "*.f1": {required: true}
"""
FAIL_AT_RUN_END = "check: {on_run_end: fail}\n"
RUNS = (("F0", "feature", 0.875), ("M", "main", 0.75), ("F1", "feature", 0.875),
        ("F2", "feature", 0.625), ("F3", "feature", 0.625))  # fmt: skip


@dataclass(frozen=True)
class Runs:
    project: Path
    store: Any
    ids: dict[str, str]
    names: dict[str, str]
    results: dict[str, Any]


def start_repository(project: Path) -> None:
    git(project, "init", "-q", "-b", "main")
    git(project, "add", ".")
    git(project, "commit", "-q", "-m", "init")
    git(project, "checkout", "-q", "-b", "feature")
    git(project, "commit", "-q", "--allow-empty", "-m", "feature work")


def run_all(project: Path, kedro, env: dict[str, str] | None = None) -> dict[str, Any]:
    """The five runs, each on its branch; F3 with on_run_end: fail. Their results."""
    results = {}
    conf = project / "conf" / "local" / "metrics.yml"
    for label, branch, quality in RUNS:
        git(project, "checkout", "-q", branch)
        if label == "F3":
            conf.write_text(METRICS_YML + FAIL_AT_RUN_END)
        results[label] = kedro(
            project, "run", "--pipelines", "gated", "--params", f"quality={quality}", env=env
        )
        if label == "F0":  # while main has no run
            results["check F0"] = metrics_in_process(project, "check", "--format", "json", env=env)
    conf.write_text(METRICS_YML)
    return results


@pytest.fixture(scope="module")
def runs(tmp_path_factory, new_project, kedro, store_at) -> Runs:
    project = new_project(tmp_path_factory.mktemp("check"))
    (project / ".gitignore").write_text("mlflow.db\n.kedro_metrics/\n")
    (project / "conf" / "local" / "metrics.yml").write_text(METRICS_YML)
    start_repository(project)
    results = run_all(project, kedro)
    for label in ("F0", "M", "F1", "F2"):
        results[label].check()
    store = store_at(project / "mlflow.db")
    found = sorted(store.runs(), key=lambda run: run.info.start_time)
    labels = [label for label, _, _ in RUNS]
    ids = {label: run.info.run_id for label, run in zip(labels, found, strict=True)}
    names = {label: run.info.run_name for label, run in zip(labels, found, strict=True)}
    return Runs(project, store, ids, names, results)


def ref(runs: Runs, label: str) -> dict[str, str]:
    return {"run_id": runs.ids[label], "run_name": runs.names[label]}


def gates_against_main(quality: float) -> list[dict[str, Any]]:
    """The entries of a feature run of ``quality`` held to M (0.75)."""
    loss_min = 1.0 - quality
    worse = quality < 0.75
    return [
        {"name": "scored_metrics.accuracy", "rule": "min: 0.5", "value": quality,
         "baseline": 0.75, "limit": 0.5, "passed": True, "reason": None},
        {"name": "scored_metrics.accuracy", "rule": "max_drop: 0.05", "value": quality,
         "baseline": 0.75, "limit": 0.7, "passed": not worse,
         "reason": "0.625 is below 0.7, the baseline 0.75 minus the max_drop 0.05" if worse else None},
        {"name": "scored_metrics.loss.min", "rule": "max_drop_pct: 10", "value": loss_min,
         "baseline": 0.25, "limit": 0.275, "passed": not worse,
         "reason": "0.375 is above 0.275, the baseline 0.25 plus 10%" if worse else None},
        {"name": "scored_metrics.f1", "rule": "required: true", "value": quality - 0.125,
         "baseline": 0.625, "limit": None, "passed": True, "reason": None},
    ]  # fmt: skip


def errors(result) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


class TestExitCodes:
    def test_an_improvement_passes_exit_0(self, runs):
        result = metrics_in_process(
            runs.project, "check", runs.ids["F1"], "--baseline", "branch:main", "--format", "json"
        )
        assert result.returncode == 0, result.output
        assert json.loads(result.stdout) == {
            "run": ref(runs, "F1"), "baseline": ref(runs, "M"), "passed": True,
            "gates": gates_against_main(0.875),
        }  # fmt: skip
        assert errors(result) == []

    def test_a_regression_fails_exit_1_in_a_real_kedro_subprocess(self, runs, kedro, tmp_path):
        # --output: Kedro itself logs its logging configuration to stdout at start-up
        target = tmp_path / "verdict.json"
        result = kedro(
            runs.project, "metrics", "check", runs.ids["F2"], "--baseline", "branch:main",
            "--format", "json", "--output", str(target),
        )  # fmt: skip
        assert result.returncode == 1, result.output
        assert "{" not in result.stdout
        assert json.loads(target.read_text()) == {
            "run": ref(runs, "F2"), "baseline": ref(runs, "M"), "passed": False,
            "gates": gates_against_main(0.625),
        }  # fmt: skip
        assert errors(result) == [
            "Error: 2 of 4 gate checks failed; first: scored_metrics.accuracy (max_drop: 0.05): "
            "0.625 is below 0.7, the baseline 0.75 minus the max_drop 0.05"
        ]

    def test_no_run_on_main_yet_exit_2_with_the_verdict_printed(self, runs):
        """F0 ran before main had a run: min and required decide, the drops cannot."""
        result = runs.results["check F0"]
        assert result.returncode == 2, result.output
        document = json.loads(result.stdout)
        assert (document["run"], document["baseline"], document["passed"]) == (
            ref(runs, "F0"),
            None,
            None,
        )
        assert [(g["rule"], g["passed"], g["reason"]) for g in document["gates"]] == [
            ("min: 0.5", True, None),
            ("max_drop: 0.05", None, "no baseline run"),
            ("max_drop_pct: 10", None, "no baseline run"),
            ("required: true", True, None),
        ]
        assert errors(result) == [
            "Error: 2 gate checks could not decide; first: scored_metrics.accuracy "
            "(max_drop: 0.05): no baseline run"
        ]

    def test_an_unknown_run_is_one_error_line_exit_2_and_nothing_printed(self, runs):
        result = metrics_in_process(runs.project, "check", "branch:nowhere", "--format", "json")
        assert result.returncode == 2, result.output
        assert result.stdout == ""
        (line,) = errors(result)
        assert line.startswith(
            "Error: No FINISHED run with tag mlflow.source.git.branch = 'nowhere' in experiment "
            "'e2e_project' at sqlite:///"
        ), line

    def test_metrics_yml_without_gates_exit_2(self, runs, tmp_path):
        conf = runs.project / "conf" / "local" / "metrics.yml"
        try:
            conf.write_text('metrics:\n  "*accuracy": {direction: max}\n')
            result = metrics_in_process(runs.project, "check", runs.ids["F1"])
        finally:
            conf.write_text(METRICS_YML)
        assert result.returncode == 2, result.output
        assert errors(result) == [
            "Error: The project's metrics.yml declares no gates: add a 'gates:' mapping of "
            "metric keys to rules such as {min: 0.85} (docs/check.md)."
        ]


class TestReports:
    def test_markdown_to_a_file_leaves_stdout_empty(self, runs, tmp_path):
        target = tmp_path / "report.md"
        result = metrics_in_process(
            runs.project, "check", runs.ids["F2"], "--format", "md", "--output", str(target),
            "--no-record",
        )  # fmt: skip
        assert result.returncode == 1, result.output
        assert result.stdout == ""
        short = {label: runs.ids[label][:8] for label in runs.ids}
        assert target.read_text() == (
            "<!-- kedro-metrics check -->\n"
            "**❌ kedro-metrics check FAILED**: 2 of 4 gate checks failed.\n"
            "\n"
            f"Run `{short['F2']}` ({runs.names['F2']}) against baseline `{short['M']}` "
            f"({runs.names['M']}).\n"
            "\n"
            "| | Metric | Rule | Baseline | Run | Change | Reason |\n"
            "|:-:|---|---|--:|--:|--:|---|\n"
            "| ✅ | `scored_metrics.accuracy` | `min: 0.5` | 75.00% | 62.50% | -12.50% |  |\n"
            "| ❌ | `scored_metrics.accuracy` | `max_drop: 0.05` | 75.00% | 62.50% | -12.50% | "
            "0.625 is below 0.7, the baseline 0.75 minus the max_drop 0.05 |\n"
            "| ❌ | `scored_metrics.loss.min` | `max_drop_pct: 10` | 0.2500 | 0.3750 | +0.1250 | "
            "0.375 is above 0.275, the baseline 0.25 plus 10% |\n"
            "| ✅ | `scored_metrics.f1` | `required: true` | 0.625 | 0.500 | -0.125 |  |\n"
        )

    def test_table(self, runs):
        result = metrics_in_process(runs.project, "check", runs.ids["F1"], "--no-record")
        assert result.returncode == 0, result.output
        lines = result.stdout.splitlines()
        assert [line for line in lines if line.startswith("Check ")] == [
            (
                f"Check passed: run {runs.ids['F1'][:8]} ({runs.names['F1']}) against baseline "
                f"{runs.ids['M'][:8]} ({runs.names['M']}); 4 gate entries: 4 passed."
            )
        ]
        (header,) = [line for line in lines if "┃" in line]
        assert [cell.strip() for cell in header.split("┃")[1:-1]] == [
            "key", "rule", "baseline", "value", "change", "verdict"
        ]  # fmt: skip
        rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines if "│" in line]
        assert rows == [
            ["scored_metrics.accuracy", "min: 0.5", "75.00%", "87.50%", "+12.50%", "passed"],
            ["scored_metrics.accuracy", "max_drop: 0.05", "75.00%", "87.50%", "+12.50%", "passed"],
            ["scored_metrics.loss.min", "max_drop_pct: 10", "0.2500", "0.1250", "-0.1250", "passed"],
            ["scored_metrics.f1", "required: true", "0.625", "0.750", "+0.125", "passed"],
        ]  # fmt: skip


class TestRecorded:
    def test_the_command_tags_the_run_and_no_record_does_not(self, runs):
        metrics_in_process(runs.project, "check", runs.ids["F1"]).check()
        assert metrics_in_process(runs.project, "check", runs.ids["F2"]).returncode == 1
        metrics_in_process(runs.project, "check", runs.ids["M"], "--no-record")
        tags = {label: runs.store.run(runs.ids[label]).data.tags for label in ("F1", "F2", "M")}
        assert (tags["F1"]["kedro_metrics.check"], tags["F1"]["kedro_metrics.check.baseline"]) == (
            "passed",
            runs.ids["M"],
        )
        assert (tags["F2"]["kedro_metrics.check"], tags["F2"]["kedro_metrics.check.baseline"]) == (
            "failed",
            runs.ids["M"],
        )
        assert not any(name.startswith("kedro_metrics.check") for name in tags["M"])

    def test_runs_where_the_tag(self, runs):
        metrics_in_process(runs.project, "check", runs.ids["F1"]).check()
        result = metrics_in_process(
            runs.project, "runs", "--where", "tags.kedro_metrics.check = passed", "--format", "json"
        )
        assert [row["run_id"] for row in json.loads(result.check().stdout)] == [runs.ids["F1"]]

    def test_a_check_without_baseline_removes_an_earlier_baseline_tag(self, runs):
        assert metrics_in_process(runs.project, "check", runs.ids["F2"]).returncode == 1
        assert "kedro_metrics.check.baseline" in runs.store.run(runs.ids["F2"]).data.tags
        result = metrics_in_process(runs.project, "check", runs.ids["F2"], "--baseline", "tag:x=y")
        assert result.returncode == 2, result.output  # min and required pass; drops cannot decide
        tags = runs.store.run(runs.ids["F2"]).data.tags
        assert tags["kedro_metrics.check"] == "undecided"
        assert "kedro_metrics.check.baseline" not in tags

    def test_an_undecided_check_has_no_baseline_tag(self, runs):
        """F0, checked while main had no run."""
        tags = runs.store.run(runs.ids["F0"]).data.tags
        assert tags["kedro_metrics.check"] == "undecided"
        assert "kedro_metrics.check.baseline" not in tags


class TestAtRunEnd:
    def test_on_run_end_fail_exits_1_and_the_run_stays_finished(self, runs):
        result = runs.results["F3"]
        assert result.returncode == 1, result.output
        assert errors(result) == [
            f"Error: run {runs.ids['F3'][:8]} failed 2 of 4 gate checks (metrics.yml "
            "check.on_run_end: fail); the run stays FINISHED. See "
            f"`kedro metrics check {runs.ids['F3'][:8]}`."
        ]
        assert "Traceback" not in result.stderr + result.stdout
        run = runs.store.run(runs.ids["F3"])
        assert run.info.status == "FINISHED"
        assert run.data.tags["kedro_metrics.check"] == "failed"
        assert run.data.tags["kedro_metrics.check.baseline"] == runs.ids["M"]

    def test_one_error_log_lists_each_failed_entry(self, runs):
        logged = runs.results["F3"].stdout + runs.results["F3"].stderr
        assert logged.count("ERROR") == 1, logged
        assert "scored_metrics.accuracy (max_drop: 0.05): 0.625 is below 0.7" in logged
        assert "scored_metrics.loss.min (max_drop_pct: 10): 0.375 is above 0.275" in logged

    def test_runs_without_on_run_end_are_not_tagged_by_the_run(self, runs):
        assert "kedro_metrics.check" not in runs.store.run(runs.ids["M"]).data.tags


class TestInsideANode:
    """``kedro_metrics.check()`` in the node after scored_metrics: the current run."""

    def test_each_run_saw_its_own_verdict(self, runs):
        verdicts = {
            label: runs.store.history(runs.ids[label], "gate_metrics.verdict")
            for label in ("F0", "M", "F1", "F2", "F3")
        }
        assert verdicts == {
            "F0": [(0, -1.0)],  # no run on main yet
            "M": [(0, -1.0)],  # main's only run: no other run of main
            "F1": [(0, 1.0)],
            "F2": [(0, 0.0)],
            "F3": [(0, 0.0)],
        }

    def test_check_outside_a_run_equals_the_json(self, runs):
        import kedro_metrics

        found = kedro_metrics.check(runs.ids["F2"], project_path=runs.project)
        assert found.to_dict() == {
            "run": ref(runs, "F2"), "baseline": ref(runs, "M"), "passed": False,
            "gates": gates_against_main(0.625),
        }  # fmt: skip
        assert found.passed is False
        assert [entry.passed for entry in found.gates] == [True, False, False, True]

    def test_check_raises_where_the_cli_stops_early(self, runs):
        import kedro_metrics
        from kedro_metrics.errors import KedroMetricsError

        with pytest.raises(
            KedroMetricsError, match="No FINISHED run with tag mlflow.source.git.branch = 'nowhere'"
        ):
            kedro_metrics.check("branch:nowhere", project_path=runs.project)


class TestUnderParallelRunner:
    """``kedro_metrics.check()`` in a node that ParallelRunner runs in a worker process
    judges the run of the ``kedro run`` that started it."""

    @pytest.fixture(scope="class")
    def parallel(self, tmp_path_factory, new_project, kedro, store_at):
        project = new_project(tmp_path_factory.mktemp("check-parallel"))
        (project / ".gitignore").write_text("mlflow.db\n.kedro_metrics/\n")
        (project / "conf" / "local" / "metrics.yml").write_text(METRICS_YML)
        start_repository(project)
        results = []
        for branch, quality, runner in (("main", 0.75, "SequentialRunner"),
                                        ("feature", 0.625, "ParallelRunner")):  # fmt: skip
            git(project, "checkout", "-q", branch)
            results.append(kedro(project, "run", "--pipelines", "gated", "--runner", runner,
                                 "--params", f"quality={quality}"))  # fmt: skip
        store = store_at(project / "mlflow.db")
        return results, store, sorted(store.runs(), key=lambda run: run.info.start_time)

    def test_the_worker_s_check_sees_the_regression(self, parallel):
        results, store, (main, feature) = parallel
        for result in results:
            result.check()
        assert store.history(main.info.run_id, "gate_metrics.verdict") == [(0, -1.0)]
        assert store.history(feature.info.run_id, "gate_metrics.verdict") == [(0, 0.0)]
        assert (feature.info.status, feature.data.metrics["scored_metrics.accuracy"]) == (
            "FINISHED", 0.625
        )  # fmt: skip
        assert "kedro_metrics.check" not in feature.data.tags  # check() records on request


@pytest.mark.server
class TestOnAServer:
    @pytest.fixture(scope="class")
    def served(self, tmp_path_factory, new_project, kedro, mlflow_server):
        project = new_project(tmp_path_factory.mktemp("check-server"))
        experiment = f"check-{uuid.uuid4().hex[:8]}"
        (project / "conf" / "local" / "metrics.yml").write_text(
            f"experiment: {experiment}\n{METRICS_YML}"
        )
        start_repository(project)
        env = {"MLFLOW_TRACKING_URI": mlflow_server.url}
        for branch, quality in (("main", 0.75), ("feature", 0.625)):
            git(project, "checkout", "-q", branch)
            kedro(
                project, "run", "--pipelines", "gated", "--params", f"quality={quality}", env=env
            ).check()
        checked = metrics_in_process(project, "check", "--format", "json", env=env)
        return project, experiment, checked

    def test_regression_and_tags(self, served, mlflow_server):
        from mlflow import MlflowClient

        _, experiment, checked = served
        client = MlflowClient(tracking_uri=mlflow_server.url)
        found = client.get_experiment_by_name(experiment)
        main, feature = client.search_runs(
            [found.experiment_id], order_by=["attributes.start_time ASC"]
        )
        assert checked.returncode == 1, checked.output
        assert json.loads(checked.stdout) == {
            "run": {"run_id": feature.info.run_id, "run_name": feature.info.run_name},
            "baseline": {"run_id": main.info.run_id, "run_name": main.info.run_name},
            "passed": False,
            "gates": gates_against_main(0.625),
        }
        tags = client.get_run(feature.info.run_id).data.tags
        assert tags["kedro_metrics.check"] == "failed"
        assert tags["kedro_metrics.check.baseline"] == main.info.run_id
        assert feature.data.metrics["gate_metrics.verdict"] == 0.0


def test_git_is_available():
    """The module needs git: say so rather than fail obscurely."""
    assert subprocess.run(["git", "--version"], capture_output=True, check=False).returncode == 0
