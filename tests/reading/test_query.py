"""get_metrics and run references on real stores: a sqlite file and a loopback
`mlflow server`, three runs with known metrics in an experiment of their own."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest
from mlflow import MlflowClient
from mlflow.entities import Metric

from kedro_metrics import get_metrics
from kedro_metrics.errors import RunReferenceError
from kedro_metrics.reading.query import resolve_runs
from kedro_metrics.records import RECORD_FIELDS

T0 = 1_700_000_000_000  # 2023-11-14T22:13:20Z

#: run name -> (pipeline tag, status, {key: [(value, step, timestamp offset)]})
RUNS = {
    "first": ("__default__", "FINISHED", {
        "model.acc": [(0.5, 0, 1), (0.625, 1, 2)],
        "model.loss": [(0.75, 0, 1)],
        "eval.f1": [(0.25, 0, 3)],
    }),
    "second": ("train", "FAILED", {
        "model.acc": [(0.75, 0, 1)],
        "model.loss": [(0.5, 0, 1), (0.375, 1, 2)],
    }),
    "third": ("train,eval", "FINISHED", {
        "model.acc": [(0.875, 2, 4)],
        "eval.f1": [(0.5, 0, 3)],
    }),
}  # fmt: skip


@dataclass(frozen=True)
class Seeded:
    uri: str
    experiment: str
    ids: dict[str, str]  # run name -> id
    starts: dict[str, int]

    def record(self, run: str, key: str, value: float, step: int, offset: int) -> dict:
        pipeline = RUNS[run][0]
        start = self.starts[run]
        stamp = start + offset
        seconds, millis = divmod(stamp, 1000)
        from datetime import datetime, timezone

        iso = datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        return {
            "name": key, "value": value, "step": step, "timestamp": stamp,
            "run_id": self.ids[run], "run_name": run, "pipeline": pipeline,
            "experiment": self.experiment, "created_at": f"{iso}.{millis:03d}Z",
        }  # fmt: skip

    def last(self, run: str, key: str) -> dict:
        value, step, offset = max(RUNS[run][2][key], key=lambda p: (p[1], p[2]))
        return self.record(run, key, value, step, offset)

    def history(self, run: str, key: str) -> list[dict]:
        return [self.record(run, key, *p) for p in sorted(RUNS[run][2][key], key=lambda p: p[1:])]


def seed(uri: str) -> Seeded:
    client = MlflowClient(tracking_uri=uri)
    experiment = f"query-{uuid.uuid4().hex[:8]}"
    experiment_id = client.create_experiment(experiment)
    ids, starts = {}, {}
    for index, (name, (pipeline, status, metrics)) in enumerate(RUNS.items()):
        start = T0 + index * 60_000
        run = client.create_run(
            experiment_id, start_time=start, run_name=name, tags={"kedro.pipeline": pipeline}
        )
        batch = [
            Metric(key, value, start + offset, step)
            for key, points in metrics.items()
            for value, step, offset in points
        ]
        client.log_batch(run.info.run_id, metrics=batch)
        client.set_terminated(run.info.run_id, status=status, end_time=start + 1500)
        ids[name], starts[name] = run.info.run_id, start
    # A run of another experiment, for full ids "from any experiment".
    other = client.create_run(client.create_experiment(f"other-{experiment}"), run_name="elsewhere")
    client.log_batch(other.info.run_id, metrics=[Metric("x", 1.0, T0, 0)])
    ids["elsewhere"] = other.info.run_id
    return Seeded(uri, experiment, ids, starts)


@pytest.fixture(
    scope="module",
    params=["sqlite", pytest.param("server", marks=pytest.mark.server)],
)
def seeded(request, sqlite_template, tmp_path_factory) -> Seeded:
    if request.param == "server":
        return seed(request.getfixturevalue("mlflow_server").url)
    import shutil

    path = tmp_path_factory.mktemp("query") / "mlflow.db"
    shutil.copyfile(sqlite_template, path)
    return seed(f"sqlite:///{path}")


def metrics(seeded: Seeded, *args, **kwargs):
    return get_metrics(*args, tracking_uri=seeded.uri, experiment=seeded.experiment, **kwargs)


class TestGetMetricsLastValues:
    """history=False: the last value of each metric of each matching run, newest run first."""

    def test_every_run(self, seeded):
        """No filter: every metric of every run of the experiment, exact records."""
        assert metrics(seeded) == [
            seeded.last("third", "eval.f1"),
            seeded.last("third", "model.acc"),
            seeded.last("second", "model.acc"),
            seeded.last("second", "model.loss"),
            seeded.last("first", "eval.f1"),
            seeded.last("first", "model.acc"),
            seeded.last("first", "model.loss"),
        ]

    def test_records_have_exactly_the_pinned_keys(self, seeded):
        """Each record is a dict with exactly RECORD_FIELDS, in order."""
        assert {tuple(r) for r in metrics(seeded)} == {RECORD_FIELDS}

    def test_name_exact_and_glob(self, seeded):
        """name is an exact key or a glob."""
        assert metrics(seeded, "eval.f1") == [
            seeded.last("third", "eval.f1"),
            seeded.last("first", "eval.f1"),
        ]
        assert [(r["run_name"], r["name"]) for r in metrics(seeded, "model.*")] == [
            ("third", "model.acc"), ("second", "model.acc"), ("second", "model.loss"),
            ("first", "model.acc"), ("first", "model.loss"),
        ]  # fmt: skip

    def test_pipeline_matches_one_of_the_run_s_pipelines(self, seeded):
        """pipeline="train" keeps runs tagged train and train,eval, not __default__."""
        assert {r["run_name"] for r in metrics(seeded, pipeline="train")} == {"second", "third"}
        assert {r["run_name"] for r in metrics(seeded, pipeline="eval")} == {"third"}

    def test_status(self, seeded):
        """status keeps runs with that MLflow status (any case)."""
        assert {r["run_name"] for r in metrics(seeded, status="failed")} == {"second"}

    def test_bad_status_lists_mlflow_s_statuses(self, seeded):
        """An unknown status is an error naming it and the statuses MLflow has."""
        with pytest.raises(RunReferenceError, match=r"'DONE' is not one of MLflow's: .*FINISHED"):
            metrics(seeded, status="DONE")

    def test_run_references(self, seeded):
        """run takes one reference or a list; results follow the references."""
        assert metrics(seeded, "model.acc", run="latest~1") == [seeded.last("second", "model.acc")]
        got = metrics(seeded, "model.acc", run=[seeded.ids["first"][:8], "latest"])
        assert got == [seeded.last("first", "model.acc"), seeded.last("third", "model.acc")]

    def test_full_id_from_another_experiment(self, seeded):
        """A full run id is found in any experiment."""
        got = metrics(seeded, run=seeded.ids["elsewhere"])
        assert [(r["name"], r["run_name"], r["experiment"]) for r in got] == [
            ("x", "elsewhere", f"other-{seeded.experiment}")
        ]

    def test_filters_combine(self, seeded):
        """name, pipeline, status and run all hold together."""
        got = metrics(seeded, "model.*", pipeline="train", status="FINISHED")
        assert got == [seeded.last("third", "model.acc")]
        assert metrics(seeded, pipeline="train", run="latest~2") == []

    def test_a_bad_status_fails_even_with_no_runs(self, seeded):
        """A typo in status is an error, not an empty answer, where no run exists."""
        with pytest.raises(RunReferenceError, match=r"'bogus' is not one of MLflow's"):
            get_metrics(tracking_uri=seeded.uri, experiment="no-such-experiment", status="bogus")

    def test_unknown_experiment_has_no_runs(self, seeded):
        """An experiment the store lacks yields no records."""
        assert get_metrics(tracking_uri=seeded.uri, experiment="no-such-experiment") == []


class TestGetMetricsHistory:
    """history=True: every point, ordered by step, per run and metric."""

    def test_histories(self, seeded):
        """Each (run, metric) contributes its whole history."""
        got = metrics(seeded, "model.*", run=["latest~2", "latest~1"], history=True)
        assert got == [
            *seeded.history("first", "model.acc"),
            *seeded.history("first", "model.loss"),
            *seeded.history("second", "model.acc"),
            *seeded.history("second", "model.loss"),
        ]


class TestGetMetricsValue:
    """value=: the point each metric's history gives (min, max, mean, first, best)."""

    def test_min_max_first_mean(self, seeded):
        """Each record is the chosen point, with its own step and timestamp."""
        for value, point in [("min", (0.5, 0, 1)), ("max", (0.625, 1, 2)), ("first", (0.5, 0, 1))]:
            assert metrics(seeded, "model.acc", run="latest~2", value=value) == [
                seeded.record("first", "model.acc", *point)
            ]
        (mean,) = metrics(seeded, "model.acc", run="latest~2", value="mean")
        assert (mean["value"], mean["step"]) == (0.5625, 1)

    def test_best_needs_a_direction(self, seeded, caplog):
        """An exact name without a direction raises; a glob leaves such keys out, warned."""
        from kedro_metrics.errors import FilterError

        with pytest.raises(FilterError, match="value='best' needs the direction of 'model.acc'"):
            metrics(seeded, "model.acc", value="best")
        assert metrics(seeded, "model.*", value="best") == []
        assert (
            "left out of value='best' (no direction declared): model.acc, model.loss" in caplog.text
        )

    def test_unknown_value(self, seeded):
        with pytest.raises(
            ValueError, match="value must be one of last, best, min, max, mean, first"
        ):
            metrics(seeded, value="median")


