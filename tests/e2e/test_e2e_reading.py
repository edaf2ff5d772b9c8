"""Reading back after real `kedro run`s: catalog loads in a KedroSession (as in
`kedro ipython` or a notebook) and the `kedro metrics` commands.

Three runs of the e2e project, shared by every test of the module:
1. the default pipeline;
2. the default pipeline with ``factory_index.a=5`` (a_metrics differ);
3. the ``small`` pipeline (only ``small_metrics.answer``).
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import textwrap
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from kedro_metrics.reading.formats import KFP_NAME
from tests.e2e.conftest import metrics_in_process

#: The example project (another package than the e2e project's).
EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "example"

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class ThreeRuns:
    project: Path
    store: Any
    #: run ids, oldest first
    ids: list[str]

    def run(self, index: int) -> Any:
        return self.store.run(self.ids[index])


@pytest.fixture(scope="module")
def three_runs(tmp_path_factory, new_project, kedro, store_at) -> ThreeRuns:
    project = new_project(tmp_path_factory.mktemp("reading"))
    (project / "conf" / "base" / "metrics.yml").write_text(
        'kubeflow: {percentage: ["*accuracy*"]}\n'
    )
    kedro(project, "run").check()
    kedro(project, "run", "--params", "factory_index.a=5").check()
    kedro(project, "run", "--pipelines", "small").check()
    store = store_at(project / "mlflow.db")
    runs = sorted(store.runs(), key=lambda r: r.info.start_time)
    return ThreeRuns(project, store, [r.info.run_id for r in runs])


SESSION_SCRIPT = textwrap.dedent(
    """
    import json, sys, tempfile
    from pathlib import Path
    import mlflow
    from kedro.framework.session import KedroSession
    from kedro.framework.startup import bootstrap_project
    from kedro_metrics import get_metrics

    bootstrap_project(Path.cwd())
    with KedroSession.create() as session:
        catalog = session.load_context().catalog
        loaded = {
            name: catalog.load(name)
            for name in ("model_metrics", "a_metrics", "holdout_accuracy", "small_metrics")
        }
        # Inside the session, get_metrics reads the project's store and experiment.
        in_session = [(r["run_id"], r["value"]) for r in get_metrics("a_metrics.score")]
        # Saving outside kedro run: two datasets never share keys.
        mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/other.db")
        with mlflow.start_run() as run:
            catalog.save("model_metrics", {"x": 1})
            catalog.save("b_metrics", {"x": 2})
        saved = sorted(mlflow.get_run(run.info.run_id).data.metrics)
    print("RESULT=" + json.dumps({"loaded": loaded, "saved": saved, "in_session": in_session}))
    """
)


@pytest.fixture(scope="module")
def session_loads(three_runs, python) -> tuple[dict[str, Any], Any]:
    script = three_runs.project / "session_loads.py"
    script.write_text(SESSION_SCRIPT)
    done = python([str(script)], cwd=three_runs.project).check()
    (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT=")]
    return json.loads(line.removeprefix("RESULT=")), done


class TestCatalogInASession:
    """In a KedroSession after kedro run, catalog.load reads the dataset's metrics of the
    latest run holding them, and catalog names are bound as prefixes."""

    def test_metrics_dataset_reads_its_prefix_from_the_latest_run_holding_it(self, session_loads):
        """model_metrics: exactly model_metrics.* (run 2; run 3 holds none of them)."""
        assert session_loads[0]["loaded"]["model_metrics"] == {
            "accuracy": {"value": 0.875, "step": 1},
            "confusion.fp": {"value": 3.0, "step": 0},
            "confusion.tp": {"value": 40.0, "step": 0},
            "loss": [{"value": 0.5, "step": 0}, {"value": 0.25, "step": 1}],
        }

    def test_factory_dataset_reads_its_resolved_name(self, session_loads):
        """a_metrics from the "{name}_metrics" pattern: run 2's values (factory_index.a=5)."""
        assert session_loads[0]["loaded"]["a_metrics"] == {
            "curve": [{"value": 5.0, "step": 0}, {"value": 5.5, "step": 1}],
            "score": {"value": 5.0, "step": 0},
        }

    def test_single_metric_dataset_reads_its_key(self, session_loads):
        """holdout_accuracy: the last value of that one key."""
        assert session_loads[0]["loaded"]["holdout_accuracy"] == 0.75

    def test_latest_run_is_read(self, session_loads):
        """small_metrics comes from run 3, the latest."""
        assert session_loads[0]["loaded"]["small_metrics"] == {"answer": {"value": 42.0, "step": 0}}

    def test_load_says_which_run_it_read(self, session_loads, three_runs):
        """load logs, at INFO, the id of the run it read."""
        said = session_loads[1].stdout + session_loads[1].stderr
        assert three_runs.ids[1] in said and three_runs.ids[2] in said

    def test_get_metrics_reads_the_project_inside_a_session(self, session_loads, three_runs):
        """get_metrics() with no URI or experiment, in a KedroSession: the project's runs."""
        assert session_loads[0]["in_session"] == [
            [three_runs.ids[1], 5.0],
            [three_runs.ids[0], 0.0],
        ]

    def test_get_metrics_with_project_path_from_elsewhere(self, three_runs, python, tmp_path):
        """project_path= from outside the project: its store and experiment, as a frame."""
        code = (
            "import json, sys\n"
            "from kedro_metrics import get_metrics\n"
            "frame = get_metrics('small_metrics.*', project_path=sys.argv[1], as_frame=True)\n"
            "print('RESULT=' + frame.to_json(orient='records'))\n"
        )
        done = python(["-c", code, str(three_runs.project)], cwd=tmp_path).check()
        (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT=")]
        (record,) = json.loads(line.removeprefix("RESULT="))
        assert (record["name"], record["value"], record["run_id"], record["experiment"]) == (
            "small_metrics.answer", 42.0, three_runs.ids[2], "e2e_project",
        )  # fmt: skip

    def test_bootstrapped_from_elsewhere_and_asked_about_another_project(
        self, three_runs, python, tmp_path
    ):
        """A script outside the project folder that bootstrapped it reads the project's
        store; asking about another project (project_path=) leaves the process
        configured for the first one."""
        import shutil

        other = tmp_path / "other-project"
        shutil.copytree(
            EXAMPLE, other, ignore=shutil.ignore_patterns("mlflow.db", ".kedro_metrics")
        )
        code = (
            "import json, sys\n"
            "from pathlib import Path\n"
            "from kedro.framework.startup import bootstrap_project\n"
            "from kedro_metrics import get_metrics\n"
            "bootstrap_project(Path(sys.argv[1]))\n"
            "first = [r['run_id'] for r in get_metrics('small_metrics.*')]\n"
            "other = get_metrics(project_path=sys.argv[2])\n"
            "from kedro.framework import project\n"
            "again = [r['run_id'] for r in get_metrics('small_metrics.*')]\n"
            "print('RESULT=' + json.dumps([first, other, project.PACKAGE_NAME, again]))\n"
        )
        done = python(["-c", code, str(three_runs.project), str(other)], cwd=tmp_path).check()
        (line,) = [ln for ln in done.stdout.splitlines() if ln.startswith("RESULT=")]
        ours = [three_runs.ids[2]]
        assert json.loads(line.removeprefix("RESULT=")) == [ours, [], "e2e_project", ours]
        assert not (tmp_path / "mlflow.db").exists()  # nothing read from the working directory

    def test_two_datasets_saved_outside_kedro_run_keep_their_prefixes(self, session_loads):
        """Saved under an active run, model_metrics and b_metrics write distinct keys."""
        assert session_loads[0]["saved"] == ["b_metrics.x", "model_metrics.x"]


# `kedro metrics ...` ----------------------------------------------------------------

#: {key: [(step, value), ...]} of the default pipeline (see project_template).
DEFAULT_RUN = {
    "model_metrics.accuracy": [(1, 0.875)],
    "model_metrics.loss": [(0, 0.5), (1, 0.25)],
    "model_metrics.confusion.tp": [(0, 40.0)],
    "model_metrics.confusion.fp": [(0, 3.0)],
    "eval.f1": [(0, 0.625)],
    "top_level": [(0, 7.0)],
    "group.inner": [(0, 1.5)],
    **{f"{letter}_metrics.score": [(0, float(i))] for i, letter in enumerate("abcd")},
    **{f"{letter}_metrics.curve": [(0, float(i)), (1, i + 0.5)] for i, letter in enumerate("abcd")},
    "holdout_accuracy": [(0, 0.5), (1, 0.625), (2, 0.75)],
}
#: The three runs, oldest first.
RUN_METRICS = [
    DEFAULT_RUN,
    {**DEFAULT_RUN, "a_metrics.score": [(0, 5.0)], "a_metrics.curve": [(0, 5.0), (1, 5.5)]},
    {"small_metrics.answer": [(0, 42.0)]},
]

#: Logging config that sends every record to stderr: with it, stdout is the document only.
STDERR_LOGGING = """\
version: 1
disable_existing_loggers: False
handlers:
  console: {class: logging.StreamHandler, stream: ext://sys.stderr}
loggers:
  kedro: {level: INFO}
root: {handlers: [console]}
"""


def iso(epoch_ms: int | None) -> str | None:
    """ISO 8601 UTC with milliseconds and Z, written independently of the plugin."""
    if epoch_ms is None:
        return None
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch_ms // 1000))
        + f".{epoch_ms % 1000:03d}Z"
    )


