"""store.search_runs with the filters of kedro_metrics.filters, against a real sqlite
MLflow store: which runs each --where keeps, in which --sort order, and limit."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mlflow import MlflowClient
from mlflow.entities import Metric, Param, RunTag
from mlflow.utils.search_utils import SearchUtils

from kedro_metrics import store
from kedro_metrics.filters import OPERATORS, order_by, parse_condition, parse_sort, to_filter_string
from kedro_metrics.records import PIPELINE_TAG
from kedro_metrics.store import read
from tests import strategies

TS = 1_700_000_000_000
ACCURACY = "model_metrics.accuracy"
LOSS_MIN = "model_metrics.loss.min"


@dataclass(frozen=True)
class Fixture:
    """One run to create: its metrics (key -> history of values, the last one last),
    params, tags and final status."""

    name: str
    metrics: dict[str, list[float]]
    params: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    status: str = "FINISHED"


#: Started one second apart, r1 oldest. r2 and r4 tie on accuracy (r4 newer); r5 has
#: no accuracy; r1's accuracy was 0.99 before its last value 0.70; r6 has no
#: ``model`` param and no ``team`` tag, and is still RUNNING.
RUNS = (
    Fixture(
        "r1", {ACCURACY: [0.99, 0.70], LOSS_MIN: [0.5]}, {"lr": "0.1", "model": "forest"},
        {"team": "ml", PIPELINE_TAG: "train"},
    ),
    Fixture(
        "r2", {ACCURACY: [0.80], LOSS_MIN: [0.4]}, {"lr": "0.01", "model": "linear"},
        {"team": "data", PIPELINE_TAG: "train"},
    ),
    Fixture(
        "r3", {ACCURACY: [0.90], LOSS_MIN: [0.3]}, {"lr": "0.1", "model": "forest"},
        {"team": "ml", "note": 'say "hi"'}, "FAILED",
    ),
    Fixture(
        "r4", {ACCURACY: [0.80], LOSS_MIN: [0.35]}, {"lr": "0.1", "model": "linear"},
        {"team": "ml", PIPELINE_TAG: "train"},
    ),
    Fixture(
        "r5", {LOSS_MIN: [0.2]}, {"lr": "0.001", "model": "linear", "path": "C:\\tmp"},
        {"team": "data"},
    ),
    Fixture("r6", {ACCURACY: [0.95], LOSS_MIN: [0.25]}, {"lr": "0.2", "name": "it's"}, {}, "RUNNING"),
)  # fmt: skip


@dataclass(frozen=True)
class Store:
    """The store the runs are in: its URI, the experiment's id, run ids by name."""

    uri: str
    experiment_id: str
    ids: dict[str, str]

    def names(self, runs: Sequence[object]) -> list[str]:
        """The fixture names of the runs found, in the order found."""
        by_id = {run_id: name for name, run_id in self.ids.items()}
        return [by_id[run.run_id] for run in runs]  # type: ignore[attr-defined]

    def search(
        self, where: Sequence[str] = (), sort: tuple[str, str | None] | None = None, **options
    ) -> list[str]:
        """The names of the runs ``store.search_runs`` finds for these --where
        expressions and (sort text, key direction)."""
        conditions = [parse_condition(expr) for expr in where]
        clauses = None if sort is None else order_by(parse_sort(sort[0]), sort[1])
        runs = store.search_runs(
            self.uri,
            [self.experiment_id],
            filter_string=to_filter_string(conditions),
            order_by=clauses,
            **options,
        )
        return self.names(runs)


def create_run(client: MlflowClient, experiment_id: str, start: int, run: Fixture) -> str:
    """Create ``run`` started at ``start`` ms; its id."""
    run_id = client.create_run(experiment_id, start_time=start).info.run_id
    metrics = [
        Metric(key, value, start + step, step)
        for key, values in run.metrics.items()
        for step, value in enumerate(values)
    ]
    params = [Param(key, value) for key, value in run.params.items()]
    tags = [RunTag(key, value) for key, value in run.tags.items()]
    client.log_batch(run_id, metrics=metrics, params=params, tags=tags)
    if run.status != "RUNNING":
        client.set_terminated(run_id, run.status, end_time=start + 500)
    return run_id