class TestGetMetricsWhereSort:
    """where= and sort= filter and order in the store's search, also runs given by reference."""

    def test_where_and_sort(self, seeded):
        got = metrics(seeded, "model.acc", where="model.acc > 0.6", sort="model.acc:asc")
        assert [(r["run_name"], r["value"]) for r in got] == [
            ("first", 0.625), ("second", 0.75), ("third", 0.875),
        ]  # fmt: skip

    def test_references_are_kept_when_they_meet_where(self, seeded):
        got = metrics(seeded, "model.acc", run=["latest~2", "latest"], where=["model.acc > 0.7"])
        assert [r["run_name"] for r in got] == ["third"]
        ordered = metrics(seeded, "model.acc", run=["latest", "latest~2"], sort="model.acc:asc")
        assert [r["run_name"] for r in ordered] == ["first", "third"]

    def test_params_tags_and_status(self, seeded):
        got = metrics(
            seeded, "model.acc", where=["tags.kedro.pipeline = train", "status != FINISHED"]
        )
        assert [r["run_name"] for r in got] == ["second"]


class TestGetMetricsFrame:
    """as_frame=True: a pandas DataFrame with the record columns."""

    def test_frame_equals_the_records(self, seeded):
        """Same rows and columns as the list of records."""
        frame = metrics(seeded, history=True, as_frame=True)
        assert list(frame.columns) == list(RECORD_FIELDS)
        assert frame.to_dict("records") == metrics(seeded, history=True)

    def test_empty_frame_keeps_the_columns(self, seeded):
        """No match still gives the columns."""
        frame = metrics(seeded, "nothing.*", as_frame=True)
        assert list(frame.columns) == list(RECORD_FIELDS) and frame.empty