def last(history: list[tuple[int, float]]) -> tuple[int, float]:
    return max(history)


def machine_document(done: Any, first_line: str | None = None) -> str:
    """The document on stdout, after checking that nothing else is there but Kedro's
    own start-up record ("Using ... as logging configuration"), which Kedro logs
    before any plugin is loaded."""
    done.check()
    lines = done.stdout.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.rstrip("\n") in (first_line, "[", "{", "[]")]
    assert starts, done.output
    before = "".join(lines[: starts[0]])
    assert before == "" or (before.count("\n") == 1 and "as logging configuration" in before), (
        done.output
    )
    return "".join(lines[starts[0] :])


@pytest.fixture(scope="module")
def cli(three_runs, kedro):
    """``cli("show", "--format", "json")`` runs ``kedro metrics show ...`` in the project:
    in this process (click's CliRunner), or as a real ``kedro`` subprocess with
    ``real=True``, which one test per command uses to prove the entry point's wiring."""

    def run(*args: str, env: dict[str, str | None] | None = None, real: bool = False) -> Any:
        if real:
            return kedro(three_runs.project, "metrics", *args, env=env)
        return metrics_in_process(three_runs.project, *args, env=env)

    return run


def as_json(done: Any) -> Any:
    return json.loads(machine_document(done))


