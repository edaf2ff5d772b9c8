"""kedro_metrics.io.datasets against real MLflow stores: a sqlite file, a real `mlflow
server` on sqlite and one on PostgreSQL. No mocks: what a test asserts is what MLflow
itself stores and returns."""

from __future__ import annotations

import logging
import math
import pickle
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import mlflow
import numpy as np
import pytest
from kedro.io import DataCatalog, DatasetError
from mlflow import MlflowClient
from mlflow.entities import RunTag

import kedro_metrics
from kedro_metrics import MlflowMetricDataSet, MlflowMetricsDataSet, store
from kedro_metrics.delivery import DeliveryPolicy
from kedro_metrics.errors import TrackingError
from tests.servers import MlflowServer, free_port

SQLITE_ONLY = pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
SERVERS_ONLY = pytest.mark.parametrize(
    "store_kind",
    [
        pytest.param("server", marks=pytest.mark.server),
        pytest.param("postgres", marks=[pytest.mark.server, pytest.mark.postgres]),
    ],
    indirect=True,
)

#: MLflow's SQL stores (sqlite and PostgreSQL alike) store +/-inf as +/-max float.
FLOAT_MAX = sys.float_info.max
TS = 1_700_000_000_000
NAN = float("nan")
#: A run id no store holds (the servers in these tests are unreachable anyway).
RUN = "r" * 32


def point(value: float, step: int = 0) -> dict[str, Any]:
    return {"value": value, "step": step}


def nan_safe(data: Any) -> Any:
    """``data`` with NaN replaced by a marker, so that NaN compares equal to NaN."""
    if isinstance(data, float) and math.isnan(data):
        return "<NaN>"
    if isinstance(data, dict):
        return {key: nan_safe(value) for key, value in data.items()}
    if isinstance(data, (list, tuple)):
        return type(data)(nan_safe(item) for item in data)
    return data


def stored_metrics(uri: str, run_id: str) -> dict[str, float]:
    """The run's latest value per key, as MLflow returns it."""
    return MlflowClient(tracking_uri=uri).get_run(run_id).data.metrics


def stored_history(uri: str, run_id: str, key: str) -> list[tuple[float, int]]:
    """(value, step) of a metric's whole history, ordered by step then timestamp."""
    history = MlflowClient(tracking_uri=uri).get_metric_history(run_id, key)
    return [(m.value, m.step) for m in sorted(history, key=lambda m: (m.step, m.timestamp))]


def settled_requests(server: MlflowServer, path_part: str = "") -> list[tuple[str, str, int]]:
    """The server's access log once it stops growing (uvicorn writes lines as it goes)."""
    seen = server.requests(path_part)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        time.sleep(0.25)
        now = server.requests(path_part)
        if now == seen:
            break
        seen = now
    return seen


# Every accepted shape: (given, canonical load form), for a dataset with prefix "model".
SHAPES = {
    "float": ({"acc": 0.93}, {"acc": point(0.93)}),
    "int": ({"n": 7}, {"n": point(7.0)}),
    "zero and negative": ({"a": 0, "b": -3.5}, {"a": point(0.0), "b": point(-3.5)}),
    "point": ({"acc": {"value": 0.5, "step": 3}}, {"acc": point(0.5, 3)}),
    "point without step": ({"acc": {"value": 0.5}}, {"acc": point(0.5, 0)}),
    "point with timestamp": (
        {"acc": {"value": 0.5, "step": 2, "timestamp": TS}},
        {"acc": point(0.5, 2)},
    ),
    "list of points": (
        {"loss": [{"value": 0.9, "step": 0}, {"value": 0.4, "step": 1}]},
        {"loss": [point(0.9, 0), point(0.4, 1)]},
    ),
    "list of points out of step order": (
        {"loss": [{"value": 0.4, "step": 5}, {"value": 0.9, "step": 2}]},
        {"loss": [point(0.9, 2), point(0.4, 5)]},
    ),
    "same step ordered by timestamp": (
        {
            "x": [
                {"value": 2.0, "step": 1, "timestamp": TS + 5},
                {"value": 1.0, "step": 1, "timestamp": TS},
            ]
        },
        {"x": [point(1.0, 1), point(2.0, 1)]},
    ),
    "list of numbers": (
        {"loss": [0.9, 0.5, 0.4]},
        {"loss": [point(0.9, 0), point(0.5, 1), point(0.4, 2)]},
    ),
    "tuple of numbers": ({"loss": (1, 2.5)}, {"loss": [point(1.0, 0), point(2.5, 1)]}),
    "one-element list": ({"x": [0.5]}, {"x": point(0.5, 0)}),
    "nested groups": (
        {"eval": {"acc": 0.8, "f1": {"macro": 0.7, "micro": [0.1, 0.2]}}},
        {
            "eval.acc": point(0.8),
            "eval.f1.macro": point(0.7),
            "eval.f1.micro": [point(0.1, 0), point(0.2, 1)],
        },
    ),
    "numpy scalars": (
        {
            "f32": np.float32(0.1),
            "f64": np.float64(0.25),
            "i64": np.int64(7),
            "mixed": [np.float32(1.5), np.int32(2)],
            "in_point": {"value": np.float64(3.5), "step": np.int64(4)},
        },
        {
            "f32": point(float(np.float32(0.1))),
            "f64": point(0.25),
            "i64": point(7.0),
            "mixed": [point(1.5, 0), point(2.0, 1)],
            "in_point": point(3.5, 4),
        },
    ),
    "nan": ({"x": NAN, "h": [1.0, NAN]}, {"x": point(NAN), "h": [point(1.0, 0), point(NAN, 1)]}),
    "inf is clamped to max float": (
        {"pos": math.inf, "neg": -math.inf, "h": [math.inf, 1.0]},
        {
            "pos": point(FLOAT_MAX),
            "neg": point(-FLOAT_MAX),
            "h": [point(FLOAT_MAX, 0), point(1.0, 1)],
        },
    ),
    "extreme values and steps": (
        {"x": [{"value": 5e-324, "step": -(2**62)}, {"value": -1.7e308, "step": 2**62}]},
        {"x": [point(5e-324, -(2**62)), point(-1.7e308, 2**62)]},
    ),
    "names with MLflow's special characters": (
        {"val/loss": 1.0, "with space": 2.0, "a:b-c_d": 3.0},
        {"val/loss": point(1.0), "with space": point(2.0), "a:b-c_d": point(3.0)},
    ),
    "DESIGN example": (
        {
            "accuracy": {"value": 0.93, "step": 1},
            "loss": [{"value": 0.9, "step": 0}, {"value": 0.4, "step": 1}],
        },
        {"accuracy": point(0.93, 1), "loss": [point(0.9, 0), point(0.4, 1)]},
    ),
}

