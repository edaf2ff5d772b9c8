"""A local text file dataset (Kedro core ships no file datasets), versioned or not:
the data the ``evaluated`` pipeline's metrics are computed on."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro.io import AbstractDataset, AbstractVersionedDataset, Version
from kedro.io.core import get_filepath_str, get_protocol_and_path


class TextDataset(AbstractVersionedDataset):
    def __init__(
        self, filepath: str, version: Version | None = None, load_args: dict | None = None
    ):
        protocol, path = get_protocol_and_path(filepath, version)
        self._protocol = protocol
        self._load_args = load_args or {}
        super().__init__(filepath=PurePosixPath(path), version=version, exists_function=None)

    def _load(self) -> str:
        with open(get_filepath_str(self._get_load_path(), self._protocol)) as file:
            return file.read()

    def _save(self, data: str) -> None:
        path = get_filepath_str(self._get_save_path(), self._protocol)
        with open(path, "w") as file:
            file.write(data)

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "version": self._version, "load_args": self._load_args}


class PyfuncModelDataset(AbstractDataset):
    """A model dataset as kedro-mlflow's are: its save logs the model to the active
    MLflow run (``mlflow.pyfunc.log_model``, a LoggedModel output at step 0), and
    keeps its threshold in ``filepath`` so that any process (a ParallelRunner
    worker) loads the model back."""

    def __init__(self, filepath: str, name: str = "model"):
        self._filepath = filepath
        self._name = name

    def _save(self, model: Any) -> None:
        import json

        import mlflow

        mlflow.pyfunc.log_model(name=self._name, python_model=model, pip_requirements=[])
        with open(self._filepath, "w") as file:
            json.dump({"threshold": model.threshold}, file)

    def _load(self) -> Any:
        import json

        from e2e_project.nodes import threshold_model

        with open(self._filepath) as file:
            return threshold_model(json.load(file)["threshold"])

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._filepath, "name": self._name}