def as_csv(done: Any, header: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(machine_document(done, header))))


class TestBootstrappedOnce:
    """A reading command runs in the project Kedro's CLI has just bootstrapped (its
    ``metadata``): it reads the project's settings without bootstrapping it again."""

    @pytest.mark.parametrize(
        "args",
        [
            ("runs",),
            ("show",),
            ("compare",),
            ("export",),
            ("history", "holdout_accuracy", "--run", "latest~1"),
        ],  # fmt: skip
        ids=lambda args: args[0],
    )
    def test_one_bootstrap_per_command(self, cli, args, monkeypatch):
        from kedro.framework import startup

        bootstrap, calls = startup.bootstrap_project, []

        def counted(path: Any) -> Any:
            calls.append(Path(path))
            return bootstrap(path)

        monkeypatch.setattr(startup, "bootstrap_project", counted)
        done = cli(*args, "--format", "json")
        assert done.returncode == 0, done.output
        assert as_json(done)
        assert len(calls) == 1  # Kedro's own, in metrics_in_process as in `kedro`

    def test_metadata_of_a_project_the_process_is_not_configured_for_is_bootstrapped(
        self, three_runs, monkeypatch
    ):
        """The metadata alone proves nothing: a process configured for no project (or
        another) bootstraps the project first, and reads the same settings."""
        import sys

        import kedro.framework.project as kedro_project
        from kedro.framework import startup

        from kedro_metrics import project

        # afterwards the process is in no project again, as metrics_in_process leaves it
        monkeypatch.setattr(sys, "path", list(sys.path))
        monkeypatch.setattr(kedro_project, "PACKAGE_NAME", kedro_project.PACKAGE_NAME)
        metadata = startup.bootstrap_project(three_runs.project)
        configured = project.settings_for_path(three_runs.project, bootstrapped=metadata)
        bootstrap, calls = startup.bootstrap_project, []
        monkeypatch.setattr(startup, "bootstrap_project", lambda p: calls.append(p) or bootstrap(p))
        monkeypatch.setattr(kedro_project, "PACKAGE_NAME", None)
        assert project.settings_for_path(three_runs.project, bootstrapped=metadata) == configured
        assert calls == [three_runs.project.resolve()]