#: Nine valid metrics and one bad one.
NINE_GOOD_ONE_BAD = {**{f"m{i}": [float(i), float(i) + 0.5] for i in range(9)}, "m9": "x"}

SEVERAL_BAD = {
    "ok": 1.0,
    "text": "x",
    "nothing": None,
    "flag": True,
    "loss": [0.9, 0.5, 0.4, {"value": 0.3, "step": "x"}],
    "steps": [{"value": 1.0, "step": 1.5}],
    "no_value": {"step": 1},
    "typo": {"value": 1.0, "stepp": 2, "step": 1},
    "empty": [],
    "bad!": 1.0,
    "group": {"x/": 1.0},
}
SEVERAL_BAD_PROBLEMS = [
    "text: expected a number, got 'x'",
    "nothing: expected a number, got None",
    "flag: expected a number, got True",
    "loss: a list must hold only numbers or only points, not both",
    "loss[3].step: expected an integer, got 'x'",
    "steps[0].step: expected an integer, got 1.5",
    "no_value: point without a value",
    "typo: unknown key(s) 'stepp' in a point",
    "empty: empty list",
    "bad!: invalid MLflow key 'model.bad!'",
    "group.x/: invalid MLflow key 'model.group.x/'",
]


class TestRoundTrip:
    """What save writes, load returns in canonical form, on every store."""

    @pytest.mark.parametrize(("given", "expected"), SHAPES.values(), ids=SHAPES.keys())
    def test_every_shape_round_trips(self, store_uri, run_id, given, expected):
        """load(save(x)) is the canonical form of x; NaN stays NaN, inf becomes max float."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        dataset.save(given)
        assert nan_safe(dataset.load()) == nan_safe(expected)
        assert sorted(stored_metrics(store_uri, run_id)) == sorted(f"model.{k}" for k in expected)
        for name, canonical in expected.items():
            history = canonical if isinstance(canonical, list) else [canonical]
            assert nan_safe(stored_history(store_uri, run_id, f"model.{name}")) == nan_safe(
                [(p["value"], p["step"]) for p in history]
            )

    def test_ten_metrics_of_a_thousand_steps_land_completely(
        self, store_uri, store_kind, run_id, record_timing
    ):
        """10 metrics x 1,000 steps: every key, step and value is in MLflow, nothing more."""
        data = {f"metric_{m}": [m + s / 1000 for s in range(1000)] for m in range(10)}
        dataset = MlflowMetricsDataSet(prefix="train", run_id=run_id, tracking_uri=store_uri)
        started = time.perf_counter()
        dataset.save(data)
        record_timing(f"save 10 x 1,000 points ({store_kind})", time.perf_counter() - started)

        assert stored_metrics(store_uri, run_id) == {
            f"train.metric_{m}": m + 999 / 1000 for m in range(10)
        }
        for m in range(10):
            history = stored_history(store_uri, run_id, f"train.metric_{m}")
            assert history == [(m + s / 1000, s) for s in range(1000)]
        loaded = dataset.load()
        assert loaded == {
            f"metric_{m}": [point(m + s / 1000, s) for s in range(1000)] for m in range(10)
        }

    def test_one_long_history_lands_with_the_right_latest_value(self, store_uri, run_id):
        """5,000 steps of one metric (several batches) all land; latest = highest step's."""
        dataset = MlflowMetricsDataSet(prefix="long", run_id=run_id, tracking_uri=store_uri)
        dataset.save({"loss": [1.0 / (s + 1) for s in range(5000)]})
        assert stored_metrics(store_uri, run_id) == {"long.loss": 1.0 / 5000}
        assert stored_history(store_uri, run_id, "long.loss") == [
            (1.0 / (s + 1), s) for s in range(5000)
        ]

    def test_an_empty_mapping_logs_nothing(self, store_uri, run_id):
        """Saving {} is not an error and writes nothing."""
        MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri).save({})
        assert stored_metrics(store_uri, run_id) == {}

    def test_nine_good_metrics_and_one_bad_write_nothing(self, store_uri, store_server, run_id):
        """One bad metric among ten: DatasetError with its path, and the run holds zero metrics."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        before = len(settled_requests(store_server)) if store_server else 0
        with pytest.raises(DatasetError) as caught:
            dataset.save(NINE_GOOD_ONE_BAD)
        message = str(caught.value)
        assert "Nothing was saved to 'model'" in message  # the dataset by its prefix
        assert "1 problem in the metrics" in message
        assert "m9: expected a number, got 'x'" in message
        assert "Nothing was saved" in message
        if store_server:
            assert settled_requests(store_server)[before:] == []
        assert stored_metrics(store_uri, run_id) == {}
        for i in range(9):
            assert stored_history(store_uri, run_id, f"model.m{i}") == []
        assert dataset.exists() is False

    def test_every_bad_entry_is_listed(self, store_uri, run_id):
        """Several bad entries: each is listed with its path and reason; nothing written."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        with pytest.raises(DatasetError) as caught:
            dataset.save(SEVERAL_BAD)
        message = str(caught.value)
        assert f"{len(SEVERAL_BAD_PROBLEMS)} problems in the metrics" in message
        for problem in SEVERAL_BAD_PROBLEMS:
            assert f"  - {problem}" in message
        assert not any(line.startswith("  - ok") for line in message.splitlines())
        assert stored_metrics(store_uri, run_id) == {}