class TestResolveRuns:
    """resolve_runs: references -> runs, in the order given; clear errors."""

    def test_references_in_order(self, seeded):
        """latest, latest~N, a prefix and a full id resolve to the named runs."""
        runs = resolve_runs(
            ["latest", "latest~2", seeded.ids["second"][:6], seeded.ids["third"]],
            tracking_uri=seeded.uri, experiment=seeded.experiment,
        )  # fmt: skip
        assert [r.run_name for r in runs] == ["third", "first", "second", "third"]
        assert runs[0].latest["model.acc"].value == 0.875

    def test_unknown_prefix_names_experiment_and_uri(self, seeded):
        """An unknown prefix says which experiment and store were searched."""
        with pytest.raises(RunReferenceError) as caught:
            resolve_runs("ffffffff", tracking_uri=seeded.uri, experiment=seeded.experiment)
        assert f"experiment {seeded.experiment!r} at {seeded.uri}" in str(caught.value)

    def test_unknown_full_id(self, seeded):
        """A full id of no run says it looked in every experiment of the store."""
        with pytest.raises(RunReferenceError, match="any experiment at"):
            resolve_runs("f" * 32, tracking_uri=seeded.uri, experiment=seeded.experiment)

    def test_latest_beyond_the_oldest(self, seeded):
        """latest~3 of three runs is an error saying there are three."""
        with pytest.raises(RunReferenceError, match="has 3 runs"):
            resolve_runs("latest~3", tracking_uri=seeded.uri, experiment=seeded.experiment)


class TestFindRunsByPipeline:
    def test_limit_counts_exact_pipeline_matches_only(self, sqlite_uri):
        """The search's LIKE also matches `x__default__`: the limit applies after the
        exact match, so the older `__default__` run is still found with limit 1."""
        from kedro_metrics.reading.query import Scope, find_runs

        client = MlflowClient(tracking_uri=sqlite_uri)
        experiment = "pipelines"
        experiment_id = client.create_experiment(experiment)
        older = client.create_run(
            experiment_id, start_time=T0, tags={"kedro.pipeline": "__default__"}
        )
        client.create_run(experiment_id, start_time=T0 + 1, tags={"kedro.pipeline": "x__default__"})
        found = find_runs(Scope(sqlite_uri, experiment), pipeline="__default__", limit=1)
        assert [run.run_id for run in found] == [older.info.run_id]
