"""Node functions of the e2e project. Module-level, so ParallelRunner can pickle them.

Every value is exact in binary floating point, so the tests compare with ``==``.
"""

from __future__ import annotations

import time
from typing import Any

# pipeline "prefixes" (also __default__) -------------------------------------------


def model_scores() -> dict:
    """model_metrics: default prefix (the catalog name)."""
    return {
        "accuracy": {"value": 0.875, "step": 1},
        "loss": [{"value": 0.5, "step": 0}, {"value": 0.25, "step": 1}],
        "confusion": {"tp": 40, "fp": 3},
    }


def eval_scores() -> dict:
    """eval_metrics: explicit ``prefix: eval``."""
    return {"f1": 0.625}


def flat_scores() -> dict:
    """flat_metrics: ``prefix: ""``, so the names are the MLflow keys."""
    return {"top_level": 7, "group": {"inner": 1.5}}


def factory_scores(index: int) -> dict:
    """a_metrics .. d_metrics: resolved from the ``"{name}_metrics"`` pattern."""
    return {"score": float(index), "curve": [index, index + 0.5]}


def holdout_accuracy() -> list[float]:
    """holdout_accuracy: MlflowMetricDataSet, key defaulted to the catalog name."""
    return [0.5, 0.625, 0.75]


# pipeline "runners" ----------------------------------------------------------------


def history(index: int, steps: int) -> dict:
    """A ``steps``-point loss history; values ``index * 1000 + step``."""
    time.sleep(0.1)  # let the runners overlap the saves of several nodes
    return {"loss": [index * 1000 + step for step in range(steps)]}


# pipeline "failing" ----------------------------------------------------------------


def record_progress() -> tuple[dict, str]:
    """partial_metrics, saved before the next node fails."""
    return {"rows_seen": 10, "loss": [0.5, 0.25]}, "go"


def explode(token: str) -> None:
    """Always fails, after record_progress (it needs its output)."""
    raise RuntimeError(f"e2e failing node got {token!r} and fails on purpose")


# pipeline "small" ------------------------------------------------------------------


def answer() -> dict:
    """small_metrics: one metric, one point."""
    return {"answer": 42}


def labelled() -> dict:
    """labelled_metrics (non_numeric: tag): two numbers and a label."""
    return {"accuracy": 0.5, "loss": [0.25, 0.125], "model": "forest"}


# pipeline "interruptible" ----------------------------------------------------------

#: Written by ``wait_for_signal`` in the working directory (the project) when it starts.
STARTED_MARKER = "node_started"


def progress() -> tuple[dict, str]:
    """progress_metrics, saved before the long node starts."""
    return {"seen": [float(i) for i in range(100)], "done": 0.5}, "go"


def wait_for_signal(token: str, seconds: float) -> None:
    """A long node: says it started, then sleeps until interrupted or ``seconds`` pass."""
    from pathlib import Path

    Path(STARTED_MARKER).write_text(token)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


# pipeline "outage" -----------------------------------------------------------------

#: The test writes this file in the project when the node may go on.
RESUME_MARKER = "resume"
#: Points of the save after the outage.
AFTER_OUTAGE_POINTS = 2500


def before_outage() -> tuple[dict, str]:
    """before_metrics: 100 points saved while the store is up."""
    return {"loss": [float(step) for step in range(100)]}, "go"


def wait_for_resume(token: str) -> str:
    """Says it started, then waits (at most 120 s) until the test writes ``resume``."""
    from pathlib import Path

    Path(STARTED_MARKER).write_text(token)
    deadline = time.monotonic() + 120
    while not Path(RESUME_MARKER).exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return token


def after_outage(token: str) -> dict:
    """after_metrics: a 2,500-point history saved while the store is down."""
    return {"curve": [float(step) / 4 for step in range(AFTER_OUTAGE_POINTS)]}


# pipeline "large" ------------------------------------------------------------------


def large_history(points: int) -> dict:
    """large_metrics: one history of ``points`` steps (value = step / 2), one save."""
    return {"curve": [step / 2 for step in range(points)]}


# pipeline "meaning" ------------------------------------------------------------------


#: What ``register_when_passed`` logs for each verdict of the check.
GATE_VALUES = {True: 1.0, False: 0.0, None: -1.0}


def register_when_passed(scored_metrics: dict) -> dict:
    """gate_metrics: ``kedro_metrics.check()`` of this very run (taking scored_metrics
    orders the node after them): verdict 1 registered, 0 held back, -1 undecided."""
    import kedro_metrics

    verdict = kedro_metrics.check()
    return {"verdict": GATE_VALUES[verdict.passed], "entries": float(len(verdict.gates))}


def quality_scores(quality: float) -> dict:
    """scored_metrics: an accuracy, an f1 (declared in the catalog) and a loss curve
    whose best point is not its last: [1.0, 1 - quality, 1.25 - quality]."""
    return {
        "accuracy": quality,
        "f1": quality - 0.125,
        "loss": [1.0, 1.0 - quality, 1.25 - quality],
    }


def make_features() -> list[float]:
    """features: the lineage pipeline's shared input."""
    return [0.25, 0.5, 0.75, 1.0]


def split_test(features: list[float], share: float) -> list[float]:
    """X_test: the last ``share`` of the features."""
    return features[-round(len(features) * share) :]


def evaluate(x_test: list[float], features: list[float], threshold: float) -> dict:
    """scores: the share of test values at or above ``threshold``, and the sizes."""
    return {
        "accuracy": sum(value >= threshold for value in x_test) / len(x_test),
        "rows": {"test": len(x_test), "all": len(features)},
    }


def score_on(test_split: str, reference: str) -> dict:
    """evaluated_metrics: how many lines each file has."""
    return {
        "test_lines": len(test_split.splitlines()),
        "reference_lines": len(reference.splitlines()),
    }


def threshold_model(threshold: float) -> Any:
    import mlflow

    class ThresholdModel(mlflow.pyfunc.PythonModel):
        """1 for the values at or above ``threshold``."""

        def __init__(self, threshold: float) -> None:
            self.threshold = threshold

        def predict(self, context: Any, model_input: list[float]) -> list[int]:
            return [int(value >= self.threshold) for value in model_input]

    return ThresholdModel(threshold)


#: The threshold of the models pipeline's models.
MODEL_THRESHOLD = 2.0


def train() -> Any:
    """model: a pyfunc model (the dataset's save logs it)."""
    return threshold_model(MODEL_THRESHOLD)


def score_model(model: Any, test_split: str) -> dict:
    """model_scores: the share of the test lines the model says 1 for."""
    values = [float(len(line)) for line in test_split.splitlines()]
    predicted = model.predict(None, values)
    return {"accuracy": sum(predicted) / len(predicted), "lines": len(values)}


def train_and_score() -> dict:
    """inline_scores: this node logs its own model, then returns its scores."""
    import mlflow

    mlflow.pyfunc.log_model(
        name="inline", python_model=threshold_model(MODEL_THRESHOLD), pip_requirements=[]
    )
    return {"threshold": MODEL_THRESHOLD}
