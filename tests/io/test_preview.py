"""The datasets' Kedro-Viz preview() on a real sqlite store: exact traces, the run
and names chosen by preview_args, and empty figures (never an exception)."""

from __future__ import annotations

import inspect

import pytest
from mlflow import MlflowClient

from kedro_metrics import MlflowMetricDataSet, MlflowMetricsDataSet
from kedro_metrics.reading.figures import PREVIEW_TITLE_WIDTH, PlotlyPreview
from kedro_metrics.store import probe
from tests.fault_proxy import FaultProxy
from tests.servers import free_port


def title_of(preview: dict) -> str:
    """The preview's title as one line, once each of its lines is shown to fit the
    side panel."""
    lines = preview["layout"]["title"]["text"].split("<br>")
    assert all(len(line) <= PREVIEW_TITLE_WIDTH for line in lines), lines
    return " ".join(lines)


def scatter(name, x, y):
    return {"type": "scatter", "mode": "lines+markers", "name": name, "x": x, "y": y}


@pytest.fixture
def two_runs(sqlite_uri):
    """Two runs of the Default experiment, older "first" and newer "second"."""
    client = MlflowClient(tracking_uri=sqlite_uri)
    ids = []
    for name, loss in (("first", [0.9, 0.8]), ("second", [0.5, 0.25])):
        run_id = client.create_run("0", run_name=name).info.run_id
        MlflowMetricsDataSet(prefix="model", run_id=run_id, tracking_uri=sqlite_uri).save(
            {"loss": loss, "acc": 0.5, "other": 1}
        )
        ids.append(run_id)
    return ids


@pytest.fixture(autouse=True)
def outside_any_project(monkeypatch):
    """These previews read the store and run they are given: no project that an
    earlier test of this worker process left configured (a KedroContext, a
    bootstrapped package) may give them its experiment."""
    import kedro.framework.project as kedro_project

    from kedro_metrics.process import state

    monkeypatch.setattr(state, "last_context", None)
    monkeypatch.setattr(kedro_project, "PACKAGE_NAME", None)


class TestPreviewAnnotation:
    """Kedro-Viz reads the preview type from the return annotation, by name."""

    @pytest.mark.parametrize("cls", [MlflowMetricsDataSet, MlflowMetricDataSet])
    def test_return_annotation_is_the_newtype(self, cls):
        """The annotation is the PlotlyPreview object itself, not a string."""
        annotation = inspect.signature(cls().preview).return_annotation
        assert annotation is PlotlyPreview
        assert annotation.__name__ == "PlotlyPreview"


class TestPreviewOfARun:
    """preview() of a dataset with a run: exact traces, names and run picked by arguments."""

    def test_exact_traces_and_title(self, sqlite_uri, two_runs):
        """The run given: its loss as a line, single values as bars, the run in the title."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=two_runs[1], tracking_uri=sqlite_uri)
        preview = dataset.preview()
        assert preview["data"] == [
            scatter("loss", [0, 1], [0.5, 0.25]),
            {"type": "bar", "name": "single values", "x": ["acc", "other"], "y": [0.5, 1.0],
             "xaxis": "x2", "yaxis": "y2"},
        ]  # fmt: skip
        assert title_of(preview) == f"model: run second ({two_runs[1][:8]})"
        assert preview["layout"]["annotations"] == [
            {"text": "loss", "x": 1, "y": 0.25, "xref": "x", "yref": "y", "showarrow": False,
             "xanchor": "right", "yanchor": "bottom"},
        ]  # fmt: skip

    def test_run_and_names_arguments(self, sqlite_uri, two_runs):
        """preview_args: run (here a run-id prefix) and names (globs without the prefix)."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=two_runs[1], tracking_uri=sqlite_uri)
        preview = dataset.preview(run=two_runs[0][:10], names=["lo*"])
        assert preview["data"] == [scatter("loss", [0, 1], [0.9, 0.8])]
        assert title_of(preview) == f"model: run first ({two_runs[0][:8]})"

    def test_names_that_match_nothing_say_so(self, sqlite_uri, two_runs):
        dataset = MlflowMetricsDataSet(prefix="model", run_id=two_runs[1], tracking_uri=sqlite_uri)
        preview = dataset.preview(names=["nothing*"])
        assert preview["data"] == []
        assert title_of(preview) == (
            f"model: run second ({two_runs[1][:8]}): no metric matches preview_args names ['nothing*']"
        )

    def test_single_metric_dataset(self, sqlite_uri, two_runs):
        """MlflowMetricDataSet previews its one metric under its full key."""
        dataset = MlflowMetricDataSet(key="model.loss", run_id=two_runs[0], tracking_uri=sqlite_uri)
        assert dataset.preview()["data"] == [scatter("model.loss", [0, 1], [0.9, 0.8])]


class TestEmptyPreviews:
    """No name, a dead server, an unknown run: an empty figure saying why, never an error."""

    def test_no_prefix_says_to_give_one(self):
        """A dataset made in Python without prefix (a catalog entry always has its
        name) says what it lacks."""
        preview = MlflowMetricsDataSet().preview()
        assert preview["data"] == []
        assert title_of(preview) == (
            "MlflowMetricsDataSet: no prefix to read under: give the dataset a `prefix`"
        )

    def test_unreachable_server(self, monkeypatch):
        """A tracking server that does not answer: the title names it, no exception."""
        monkeypatch.setattr(probe, "PROBE_BUDGET_SECONDS", 1.0)  # 15 s in real use
        uri = f"http://user:secret@127.0.0.1:{free_port()}"
        dataset = MlflowMetricDataSet(key="loss", run_id="0" * 32, tracking_uri=uri)
        preview = dataset.preview()
        assert preview["data"] == []
        title = title_of(preview)
        assert "does not answer" in title and "secret" not in title

    @pytest.mark.server
    def test_a_server_that_stops_answering_mid_read(self, monkeypatch, mlflow_server):
        """/health answers, every API request hangs: the preview gives up after the
        budget with an empty figure saying so, instead of MLflow's minutes."""
        monkeypatch.setattr(probe, "PROBE_BUDGET_SECONDS", 2.0)  # 15 s in real use
        with FaultProxy(mlflow_server.url, ["stall"] * 100, path_part="/api/") as proxy:
            dataset = MlflowMetricsDataSet(prefix="model", run_id="0" * 32, tracking_uri=proxy.url)
            preview = dataset.preview()
            stalled = proxy.injected
        assert preview["data"] == []
        assert title_of(preview) == (
            "model: the MLflow store did not answer within 2 s; check it, then reload"
        )
        assert stalled[:1] == ["stall"]

    def test_unknown_run_reference(self, sqlite_uri, two_runs):
        """A run reference that names no run: the reason in the title."""
        dataset = MlflowMetricsDataSet(prefix="model", run_id=two_runs[0], tracking_uri=sqlite_uri)
        preview = dataset.preview(run="ffffffffff")
        assert preview["data"] == []
        assert "no preview" in title_of(preview)
        assert "ffffffffff" in title_of(preview)
