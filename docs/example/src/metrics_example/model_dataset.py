"""The trained model as an MLflow model: ``kedro run --env lineage`` saves it
through ``LoggedModelDataset``, whose save logs it to the run (a LoggedModel), and
the ``{split}_scores`` metrics link to it (``model: model`` in
conf/lineage/catalog.yml)."""

from __future__ import annotations

from typing import Any

import mlflow
import numpy as np
from kedro.io import AbstractDataset


class LogisticModel(mlflow.pyfunc.PythonModel):
    """The example's logistic regression as a pyfunc model: P(label = 1) per row."""

    def __init__(self, weights: list[float], bias: float) -> None:
        self.weights = weights
        self.bias = bias

    def predict(self, context: Any, model_input: Any) -> np.ndarray:
        scores = np.asarray(model_input, dtype=float) @ np.asarray(self.weights) + self.bias
        return 1 / (1 + np.exp(-scores))


class LoggedModelDataset(AbstractDataset):
    """Keeps the model in memory for the nodes that use it, and logs it to the
    active MLflow run (``mlflow.pyfunc.log_model``) when it is saved."""

    def __init__(self, name: str = "model") -> None:
        self._name = name
        self._model: dict[str, Any] | None = None

    def _save(self, model: dict[str, Any]) -> None:
        pyfunc = LogisticModel([float(w) for w in model["weights"]], float(model["bias"]))
        mlflow.pyfunc.log_model(name=self._name, python_model=pyfunc, pip_requirements=[])
        self._model = model

    def _load(self) -> dict[str, Any]:
        if self._model is None:
            raise ValueError("The model is kept in memory: run the node that trains it first.")
        return self._model

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}