@pytest.fixture(scope="module")
def runs(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A sqlite store holding the RUNS (read only: every test here only searches)."""
    path = tmp_path_factory.mktemp("filters-search") / "mlflow.db"
    shutil.copyfile(sqlite_template, path)
    uri = f"sqlite:///{path}"
    client = MlflowClient(tracking_uri=uri)
    experiment_id = client.create_experiment("filters")
    ids = {
        run.name: create_run(client, experiment_id, TS + 1000 * number, run)
        for number, run in enumerate(RUNS, start=1)
    }
    return Store(uri, experiment_id, ids)


NEWEST_FIRST = ["r6", "r5", "r4", "r3", "r2", "r1"]


class TestMetricConditions:
    """A metric condition compares the key's last value; a run without the key never
    matches, ``!=`` included."""

    @pytest.mark.parametrize(
        ("expr", "found"),
        [
            (f"{ACCURACY}>0.8", ["r6", "r3"]),
            (f"{ACCURACY} >= 0.8", ["r6", "r4", "r3", "r2"]),
            (f"{ACCURACY} < 0.8", ["r1"]),
            (f"{ACCURACY}<=0.8", ["r4", "r2", "r1"]),
            (f"{ACCURACY} = 0.8", ["r4", "r2"]),
            (f"{ACCURACY} != 0.8", ["r6", "r3", "r1"]),
            (f"{ACCURACY} >= 0.99", []),
            (f"{ACCURACY} > -1", ["r6", "r4", "r3", "r2", "r1"]),
            (f"{LOSS_MIN} < 0.3", ["r6", "r5"]),
            (f"{LOSS_MIN} <= '0.3'", ["r6", "r5", "r3"]),
            ("no.such.key > -1e300", []),
        ],
    )
    def test_runs_found(self, runs, expr, found):
        """Exactly these runs, newest first."""
        assert runs.search([expr]) == found


class TestParamTagAndStatusConditions:
    """Params and tags compare their text exactly; status its run status. A run
    without the param or tag never matches (MLflow joins on it), ``!=`` included."""

    @pytest.mark.parametrize(
        ("expr", "found"),
        [
            ("params.lr = 0.1", ["r4", "r3", "r1"]),
            ("params.lr = '0.1'", ["r4", "r3", "r1"]),
            ("params.lr != 0.1", ["r6", "r5", "r2"]),
            ("params.lr = 0.10", []),
            ("params.model != forest", ["r5", "r4", "r2"]),
            ("params.model = Forest", []),
            ("params.name = it's", ["r6"]),
            ("params.path = C:\\tmp", ["r5"]),
            ("tags.team = ml", ["r4", "r3", "r1"]),
            ("tags.team != ml", ["r5", "r2"]),
            ('tags.note = say "hi"', ["r3"]),
            (f"tags.{PIPELINE_TAG} = train", ["r4", "r2", "r1"]),
            ("status = FAILED", ["r3"]),
            ("status = running", ["r6"]),
            ("status != finished", ["r6", "r3"]),
            ("status = KILLED", []),
        ],
    )
    def test_runs_found(self, runs, expr, found):
        """Exactly these runs, newest first."""
        assert runs.search([expr]) == found


class TestCombined:
    """Several conditions are ANDed, with each other and with search_runs' own filters."""

    def test_conditions_are_anded(self, runs):
        """Only runs meeting every condition."""
        where = [f"{ACCURACY} >= 0.8", "params.lr = 0.1", "tags.team = ml"]
        assert runs.search(where) == ["r4", "r3"]
        assert runs.search([*where, "status = FINISHED"]) == ["r4"]

    def test_no_conditions_keeps_every_run_newest_first(self, runs):
        """An empty filter and no order_by: today's search, newest first."""
        assert runs.search() == NEWEST_FIRST
        assert runs.names(store.search_runs(runs.uri, [runs.experiment_id])) == NEWEST_FIRST

    def test_anded_with_status_pipeline_and_prefix(self, runs):
        """``status``, ``pipeline`` and ``run_id_prefix`` still filter alongside."""
        where = [f"{ACCURACY} >= 0.8"]
        assert runs.search(where, status="FINISHED") == ["r4", "r2"]
        assert runs.search(where, pipeline="train") == ["r4", "r2"]
        assert runs.search(where, run_id_prefix=runs.ids["r3"][:12]) == ["r3"]
        assert runs.search(where, run_id_prefix=runs.ids["r1"][:12]) == []


class TestSorting:
    """Sorted by the metric (ties newest first), runs without the key last, limit
    applied after sorting."""

    @pytest.mark.parametrize(
        ("sort", "found"),
        [
            ((f"{ACCURACY}:desc", None), ["r6", "r3", "r4", "r2", "r1", "r5"]),
            ((f"{ACCURACY}:asc", None), ["r1", "r4", "r2", "r3", "r6", "r5"]),
            ((ACCURACY, "max"), ["r6", "r3", "r4", "r2", "r1", "r5"]),
            ((ACCURACY, "min"), ["r1", "r4", "r2", "r3", "r6", "r5"]),
            ((ACCURACY, None), ["r6", "r3", "r4", "r2", "r1", "r5"]),
            ((f"{ACCURACY}:ASC", "max"), ["r1", "r4", "r2", "r3", "r6", "r5"]),
            ((LOSS_MIN, "min"), ["r5", "r6", "r3", "r4", "r2", "r1"]),
            (("no.such.key", "max"), NEWEST_FIRST),
        ],
    )
    def test_order(self, runs, sort, found):
        """Exactly this order."""
        assert runs.search(sort=sort) == found

    def test_filtered_and_sorted(self, runs):
        """The filter keeps, the sort orders what it kept."""
        assert runs.search([f"{ACCURACY} >= 0.8"], sort=(ACCURACY, "min")) == [
            "r4", "r2", "r3", "r6",
        ]  # fmt: skip

    @pytest.mark.parametrize(
        ("sort", "limit", "found"),
        [
            ((ACCURACY, "max"), 2, ["r6", "r3"]),
            ((ACCURACY, "min"), 3, ["r1", "r4", "r2"]),
            ((ACCURACY, "min"), 6, ["r1", "r4", "r2", "r3", "r6", "r5"]),
            ((LOSS_MIN, "min"), 1, ["r5"]),
        ],
    )
    def test_limit_after_sorting(self, runs, sort, limit, found):
        """``limit`` keeps the first runs of the sorted order, not the newest."""
        assert runs.search(sort=sort, limit=limit) == found

    def test_limit_with_pipeline_after_sorting(self, runs):
        """With ``pipeline`` (matched after the search) the order and limit hold."""
        assert runs.search(sort=(ACCURACY, "min"), pipeline="train", limit=2) == ["r1", "r4"]

    @pytest.mark.parametrize("limit", [None, 5, 3])
    def test_order_holds_across_pages(self, runs, monkeypatch, limit):
        """Pages of 2 runs come back in one order: every page is sorted alike."""
        expected = ["r1", "r4", "r2", "r3", "r6", "r5"][:limit]
        monkeypatch.setattr(read, "SEARCH_PAGE", 2)
        assert runs.search(sort=(ACCURACY, "min"), limit=limit) == expected
        assert runs.search([f"{LOSS_MIN} > 0"], sort=(ACCURACY, "min"), limit=limit) == expected


class TestMLflowReadsTheFilters:
    """MLflow's own filter parser reads back each condition's key, operator and value."""

    @given(strategies.filter_metric_keys, st.sampled_from(OPERATORS), strategies.finite_floats)
    def test_metric_conditions(self, key, op, value):
        """A metric condition: the key, the op and the very number."""
        filter_string = to_filter_string([parse_condition(f"{key} {op} {value!r}")])
        (parsed,) = SearchUtils.parse_search_filter(filter_string)
        assert (parsed["type"], parsed["key"], parsed["comparator"]) == ("metric", key, op)
        assert float(parsed["value"]) == value

    @given(
        st.lists(
            st.tuples(
                st.sampled_from(["params", "tags"]),
                strategies.filter_metric_keys,
                st.sampled_from(["=", "!="]),
                strategies.filter_text_values,
            ),
            min_size=1,
            max_size=3,
        )
    )
    def test_text_conditions_anded(self, conditions):
        """Param and tag conditions, several ANDed: each value comes back verbatim."""
        exprs = [f"{p}.{name} {op} {quoted(value)}" for p, name, op, value in conditions]
        parsed = SearchUtils.parse_search_filter(
            to_filter_string([parse_condition(e) for e in exprs])
        )
        kinds = {"params": "parameter", "tags": "tag"}
        assert [(c["type"], c["key"], c["comparator"], c["value"]) for c in parsed] == [
            (kinds[p], name, op, value) for p, name, op, value in conditions
        ]

    def test_status(self):
        """The status condition is MLflow's status attribute."""
        (parsed,) = SearchUtils.parse_search_filter(
            to_filter_string([parse_condition("status != failed")])
        )
        assert parsed == {
            "type": "attribute",
            "key": "status",
            "comparator": "!=",
            "value": "FAILED",
        }


def quoted(value: str) -> str:
    """``value`` in quotes an expression removes: double unless it holds one."""
    return f"'{value}'" if '"' in value else f'"{value}"'


def test_the_statuses_are_mlflow_s():
    """filters.py (pure, no mlflow) restates MLflow's run statuses: they must agree."""
    from mlflow.entities import RunStatus

    from kedro_metrics.filters import RUN_STATUSES

    assert set(RUN_STATUSES) == {RunStatus.to_string(s) for s in RunStatus.all_status()}