@SERVERS_ONLY
class TestRequests:
    """Requests a real server receives, counted from its access log."""

    def test_save_uses_one_log_batch_per_thousand_points_and_load_k_plus_one(
        self, store_uri, store_server, run_id
    ):
        """10 x 1,000 points save in exactly 10 log-batch POSTs; load of K=10 costs K+1 GETs."""
        data = {f"metric_{m}": [float(m * 1000 + s) for s in range(1000)] for m in range(10)}
        dataset = MlflowMetricsDataSet(prefix="count", run_id=run_id, tracking_uri=store_uri)

        before = len(settled_requests(store_server))
        dataset.save(data)
        during_save = settled_requests(store_server)[before:]
        assert during_save == [("POST", "/api/2.0/mlflow/runs/log-batch", 200)] * 10

        before = len(settled_requests(store_server))
        loaded = dataset.load()
        during_load = settled_requests(store_server)[before:]
        runs_get = [r for r in during_load if "/runs/get?" in r[1]]
        histories = [r for r in during_load if "/metrics/get-history?" in r[1]]
        assert len(during_load) <= 10 + 1
        assert len(runs_get) == 1
        assert len(histories) == 10
        assert all(method == "GET" and status == 200 for method, _, status in during_load)
        assert loaded == {
            f"metric_{m}": [point(float(m * 1000 + s), s) for s in range(1000)] for m in range(10)
        }

    def test_exists_costs_one_request(self, store_uri, store_server, run_id):
        """exists() reads the run once."""
        dataset = MlflowMetricsDataSet(prefix="count", run_id=run_id, tracking_uri=store_uri)
        before = len(settled_requests(store_server))
        assert dataset.exists() is False
        during = settled_requests(store_server)[before:]
        assert len(during) == 1
        assert "/api/2.0/mlflow/runs/get?" in during[0][1]


@SQLITE_ONLY
class TestPrefix:
    """Only keys under ``prefix + "."`` belong to a dataset."""

    def test_prefix_does_not_load_a_longer_prefix(self, store_uri, run_id):
        """Prefix "model" does not pick up "model_2.x", "modelx.y" or a bare "model" key."""
        model = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        model_2 = MlflowMetricsDataSet(prefix="model_2", run_id=run_id, tracking_uri=store_uri)
        bare = MlflowMetricsDataSet(prefix="", run_id=run_id, tracking_uri=store_uri)
        model.save({"x": 1.0})
        model_2.save({"x": 2.0})
        bare.save({"model": 3.0, "modelx": {"y": 4.0}})

        assert model.load() == {"x": point(1.0)}
        assert model_2.load() == {"x": point(2.0)}
        assert stored_metrics(store_uri, run_id) == {
            "model.x": 1.0,
            "model_2.x": 2.0,
            "model": 3.0,
            "modelx.y": 4.0,
        }

    def test_empty_prefix_loads_everything(self, store_uri, run_id):
        """Prefix "" owns every key of the run, names unchanged."""
        MlflowMetricsDataSet(prefix="a", run_id=run_id, tracking_uri=store_uri).save({"x": 1.0})
        MlflowMetricsDataSet(prefix="b", run_id=run_id, tracking_uri=store_uri).save({"y": [1, 2]})
        everything = MlflowMetricsDataSet(prefix="", run_id=run_id, tracking_uri=store_uri)
        assert everything.load() == {"a.x": point(1.0), "b.y": [point(1.0, 0), point(2.0, 1)]}
        assert stored_metrics(store_uri, run_id) == {"a.x": 1.0, "b.y": 2.0}

    def test_no_prefix_given_means_no_prefix_outside_kedro_run(self, store_uri, run_id):
        """Without a prefix (and no hook to set it) names are logged as given."""
        dataset = MlflowMetricsDataSet(run_id=run_id, tracking_uri=store_uri)
        dataset.save({"acc": 0.5})
        assert stored_metrics(store_uri, run_id) == {"acc": 0.5}

    def test_a_nested_prefix_owns_only_its_subtree(self, store_uri, run_id):
        """Prefix "model.eval" loads "model.eval.*" and not "model.train.*"."""
        MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri).save(
            {"eval": {"acc": 0.8}, "train": {"acc": 0.9}}
        )
        nested = MlflowMetricsDataSet(prefix="model.eval", run_id=run_id, tracking_uri=store_uri)
        assert nested.load() == {"acc": point(0.8)}
        assert stored_metrics(store_uri, run_id) == {"model.eval.acc": 0.8, "model.train.acc": 0.9}