class TestRuns:
    """`kedro metrics runs`: newest first, pinned JSON/CSV columns, a table by default."""

    def expected(self, three_runs) -> list[dict[str, Any]]:
        rows = []
        for index in (2, 1, 0):
            info = three_runs.run(index).info
            rows.append({
                "run_id": info.run_id, "run_name": info.run_name, "status": "FINISHED",
                "start_time": iso(info.start_time), "end_time": iso(info.end_time),
                "duration_s": (info.end_time - info.start_time) / 1000,
                "pipeline": "small" if index == 2 else "__default__",
                "metrics": len(RUN_METRICS[index]), "children": 0, "values": {},
            })  # fmt: skip
        return rows

    def test_json(self, cli, three_runs):
        """--format json: the whole list, exactly."""
        assert as_json(cli("runs", "--format", "json")) == self.expected(three_runs)

    def test_csv(self, cli, three_runs):
        """--format csv: a header with the JSON names and a row per run."""
        header = "run_id,run_name,status,start_time,end_time,duration_s,pipeline,metrics,children"
        rows = as_csv(cli("runs", "--format", "csv"), header)
        assert rows == [
            {k: str(v) for k, v in row.items() if k != "values"}
            for row in self.expected(three_runs)
        ]

    def test_filters_and_limit(self, cli, three_runs):
        """--pipeline, --status and --limit narrow the list."""
        got = as_json(cli("runs", "--pipeline", "__default__", "--limit", "1", "--format", "json"))
        assert [row["run_id"] for row in got] == [three_runs.ids[1]]
        assert as_json(cli("runs", "--status", "FAILED", "--format", "json")) == []

    def test_table(self, cli, three_runs):
        """The default table lists each run's short id, name, status and metric count."""
        done = cli("runs").check()
        for index, run_id in enumerate(three_runs.ids):
            (row,) = [ln for ln in done.stdout.splitlines() if run_id[:8] in ln]
            assert three_runs.run(index).info.run_name in row and "FINISHED" in row
            assert f" {len(RUN_METRICS[index])} " in row

    def test_stdout_is_only_the_document_when_logs_go_to_stderr(self, cli, three_runs, tmp_path):
        """With a logging config on stderr, stdout parses as JSON whole (`| jq` works)."""
        config = tmp_path / "logging.yml"
        config.write_text(STDERR_LOGGING)
        done = cli(
            "runs", "--format", "json", env={"KEDRO_LOGGING_CONFIG": str(config)}, real=True
        ).check()
        assert json.loads(done.stdout) == self.expected(three_runs)
        assert "as logging configuration" in done.stderr


