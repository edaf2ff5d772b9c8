"""The Kubeflow Pipelines v2 executor output on disk, for ``kedro metrics export
--format kfp-v2`` and the hook: the executor input read from its JSON text or
``@FILE``, an existing executor output merged (never overwritten), the file
replaced whole. The document itself is ``kfp_v2``'s."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kedro_metrics.errors import ExportError
from kedro_metrics.reading.kfp_v2 import ExecutorTarget, executor_output, parse_executor_input


def target_from(value: str, output_name: str) -> ExecutorTarget:
    """The target of an executor input given as JSON text or as ``@FILE``."""
    text = value
    if value.startswith("@"):
        try:
            text = Path(value[1:]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ExportError(f"cannot read the executor input {value[1:]}: {exc}.") from None
    return parse_executor_input(text, output_name)


def write_metrics(
    target: ExecutorTarget, values: Mapping[str, float], path: str | None = None
) -> tuple[Path, list[str]]:
    """``values`` into the executor output at ``path`` (default the target's
    ``outputFile``), merged with what the file holds; returns the path and the keys
    left out (not finite). A file that is not an executor output is refused."""
    where = Path(path or target.output_file)
    document, skipped = executor_output(target, values, _existing(where))
    try:
        where.parent.mkdir(parents=True, exist_ok=True)
        _replace(where, json.dumps(document))
    except OSError as exc:
        raise ExportError(
            f"cannot write the executor output {where}: {exc.strerror or exc}."
        ) from None
    return where, skipped


def _replace(path: Path, text: str) -> None:
    """``path`` holds ``text`` whole or keeps what it held (a temporary file renamed)."""
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _existing(path: Path) -> dict[str, Any] | None:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ExportError(f"cannot read the executor output {path}: {exc}.") from None
    try:
        document = json.loads(text) if text.strip() else {}
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise ExportError(
            f"{path} exists and is not a KFP executor output (a JSON object); it is left "
            "as it is. Remove it, or give another --executor-output."
        )
    return document