@SQLITE_ONLY
class TestRuns:
    """Which run a dataset reads and writes."""

    def test_exists_is_false_then_true(self, store_uri, run_id):
        """exists() is false before the first save and true after it."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        other = MlflowMetricsDataSet(prefix="other", run_id=run_id, tracking_uri=store_uri)
        assert dataset.exists() is False
        assert dataset.load() == {}
        dataset.save({"acc": 0.5})
        assert stored_metrics(store_uri, run_id) == {"model.acc": 0.5}
        assert dataset.exists() is True
        assert other.exists() is False

    def test_exists_is_false_without_a_run(self, store_uri):
        """exists() is false, not an error, when there is no run_id and no active run."""
        mlflow.set_tracking_uri(store_uri)
        assert mlflow.active_run() is None
        assert MlflowMetricsDataSet(prefix="model").exists() is False
        assert MlflowMetricDataSet(key="model.acc").exists() is False

    def test_a_second_runs_metrics_are_not_loaded(self, store_uri, run_id, new_run):
        """A dataset reads its own run only, even when another run has the same keys."""
        other_run = new_run()
        mine = MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=store_uri)
        theirs = MlflowMetricsDataSet(prefix="model", run_id=other_run, tracking_uri=store_uri)
        mine.save({"acc": 0.5})
        theirs.save({"acc": 0.9, "loss": 0.1})
        assert mine.load() == {"acc": point(0.5)}
        assert theirs.load() == {"acc": point(0.9), "loss": point(0.1)}
        assert stored_metrics(store_uri, run_id) == {"model.acc": 0.5}

    def test_save_without_any_run_explains_the_three_ways(self, store_uri):
        """No run_id and no active run: DatasetError naming the three ways to get a run."""
        dataset = MlflowMetricsDataSet(prefix="model", tracking_uri=store_uri)
        with pytest.raises(DatasetError) as caught:
            dataset.save({"acc": 0.5})
        message = str(caught.value)
        assert "run_id" in message
        assert "kedro run" in message
        assert "mlflow.start_run()" in message
        assert MlflowClient(tracking_uri=store_uri).search_runs(["0"]) == []

    def test_load_without_any_run_explains_the_three_ways(self, store_uri):
        """load() with no run at all says how to get one."""
        with pytest.raises(DatasetError, match=r"mlflow\.start_run\(\)"):
            MlflowMetricsDataSet(prefix="model", tracking_uri=store_uri).load()

    def test_uses_the_active_run_when_no_run_id_is_given(self, store_uri):
        """With mlflow.start_run() active and no run_id, save and load use that run."""
        mlflow.set_tracking_uri(store_uri)
        with mlflow.start_run() as run:
            dataset = MlflowMetricsDataSet(prefix="nb")
            dataset.save({"acc": 0.5, "loss": [0.9, 0.4]})
            assert dataset.load() == {"acc": point(0.5), "loss": [point(0.9, 0), point(0.4, 1)]}
        assert stored_metrics(store_uri, run.info.run_id) == {"nb.acc": 0.5, "nb.loss": 0.4}
        assert stored_history(store_uri, run.info.run_id, "nb.loss") == [(0.9, 0), (0.4, 1)]

    def test_an_explicit_run_id_wins_over_the_active_run(self, store_uri, run_id):
        """Given a run_id, the dataset logs there, not to whatever run is active."""
        mlflow.set_tracking_uri(store_uri)
        with mlflow.start_run() as active:
            MlflowMetricsDataSet(prefix="m", run_id=run_id).save({"acc": 0.5})
        assert stored_metrics(store_uri, run_id) == {"m.acc": 0.5}
        assert stored_metrics(store_uri, active.info.run_id) == {}

    def test_error_names_the_catalog_name_when_bound(self, store_uri, run_id):
        """Once the hook has told it its catalog name, errors name the dataset by it."""
        dataset = MlflowMetricsDataSet(tracking_uri=store_uri)
        dataset.bind_to_run(
            "model_metrics", tracking_uri=store_uri, policy=DeliveryPolicy(run_id=run_id)
        )
        with pytest.raises(DatasetError) as caught:
            dataset.save(NINE_GOOD_ONE_BAD)
        assert "'model_metrics'" in str(caught.value)
        assert "m9: expected a number, got 'x'" in str(caught.value)
        assert stored_metrics(store_uri, run_id) == {}


@SQLITE_ONLY
class TestPickling:
    """Datasets travel to other processes (ParallelRunner) with their URI and run."""

    def test_pickled_dataset_keeps_its_configuration_and_still_saves(self, store_uri, run_id):
        """pickle round trip keeps prefix, run_id, tracking_uri and load_args; the copy saves."""
        dataset = MlflowMetricsDataSet(
            prefix="model", run_id=run_id, tracking_uri=store_uri, load_args={"timestamps": True}
        )
        clone = pickle.loads(pickle.dumps(dataset))
        assert clone.prefix == "model"
        described = clone._describe()
        assert described["prefix"] == "model"
        assert described["run_id"] == run_id
        assert described["tracking_uri"] == store_uri
        assert described["load_args"] == {"timestamps": True}
        clone.save({"acc": {"value": 0.5, "step": 1, "timestamp": TS}})
        assert stored_metrics(store_uri, run_id) == {"model.acc": 0.5}
        assert clone.load() == {"acc": {"value": 0.5, "step": 1, "timestamp": TS}}
        assert dataset.load() == {"acc": {"value": 0.5, "step": 1, "timestamp": TS}}

    def test_pickled_bound_dataset_keeps_the_run_the_hook_gave_it(self, store_uri, run_id):
        """A dataset bound by the hook (name, run, store) still logs to that run after pickling."""
        dataset = MlflowMetricsDataSet()
        dataset.bind_to_run(
            "model_metrics", tracking_uri=store_uri, policy=DeliveryPolicy(run_id=run_id)
        )
        clone = pickle.loads(pickle.dumps(dataset))
        clone.save({"acc": 0.5})
        assert stored_metrics(store_uri, run_id) == {"model_metrics.acc": 0.5}

    def test_pickled_single_metric_dataset_still_saves(self, store_uri, run_id):
        """MlflowMetricDataSet pickles with its key, run and store."""
        dataset = MlflowMetricDataSet(key="train.loss", run_id=run_id, tracking_uri=store_uri)
        clone = pickle.loads(pickle.dumps(dataset))
        clone.save([0.9, 0.4])
        assert stored_history(store_uri, run_id, "train.loss") == [(0.9, 0), (0.4, 1)]


@SQLITE_ONLY
class TestLoadArgs:
    """load_args: timestamps on request; unknown keys are refused at construction."""

    def test_timestamps_are_loaded_only_when_asked(self, store_uri, run_id):
        """With timestamps: true, points carry their given timestamp or the time of save."""
        before = int(time.time() * 1000)
        MlflowMetricsDataSet(prefix="m", run_id=run_id, tracking_uri=store_uri).save(
            {"given": {"value": 1.0, "step": 2, "timestamp": TS}, "now": [1.0, 2.0]}
        )
        after = int(time.time() * 1000)
        with_ts = MlflowMetricsDataSet(
            prefix="m", run_id=run_id, tracking_uri=store_uri, load_args={"timestamps": True}
        ).load()
        assert with_ts["given"] == {"value": 1.0, "step": 2, "timestamp": TS}
        assert [p["step"] for p in with_ts["now"]] == [0, 1]
        assert all(before <= p["timestamp"] <= after for p in with_ts["now"])
        assert with_ts["now"][0]["timestamp"] == with_ts["now"][1]["timestamp"]
        without = MlflowMetricsDataSet(prefix="m", run_id=run_id, tracking_uri=store_uri).load()
        assert without == {"given": point(1.0, 2), "now": [point(1.0, 0), point(2.0, 1)]}

    @pytest.mark.parametrize("load_args", [{"mode": "last"}, {"timestamp": True}, {"bogus": 1}])
    def test_unknown_load_args_key_is_refused(self, store_uri, load_args):
        """An unknown load_args key raises DatasetError naming it and the allowed ones."""
        (name,) = load_args
        with pytest.raises(DatasetError) as caught:
            MlflowMetricsDataSet(prefix="m", tracking_uri=store_uri, load_args=load_args)
        assert repr(name) in str(caught.value)
        assert "timestamps" in str(caught.value)

    def test_load_args_of_the_wrong_type_are_refused(self, store_uri):
        """timestamps must be a bool; anything else is a DatasetError naming it."""
        with pytest.raises(DatasetError, match="timestamps"):
            MlflowMetricsDataSet(
                prefix="m", tracking_uri=store_uri, load_args={"timestamps": "yes"}
            )


@SQLITE_ONLY
class TestKedroIntegration:
    """The datasets as Kedro builds them from catalog configuration."""

    def test_catalog_entry_builds_a_working_dataset(self, store_uri, run_id):
        """Catalog entries with the documented types save and load through DataCatalog."""
        catalog = DataCatalog.from_config(
            {
                "eval_metrics": {
                    "type": "kedro_metrics.MlflowMetricsDataSet",
                    "prefix": "eval",
                    "run_id": run_id,
                    "tracking_uri": store_uri,
                },
                "loss": {
                    "type": "kedro_metrics.MlflowMetricDataSet",
                    "key": "train.loss",
                    "run_id": run_id,
                    "tracking_uri": store_uri,
                    "load_args": {"mode": "values"},
                },
            }
        )
        catalog.save("eval_metrics", {"acc": 0.8})
        catalog.save("loss", [0.9, 0.4])
        assert catalog.load("eval_metrics") == {"acc": point(0.8)}
        assert catalog.load("loss") == [0.9, 0.4]
        assert stored_metrics(store_uri, run_id) == {"eval.acc": 0.8, "train.loss": 0.4}


class TestCredentials:
    """A password in the tracking URI never shows in repr, _describe or errors."""

    @pytest.fixture
    def secret_uri(self, monkeypatch) -> str:
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        return f"http://user:secret@127.0.0.1:{free_port()}"

    @pytest.fixture
    def datasets(self, secret_uri) -> list[tuple[Any, Any]]:
        """Both dataset kinds on the unreachable server, each with data it accepts."""
        return [
            (MlflowMetricsDataSet(prefix="m", run_id=RUN, tracking_uri=secret_uri), {"acc": 0.5}),
            (MlflowMetricDataSet(key="m.acc", run_id=RUN, tracking_uri=secret_uri), 0.5),
        ]

    def test_repr_str_and_describe_hide_the_password(self, datasets):
        """repr(), str() and _describe() show the server but not the password."""
        for dataset, _ in datasets:
            for text in (repr(dataset), str(dataset), repr(dataset._describe())):
                assert "secret" not in text
                assert "127.0.0.1" in text
            assert dataset._describe()["tracking_uri"].startswith("http://user:***@127.0.0.1:")

    @pytest.mark.parametrize(
        "operation",
        [
            pytest.param(lambda ds, data: ds.save(data), id="save"),
            pytest.param(lambda ds, data: ds.load(), id="load"),
            pytest.param(lambda ds, data: ds.exists(), id="exists"),
        ],
    )
    def test_errors_name_the_server_without_the_password(self, datasets, operation, caplog):
        """An unreachable server gives a DatasetError naming it, password hidden, also in logs."""
        caplog.set_level(logging.DEBUG)
        logging.getLogger("mlflow").addHandler(caplog.handler)
        try:
            for dataset, data in datasets:
                with pytest.raises(DatasetError) as caught:
                    operation(dataset, data)
                message = str(caught.value)
                assert "secret" not in message
                assert "user:***@127.0.0.1" in message
        finally:
            logging.getLogger("mlflow").removeHandler(caplog.handler)
        assert "secret" not in caplog.text

    @pytest.mark.parametrize(
        "operation",
        [
            pytest.param(lambda ds: ds.save({"acc": 0.5}), id="save"),
            pytest.param(lambda ds: ds.load(), id="load"),
        ],
    )
    def test_the_printed_traceback_hides_the_password(self, secret_uri, operation):
        """The traceback `kedro run` prints (error and chained causes) holds no password."""
        dataset = MlflowMetricsDataSet(prefix="m", run_id=RUN, tracking_uri=secret_uri)
        with pytest.raises(DatasetError) as caught:
            operation(dataset)
        printed = "".join(traceback.format_exception(caught.value))
        assert "127.0.0.1" in printed
        assert "secret" not in printed

    def test_validation_errors_hide_the_password(self, datasets):
        """A validation error does not print the URI's password either."""
        with pytest.raises(DatasetError) as caught:
            datasets[0][0].save({"acc": "x"})
        assert "secret" not in str(caught.value)
        assert "acc: expected a number, got 'x'" in str(caught.value)


