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
    its load gives the model saved."""

    def __init__(self, name: str = "model"):
        self._name = name
        self._model: Any = None

    def _save(self, model: Any) -> None:
        import mlflow

        mlflow.pyfunc.log_model(name=self._name, python_model=model, pip_requirements=[])
        self._model = model

    def _load(self) -> Any:
        return self._model

    def _describe(self) -> dict[str, Any]:
        return {"name": self._name}
