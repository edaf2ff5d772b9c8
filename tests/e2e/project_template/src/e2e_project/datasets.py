"""A local text file dataset (Kedro core ships no file datasets), versioned or not:
the data the ``evaluated`` pipeline's metrics are computed on."""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from kedro.io import AbstractVersionedDataset, Version
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