class TestAsyncLogging:
    """async_logging: save validates at once, writes in the background, flush() waits."""

    @SQLITE_ONLY
    def test_async_save_lands_after_flush(self, store_uri, run_id):
        """With async_logging=True every point is in MLflow once store.flush() returns."""
        dataset = MlflowMetricsDataSet(
            prefix="a", run_id=run_id, tracking_uri=store_uri, async_logging=True
        )
        dataset.save({"loss": [float(s) for s in range(2500)]})
        store.flush()
        assert store.pending_writes() == 0
        assert stored_history(store_uri, run_id, "a.loss") == [(float(s), s) for s in range(2500)]

    @SQLITE_ONLY
    def test_async_save_still_validates_first(self, store_uri, run_id):
        """Bad input raises at save time even in async mode, and nothing is written."""
        dataset = MlflowMetricsDataSet(
            prefix="a", run_id=run_id, tracking_uri=store_uri, async_logging=True
        )
        with pytest.raises(DatasetError, match="m9: expected a number"):
            dataset.save(NINE_GOOD_ONE_BAD)
        store.flush()
        assert stored_metrics(store_uri, run_id) == {}

    def test_a_failed_async_write_is_reported_by_flush(self, monkeypatch):
        """An async write to a dead server is not lost silently: flush() raises, password hidden."""
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
        monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
        uri = f"http://user:secret@127.0.0.1:{free_port()}"
        dataset = MlflowMetricsDataSet(prefix="a", run_id=RUN, tracking_uri=uri, async_logging=True)
        dataset.save({"acc": 0.5})
        with pytest.raises(TrackingError) as caught:
            store.flush()
        assert "1 asynchronous metric write(s) failed" in str(caught.value)
        assert "secret" not in str(caught.value)
        assert "user:***@127.0.0.1" in str(caught.value)