class TestShow:
    """`kedro metrics show [RUN]`: name, last value, its step, number of points."""

    def expected(self, index: int, prefix: str = "") -> list[dict[str, Any]]:
        return [
            {
                "name": key,
                "value": last(history)[1],
                "step": last(history)[0],
                "points": len(history),
                "best": None,
            }
            for key, history in sorted(RUN_METRICS[index].items())
            if key.startswith(prefix)
        ]

    def test_latest_by_default(self, cli):
        """Without RUN, the latest run (run 3). (A real `kedro metrics show`.)"""
        assert as_json(cli("show", "--format", "json", real=True)) == self.expected(2)

    def test_latest_n_and_name_glob(self, cli):
        """latest~1 with --name selects run 2's metrics matching the glob."""
        got = as_json(cli("show", "latest~1", "--name", "model_metrics.*", "--format", "json"))
        assert got == self.expected(1, "model_metrics.")

    def test_prefix_reference_and_csv(self, cli, three_runs):
        """A unique id prefix names run 1; CSV has name,value,step,points,best,best_step
        (empty: nothing declares a direction here)."""
        rows = as_csv(
            cli("show", three_runs.ids[0][:8], "--name", "a_metrics.*", "--format", "csv"),
            "name,value,step,points,best,best_step",
        )
        none = {"best": "", "best_step": ""}
        assert rows == [
            {"name": "a_metrics.curve", "value": "0.5", "step": "1", "points": "2", **none},
            {"name": "a_metrics.score", "value": "0.0", "step": "0", "points": "1", **none},
        ]

    def test_table(self, cli, three_runs):
        """The table names the run and lists each metric with value, step and points."""
        done = cli("show", "latest~1", "--name", "holdout_*").check()
        assert three_runs.ids[1] in done.stdout
        (row,) = [ln for ln in done.stdout.splitlines() if "holdout_accuracy" in ln]
        assert row.split("│")[1:5] == [" holdout_accuracy ", " 0.75  ", " 2    ", " 3      "]


class TestCompare:
    """`kedro metrics compare [RUN]...`: a value per run, change of the last against the first."""

    def test_default_is_latest_1_against_latest(self, cli, three_runs):
        """Without RUN: run 2 vs run 3; metrics missing from one run are null, change null."""
        got = as_json(cli("compare", "--format", "json", real=True))
        second, third = three_runs.ids[1], three_runs.ids[2]
        expected = [
            {"name": key, "values": {second: RUN_METRICS[1].get(key) and last(RUN_METRICS[1][key])[1],
                                     third: RUN_METRICS[2].get(key) and last(RUN_METRICS[2][key])[1]},
             "change": None, "change_pct": None, "better": None, "same_data": None}
            for key in sorted({*RUN_METRICS[1], *RUN_METRICS[2]})
        ]  # fmt: skip
        assert got == expected

    def test_only_changed_against_an_older_run(self, cli, three_runs):
        """latest~2 vs latest~1 --only-changed: only the a_metrics differ; change and percent."""
        first, second = three_runs.ids[0], three_runs.ids[1]
        got = as_json(cli("compare", "latest~2", "latest~1", "--only-changed", "--format", "json"))
        assert got == [
            {
                "name": "a_metrics.curve",
                "values": {first: 0.5, second: 5.5},
                "change": 5.0,
                "change_pct": 1000.0,
                "better": None,
                "same_data": None,
            },
            {
                "name": "a_metrics.score",
                "values": {first: 0.0, second: 5.0},
                "change": 5.0,
                "change_pct": None,
                "better": None,
                "same_data": None,
            },
        ]

    def test_csv_has_a_column_per_run(self, cli, three_runs):
        """CSV columns: name, one per run id, change, change_pct; missing is empty."""
        first, third = three_runs.ids[0], three_runs.ids[2]
        header = f"name,{first},{third},change,change_pct,better"
        rows = as_csv(
            cli("compare", first, "latest", "--name", "*answer", "--format", "csv"), header
        )
        assert rows == [
            {
                "name": "small_metrics.answer",
                first: "",
                third: "42.0",
                "change": "",
                "change_pct": "",
                "better": "",
            }
        ]

    def test_table(self, cli, three_runs):
        """The table has a column per run (short ids) and the change."""
        done = cli("compare", "latest~2", "latest~1", "--name", "a_metrics.score").check()
        header = [ln for ln in done.stdout.splitlines() if "change" in ln][0]
        assert three_runs.ids[0][:8] in header and three_runs.ids[1][:8] in header
        (row,) = [ln for ln in done.stdout.splitlines() if "a_metrics.score" in ln]
        assert [cell.strip() for cell in row.split("│")[1:6]] == [
            "a_metrics.score",
            "0",
            "5",
            "+5",
            "-",
        ]


