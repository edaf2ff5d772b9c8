"""Reading back after real `kedro run`s: catalog loads in a KedroSession (as in
`kedro ipython` or a notebook) and the `kedro metrics` commands.

Three runs of the e2e project, shared by every test of the module:
1. the default pipeline;
2. the default pipeline with ``factory_index.a=5`` (a_metrics differ);
3. the ``small`` pipeline (only ``small_metrics.answer``).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

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
def three_runs(tmp_path_factory, new_project, seed_store, kedro, store_at) -> ThreeRuns:
    project = new_project(tmp_path_factory.mktemp("reading"))
    seed_store(project / "mlflow.db")
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

    bootstrap_project(Path.cwd())
    with KedroSession.create() as session:
        catalog = session.load_context().catalog
        loaded = {
            name: catalog.load(name)
            for name in ("model_metrics", "a_metrics", "holdout_accuracy", "small_metrics")
        }
        # Saving outside kedro run: two datasets never share keys.
        mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/other.db")
        with mlflow.start_run() as run:
            catalog.save("model_metrics", {"x": 1})
            catalog.save("b_metrics", {"x": 2})
        saved = sorted(mlflow.get_run(run.info.run_id).data.metrics)
    print("RESULT=" + json.dumps({"loaded": loaded, "saved": saved}))
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

    def test_two_datasets_saved_outside_kedro_run_keep_their_prefixes(self, session_loads):
        """Saved under an active run, model_metrics and b_metrics write distinct keys."""
        assert session_loads[0]["saved"] == ["b_metrics.x", "model_metrics.x"]