@SQLITE_ONLY
class TestSingleMetric:
    """MlflowMetricDataSet: one metric under its full key."""

    @pytest.fixture
    def make(self, store_uri, run_id) -> Callable[..., MlflowMetricDataSet]:
        def build(mode: str | None = None, **kwargs: Any) -> MlflowMetricDataSet:
            kwargs.setdefault("key", "train.loss")
            load_args = {"mode": mode} if mode else kwargs.pop("load_args", None)
            return MlflowMetricDataSet(
                run_id=run_id, tracking_uri=store_uri, load_args=load_args, **kwargs
            )

        return build

    def test_saves_a_number(self, make, store_uri, run_id):
        """A number is one point at step 0; load returns it bare."""
        make().save(0.5)
        assert stored_history(store_uri, run_id, "train.loss") == [(0.5, 0)]
        assert make().load() == 0.5
        assert make("history").load() == [point(0.5, 0)]
        assert make("values").load() == [0.5]

    def test_saves_a_point(self, make, store_uri, run_id):
        """A point keeps its step."""
        make().save({"value": 0.7, "step": 4})
        assert stored_history(store_uri, run_id, "train.loss") == [(0.7, 4)]
        assert make().load() == 0.7
        assert make("history").load() == [point(0.7, 4)]

    def test_saves_a_list_of_numbers(self, make, store_uri, run_id):
        """A list of numbers is a history at steps 0..n-1."""
        make().save([0.9, 0.5, 0.4])
        assert stored_history(store_uri, run_id, "train.loss") == [(0.9, 0), (0.5, 1), (0.4, 2)]
        assert make().load() == 0.4
        assert make("values").load() == [0.9, 0.5, 0.4]
        assert make("history").load() == [point(0.9, 0), point(0.5, 1), point(0.4, 2)]

    def test_last_is_the_value_at_the_highest_step(self, make, store_uri, run_id):
        """mode last: the value at the highest step, not the last one given."""
        make().save([{"value": 1.0, "step": 5}, {"value": 2.0, "step": 1}])
        assert stored_history(store_uri, run_id, "train.loss") == [(2.0, 1), (1.0, 5)]
        assert make("last").load() == 1.0
        assert make("values").load() == [2.0, 1.0]

    def test_last_breaks_step_ties_by_latest_timestamp(self, make, store_uri, run_id):
        """mode last: on a step tie the latest timestamp wins."""
        make().save(
            [
                {"value": 1.0, "step": 3, "timestamp": TS + 10},
                {"value": 2.0, "step": 3, "timestamp": TS},
                {"value": 3.0, "step": 2, "timestamp": TS + 99},
            ]
        )
        assert stored_history(store_uri, run_id, "train.loss") == [(3.0, 2), (2.0, 3), (1.0, 3)]
        assert make("last").load() == 1.0
        assert make("values").load() == [3.0, 2.0, 1.0]
        assert make(load_args={"mode": "history", "timestamps": True}).load() == [
            {"value": 3.0, "step": 2, "timestamp": TS + 99},
            {"value": 2.0, "step": 3, "timestamp": TS},
            {"value": 1.0, "step": 3, "timestamp": TS + 10},
        ]

    def test_rejects_a_group(self, make, store_uri, run_id):
        """A mapping of several metrics is refused with a DatasetError; nothing written."""
        with pytest.raises(DatasetError, match="takes one metric"):
            make().save({"a": 1.0, "b": 2.0})
        assert stored_metrics(store_uri, run_id) == {}

    def test_rejects_bad_values(self, make, store_uri, run_id):
        """A bad value is a DatasetError with its path; nothing written."""
        with pytest.raises(DatasetError) as caught:
            make().save([0.9, "x"])
        assert "train.loss[1]: expected a number, got 'x'" in str(caught.value)
        assert stored_metrics(store_uri, run_id) == {}

    def test_rejects_a_key_mlflow_refuses(self, make, store_uri, run_id):
        """A key MLflow would refuse is a DatasetError before anything is written."""
        with pytest.raises(DatasetError, match="invalid MLflow key '../x'"):
            make(key="../x").save(1.0)
        assert stored_metrics(store_uri, run_id) == {}

    @pytest.mark.parametrize("mode", ["first", "LAST", ""])
    def test_invalid_mode_is_refused_at_construction(self, store_uri, mode):
        """An unknown load mode fails when the dataset is built, naming the allowed modes."""
        with pytest.raises(DatasetError) as caught:
            MlflowMetricDataSet(key="k", tracking_uri=store_uri, load_args={"mode": mode})
        assert repr(mode) in str(caught.value)
        assert "last, best, history, values" in str(caught.value)

    def test_without_a_key_is_a_dataset_error(self, make):
        """No key (and no hook to set it): save and load raise a DatasetError asking for one."""
        dataset = make(key=None)
        with pytest.raises(DatasetError, match="needs a `key`"):
            dataset.save(1.0)
        with pytest.raises(DatasetError, match="needs a `key`"):
            dataset.load()

    def test_loading_a_missing_metric_names_it(self, make, run_id):
        """load of a metric the run does not hold names the key and the run."""
        with pytest.raises(DatasetError) as caught:
            make().load()
        assert "'train.loss'" in str(caught.value)
        assert run_id in str(caught.value)

    def test_exists_is_false_then_true(self, make, store_uri, run_id):
        """exists() turns true once the metric is logged."""
        assert make().exists() is False
        assert make(key="other").exists() is False
        make().save(1.0)
        assert stored_metrics(store_uri, run_id) == {"train.loss": 1.0}
        assert make().exists() is True
        assert make(key="other").exists() is False


class TestPublicNames:
    """The names kedro_metrics exports."""

    def test_aliases_are_the_same_classes(self):
        """MlflowMetricsDataset is MlflowMetricsDataSet (and likewise for the singular)."""
        from kedro_metrics import MlflowMetricDataset, MlflowMetricsDataset

        assert MlflowMetricsDataset is MlflowMetricsDataSet
        assert MlflowMetricDataset is MlflowMetricDataSet

    def test_top_level_import(self):
        """`from kedro_metrics import MlflowMetricsDataSet` gives the dataset class."""
        from kedro_metrics import MlflowMetricsDataSet as imported
        from kedro_metrics.io.datasets import MlflowMetricsDataSet as defined

        assert imported is defined
        assert "MlflowMetricsDataSet" in kedro_metrics.__all__