class TestHistory:
    """`kedro metrics history NAME`: every point as get_metrics records."""

    def expected(self, three_runs, index: int, key: str) -> list[dict[str, Any]]:
        run_id = three_runs.ids[index]
        stamps = {
            m.step: m.timestamp for m in three_runs.store.client.get_metric_history(run_id, key)
        }
        return [
            {"name": key, "value": value, "step": step, "timestamp": stamps[step], "run_id": run_id,
             "run_name": three_runs.run(index).info.run_name, "pipeline": "__default__",
             "experiment": "e2e_project",
             "created_at": iso(stamps[step])}
            for step, value in RUN_METRICS[index][key]
        ]  # fmt: skip

    def test_json_per_run(self, cli, three_runs):
        """--run twice: both runs' points, in the order of the runs given."""
        got = as_json(
            cli(
                "history",
                "a_metrics.curve",
                "--run",
                "latest~2",
                "--run",
                "latest~1",
                "--format",
                "json",
                real=True,
            )
        )
        assert got == self.expected(three_runs, 0, "a_metrics.curve") + self.expected(
            three_runs, 1, "a_metrics.curve"
        )

    def test_csv_columns_are_the_record_fields(self, cli, three_runs):
        """CSV: header of the record fields, one row per point."""
        header = "name,value,step,timestamp,run_id,run_name,pipeline,experiment,created_at"
        rows = as_csv(
            cli("history", "holdout_accuracy", "--run", "latest~1", "--format", "csv"), header
        )
        assert rows == [
            {k: str(v) for k, v in row.items()}
            for row in self.expected(three_runs, 1, "holdout_accuracy")
        ]

    def test_unknown_metric_is_an_error(self, cli):
        """history of a metric the run lacks exits non-zero saying so (latest by default)."""
        done = cli("history", "model_metrics.accuracy")
        assert done.returncode != 0
        assert "No metric matches 'model_metrics.accuracy'" in done.stderr


class TestExport:
    """`kedro metrics export [RUN] --format kubeflow|json|csv`."""

    def test_json(self, cli, three_runs):
        """One object: run fields, tags, metrics nested by group with value, step, history."""
        run = three_runs.run(1)
        got = as_json(cli("export", "latest~1", "--format", "json", real=True))
        client = three_runs.store.client
        flat = {}
        for key, history in RUN_METRICS[1].items():
            stamps = {m.step: m.timestamp for m in client.get_metric_history(run.info.run_id, key)}
            flat[key] = {
                "value": last(history)[1], "step": last(history)[0],
                "history": [{"value": v, "step": s, "timestamp": stamps[s]} for s, v in history],
            }  # fmt: skip
        nested: dict[str, Any] = {}
        for key, entry in flat.items():
            *groups, leaf = key.split(".")
            target = nested
            for group in groups:
                target = target.setdefault(group, {})
            target[leaf] = entry
        # each dataset's group (the level of its prefix) says where it came from
        for dataset, node in (("model_metrics", "model_scores"), ("eval", "eval_scores"),
                              *((f"{x}_metrics", f"{x}_scores") for x in "abcd")):  # fmt: skip
            nested[dataset]["source"] = {"node": node, "namespace": None, "inputs": []}
        assert got == {
            "run_id": run.info.run_id,
            "run_name": run.info.run_name,
            "status": "FINISHED",
            "start_time": iso(run.info.start_time),
            "end_time": iso(run.info.end_time),
            "tags": dict(run.data.tags),
            "metrics": nested,
        }
        assert got["metrics"]["model_metrics"]["confusion"]["tp"]["value"] == 40.0

    def test_csv_is_every_point_as_records(self, cli, three_runs):
        """CSV: the record fields, one row per point of every metric of the run."""
        run_id = three_runs.ids[2]
        (point,) = three_runs.store.client.get_metric_history(run_id, "small_metrics.answer")
        header = "name,value,step,timestamp,run_id,run_name,pipeline,experiment,created_at"
        assert as_csv(cli("export", "--format", "csv"), header) == [
            {"name": "small_metrics.answer", "value": "42.0", "step": "0",
             "timestamp": str(point.timestamp), "run_id": run_id,
             "run_name": three_runs.run(2).info.run_name,
             "pipeline": "small", "experiment": "e2e_project", "created_at": iso(point.timestamp)}
        ]  # fmt: skip

    def test_kubeflow(self, cli):
        """The KFP v1 file: every metric's last value, KFP names, PERCENTAGE by metrics.yml globs."""
        got = as_json(cli("export", "latest~1", "--format", "kubeflow"))
        expected = sorted(
            (key.replace(".", "-"), last(history)[1], "PERCENTAGE" if "accuracy" in key else "RAW")
            for key, history in RUN_METRICS[1].items()
        )
        assert got == {
            "metrics": [{"name": n, "numberValue": v, "format": f} for n, v, f in expected]
        }
        for entry in got["metrics"]:
            assert KFP_NAME.fullmatch(entry["name"])

    def test_output_file(self, cli, tmp_path):
        """--output writes the document to the file and nothing to stdout."""
        target = tmp_path / "mlpipeline-metrics.json"
        done = cli("export", "--format", "kubeflow", "--output", str(target)).check()
        assert json.loads(target.read_text()) == {
            "metrics": [{"name": "small_metrics-answer", "numberValue": 42.0, "format": "RAW"}]
        }
        assert "numberValue" not in done.stdout