class TestLoadOutsideAnyRun:
    """Outside kedro run and any project, load without a run says how to get one to load."""

    @pytest.mark.parametrize("store_kind", ["sqlite"], indirect=True)
    def test_no_run_error_speaks_of_loading(self, store_uri):
        """The DatasetError says there is no run to load from, and the ways to get one."""
        for dataset in (
            MlflowMetricsDataSet(prefix="model", tracking_uri=store_uri),
            MlflowMetricDataSet(key="model.acc", tracking_uri=store_uri),
        ):
            with pytest.raises(DatasetError) as caught:
                dataset.load()
            message = str(caught.value)
            assert "no MLflow run to load from" in message
            assert "log to" not in message
            for way in ("run_id", "kedro run", "mlflow.start_run()", "KedroSession"):
                assert way in message


# NumPy and pandas, appending histories, non-numeric values (issue 10) --------------

_LOCAL_AND_SERVER = pytest.mark.parametrize("store_kind", ["sqlite", "server"], indirect=True)


def _shapes() -> tuple[dict[str, Any], dict[str, Any]]:
    """Every NumPy/pandas shape a node may return, and what load gives back."""
    import pandas as pd

    given = {
        "f64": np.array([0.5, 0.25, np.nan]),
        "f32": np.array([1.5, 2.0], dtype=np.float32),
        "i64": np.arange(3),
        "u8": np.array([7, 255], dtype=np.uint8),
        "zero_d": np.array(3.25),
        "scalar": np.float64(4.5),
        "np_int": np.int32(-3),
        "series": pd.Series([0.75, 0.5]),
        "indexed": pd.Series([0.9, 0.1], index=[10, 20]),
        "labelled": pd.Series([1.0, 2.0], index=["a", "b"]),
        "stepped": [{"value": 1.0, "step": np.float64(2.0)}, {"value": 2.0, "step": np.int64(3)}],
    }

    def history(pairs):
        points = [{"value": float(v), "step": s} for s, v in pairs]
        return points[0] if len(points) == 1 else points

    expected = {
        "f64": history([(0, 0.5), (1, 0.25), (2, math.nan)]),
        "f32": history([(0, 1.5), (1, 2.0)]),
        "i64": history([(0, 0), (1, 1), (2, 2)]),
        "u8": history([(0, 7), (1, 255)]),
        "zero_d": history([(0, 3.25)]),
        "scalar": history([(0, 4.5)]),
        "np_int": history([(0, -3)]),
        "series": history([(0, 0.75), (1, 0.5)]),
        "indexed": history([(10, 0.9), (20, 0.1)]),
        "labelled": history([(0, 1.0), (1, 2.0)]),
        "stepped": history([(2, 1.0), (3, 2.0)]),
    }
    return given, expected


@_LOCAL_AND_SERVER
class TestNumpyAndPandasShapes:
    """Every NumPy/pandas shape is saved and loaded back exactly."""

    def test_round_trip(self, store_uri, run_id):
        """load(save(x)) is the canonical form of each shape, NaN included."""
        given, expected = _shapes()
        dataset = MlflowMetricsDataSet(prefix="np", run_id=run_id, tracking_uri=store_uri)
        dataset.save(given)
        assert nan_safe(dataset.load()) == nan_safe(expected)


@_LOCAL_AND_SERVER
class TestContinueSteps:
    """steps="continue" appends after the run's highest step."""

    def test_craft_accumulation(self, store_uri, run_id):
        """[1.4, 1.2] then [1.1, 1.0] give one four-point history at steps 0..3."""
        dataset = MlflowMetricsDataSet(
            prefix="m", run_id=run_id, tracking_uri=store_uri, steps="continue"
        )
        dataset.save({"loss": [1.4, 1.2], "acc": 0.5})
        dataset.save({"loss": [1.1, 1.0], "acc": 0.75, "fixed": {"value": 1.0, "step": 9}})
        assert stored_history(store_uri, run_id, "m.loss") == [
            (1.4, 0),
            (1.2, 1),
            (1.1, 2),
            (1.0, 3),
        ]
        assert stored_history(store_uri, run_id, "m.acc") == [(0.5, 0), (0.75, 1)]
        assert stored_history(store_uri, run_id, "m.fixed") == [(1.0, 9)]

    def test_continues_what_another_writer_left(self, store_uri, run_id):
        """A key the run already holds (another process, an earlier run) is read once."""
        MlflowClient(tracking_uri=store_uri).log_metric(run_id, "m.loss", 9.0, step=41)
        loss = MlflowMetricDataSet(
            key="m.loss", run_id=run_id, tracking_uri=store_uri, steps="continue"
        )
        loss.save([1.0, 2.0])
        loss.save(3.0)
        assert stored_history(store_uri, run_id, "m.loss") == [
            (9.0, 41),
            (1.0, 42),
            (2.0, 43),
            (3.0, 44),
        ]

    def test_threads_get_disjoint_steps(self, store_uri, run_id):
        """Eight threads appending two points each to one key fill steps 0..15 exactly."""
        from concurrent.futures import ThreadPoolExecutor

        dataset = MlflowMetricsDataSet(
            prefix="t", run_id=run_id, tracking_uri=store_uri, steps="continue"
        )
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: dataset.save({"loss": [float(i), float(i) + 0.5]}), range(8)))
        history = stored_history(store_uri, run_id, "t.loss")
        assert sorted(step for _, step in history) == list(range(16))
        by_step = dict((step, value) for value, step in history)
        assert all(by_step[2 * k + 1] == by_step[2 * k] + 0.5 for k in range(8))


@_LOCAL_AND_SERVER
class TestNonNumeric:
    """non_numeric="tag"|"param": strings and booleans go to the run, all or nothing."""

    @pytest.mark.parametrize("kind", ["tag", "param"])
    def test_exact_values_and_load(self, store_uri, run_id, kind):
        """Strings and booleans land under the prefixed name; load returns them as strings."""
        dataset = MlflowMetricsDataSet(
            prefix="model_metrics", run_id=run_id, tracking_uri=store_uri, non_numeric=kind
        )
        dataset.save({"best_model": "xgboost", "tuned": True, "accuracy": 0.875})
        data = MlflowClient(tracking_uri=store_uri).get_run(run_id).data
        stored = data.tags if kind == "tag" else data.params
        assert {k: v for k, v in stored.items() if k.startswith("model_metrics.")} == {
            "model_metrics.best_model": "xgboost",
            "model_metrics.tuned": "True",
        }
        assert data.metrics == {"model_metrics.accuracy": 0.875}
        assert dataset.load() == {
            "accuracy": {"value": 0.875, "step": 0},
            "best_model": "xgboost",
            "tuned": "True",
        }

    @pytest.mark.parametrize("kind", ["tag", "param"])
    def test_bad_value_among_good_ones_writes_nothing(self, store_uri, run_id, kind):
        """A None beside good numbers and strings: DatasetError, nothing in the run."""
        dataset = MlflowMetricsDataSet(
            prefix="m", run_id=run_id, tracking_uri=store_uri, non_numeric=kind
        )
        with pytest.raises(DatasetError, match=r"- bad: expected a number, got None"):
            dataset.save({"good": 1.0, "name": "x", "bad": None})
        data = MlflowClient(tracking_uri=store_uri).get_run(run_id).data
        assert (data.metrics, data.params) == ({}, {})
        assert not [k for k in data.tags if k.startswith("m.")]


@SQLITE_ONLY
class TestNonNumericWithoutPrefix:
    """prefix "": load returns the dataset's tags, not the ones the run carries itself."""

    def test_the_run_s_own_tags_are_left_out(self, store_uri, run_id):
        """MLflow's system tags and every tag the hook sets (session, pipeline, env,
        runner, versions, git) are on the run but not in load's answer."""
        from kedro_metrics.run_context import GitState, standard_tags

        own = {
            "kedro.session_id": "2026-11-22T15.06.11.123Z", "kedro.pipeline": "__default__",
            "kedro.env": "local", "kedro.runner": "SequentialRunner", "mlflow.runName": "r",
            **standard_tags(store.STANDARD_TAG_NAMES, user="me", package_name="pkg",
                            git=GitState("abc123", "main", False), kedro_version="1.0",
                            plugin_version="0.1"),
        }  # fmt: skip
        MlflowClient(tracking_uri=store_uri).log_batch(
            run_id, tags=[RunTag(k, v) for k, v in own.items()]
        )
        dataset = MlflowMetricsDataSet(
            prefix="", run_id=run_id, tracking_uri=store_uri, non_numeric="tag"
        )
        dataset.save({"best_model": "xgboost", "accuracy": 0.875})
        tags = MlflowClient(tracking_uri=store_uri).get_run(run_id).data.tags
        assert own.items() <= tags.items()
        assert dataset.load() == {"accuracy": {"value": 0.875, "step": 0}, "best_model": "xgboost"}


class TestNewArguments:
    """steps and non_numeric are checked when the dataset is created."""

    @pytest.mark.parametrize(
        ("kwargs", "message"),
        [
            (
                {"steps": "append"},
                "MlflowMetricsDataSet steps must be one of given, continue; got 'append'.",
            ),
            (
                {"non_numeric": "tags"},
                "MlflowMetricsDataSet non_numeric must be one of error, tag, param; got 'tags'.",
            ),
        ],
    )
    def test_unknown_modes(self, kwargs, message):
        """An unknown mode is a DatasetError naming the argument and the choices."""
        with pytest.raises(DatasetError) as caught:
            MlflowMetricsDataSet(**kwargs)
        assert str(caught.value) == message

    def test_describe_and_pickle(self):
        """The modes are in _describe and travel through pickling."""
        dataset = MlflowMetricsDataSet(prefix="p", steps="continue", non_numeric="param")
        assert dataset._describe()["steps"] == "continue"
        assert dataset._describe()["non_numeric"] == "param"
        copy = pickle.loads(pickle.dumps(dataset))
        assert (copy._steps, copy._non_numeric) == ("continue", "param")


@SQLITE_ONLY
class TestCollectorPaused:
    """A save or a load runs with Python's automatic cyclic garbage collection off
    (process.collection_paused): no collection starts by itself while points are
    validated, written or read back, and it is on again after. A save collects the
    youngest generation once between batches (process.collect_young), nothing more."""

    INSIDE = (
        "kedro_metrics/points.py",
        "kedro_metrics/shapes.py",
        "kedro_metrics/store/write.py",
        "kedro_metrics/store/read.py",
    )

    @pytest.fixture
    def collections(self):
        """The collections that start inside our points' code or MLflow's batch
        calls (one may start as a pause ends: its allocations are counted)."""
        import gc

        started: list[str] = []

        def watch(phase: str, info: dict[str, int]) -> None:
            if phase == "start":
                frames = traceback.extract_stack()
                found = [
                    f"{f.filename}:{f.name}" for f in frames if f.filename.endswith(self.INSIDE)
                ]
                found += [
                    f.name
                    for f in frames
                    if f.name in ("log_batch", "get_metric_history") and "mlflow" in f.filename
                ]
                if any(f.name == "collect_young" for f in frames):
                    found = ["collect_young"]
                if found:
                    started.append(f"generation {info['generation']} in {found[-1]}")

        assert gc.isenabled()
        gc.callbacks.append(watch)
        yield started
        gc.callbacks.remove(watch)
        assert gc.isenabled()

    def test_no_collection_during_a_save(self, store_uri, run_id, collections):
        """20,000 points allocate enough to start many collections without the pause."""
        data = {"curve": [{"value": i / 7, "step": i} for i in range(20_000)]}
        MlflowMetricsDataSet(prefix="gc", run_id=run_id, tracking_uri=store_uri).save(data)
        # 20 batches of 1,000: one young collection after each
        assert collections == ["generation 0 in collect_young"] * 20
        assert len(MlflowClient(store_uri).get_metric_history(run_id, "gc.curve")) == 20_000

    @pytest.mark.parametrize("cls", [MlflowMetricsDataSet, MlflowMetricDataSet])
    def test_no_collection_during_a_load(self, store_uri, run_id, collections, cls):
        """Reading 20,000 points back (MLflow's rows, our points, the load form)."""
        MlflowClient(store_uri).log_batch(
            run_id, metrics=[mlflow.entities.Metric("gc.curve", i / 7, 0, i) for i in range(20_000)]
        )
        arguments = {"prefix": "gc"} if cls is MlflowMetricsDataSet else {"key": "gc.curve"}
        collections.clear()  # those of the hand-written log_batch above
        loaded = cls(run_id=run_id, tracking_uri=store_uri, load_args={"mode": "values"}
                     if cls is MlflowMetricDataSet else None, **arguments).load()  # fmt: skip
        assert collections == []
        assert len(loaded["curve"] if cls is MlflowMetricsDataSet else loaded) == 20_000