class TestReferenceErrors:
    """Bad run references exit non-zero with one clear line."""

    def error_line(self, done: Any) -> str:
        assert done.returncode != 0, done.output
        lines = [ln for ln in done.stderr.splitlines() if ln.startswith("Error:")]
        assert len(lines) == 1, done.output
        return lines[0]

    def test_unknown_prefix_says_where_it_looked(self, cli, three_runs):
        """An unknown prefix names the experiment and the store."""
        line = self.error_line(cli("show", "ffffffff"))
        assert "No run matches 'ffffffff'" in line
        assert f"experiment 'e2e_project' at sqlite:///{three_runs.project}/mlflow.db" in line

    def test_beyond_the_oldest(self, cli):
        """latest~3 of three runs says how many there are."""
        assert "has 3 runs (latest~2 is the oldest)" in self.error_line(cli("show", "latest~3"))

    def test_malformed_reference(self, cli):
        """A too-short prefix says what a reference may be."""
        assert "at least 6 characters" in self.error_line(cli("compare", "abc", "latest"))

    def test_ambiguous_prefix_lists_the_candidates(self, three_runs, tmp_path, kedro, new_project):
        """Two runs sharing the prefix: an error listing both ids."""
        project = new_project(tmp_path)
        target = project / "mlflow.db"
        target.write_bytes((three_runs.project / "mlflow.db").read_bytes())
        original = three_runs.ids[0]
        twin = original[:8] + "0" * 24
        with sqlite3.connect(target) as db:  # a second run whose id shares 8 characters
            columns = [row[1] for row in db.execute("PRAGMA table_info(runs)")]
            picked = ", ".join("?" if c in ("run_uuid", "name") else c for c in columns)
            db.execute(
                f"INSERT INTO runs ({', '.join(columns)}) SELECT {picked} FROM runs WHERE run_uuid = ?",
                [twin if c == "run_uuid" else "twin" for c in columns if c in ("run_uuid", "name")]
                + [original],
            )
        done = kedro(project, "metrics", "show", original[:8])
        line = self.error_line(done)
        assert "is ambiguous" in line and original in line and twin in line


class TestAProjectWithNoStoreYet:
    def test_reading_creates_no_store(self, project, kedro):
        """Before the first `kedro run`: no runs, a clear error for a run reference,
        and the project's sqlite file is not created by reading."""
        runs = kedro(project, "metrics", "runs", "--format", "json")
        assert json.loads(machine_document(runs)) == []
        show = kedro(project, "metrics", "show")
        assert show.returncode == 1
        assert "Error: No run 'latest': experiment 'e2e_project' at sqlite:///" in show.stderr, (
            show.output
        )
        assert not (project / "mlflow.db").exists()
