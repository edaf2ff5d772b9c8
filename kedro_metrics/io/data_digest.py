"""The digest and source of the data a metrics dataset's ``evaluated_on`` names,
taken without loading the data through its dataset: ``lineage.data_digest`` of the
dataset's description (type, filepath or table, load args) and its resolved load
version when it is versioned, else, for a local file or folder, its bytes
(streamed, never parsed: a 1 GB file costs what reading it from disk costs), else
the description alone.

One digest per run and name in a process: the first save that links its points to
the data takes it, and the run's end reuses it for the run's dataset inputs, so the
points and the inputs always agree.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

from kedro.io import AbstractVersionedDataset
from kedro.io.core import get_protocol_and_path

from kedro_metrics import lineage
from kedro_metrics.process import state

#: How much of a file is hashed at a time.
CHUNK_BYTES = 1 << 20
#: The description keys that say which data a dataset reads (others, such as save
#: arguments or credentials, do not).
DESCRIBING = ("filepath", "path", "table_name", "table", "sql", "load_args")


class Evaluated(NamedTuple):
    """One dataset metrics were computed on: its catalog name, digest and source."""

    name: str
    digest: str
    source: str | None


def evaluated(run_id: str, name: str, dataset: Any) -> Evaluated:
    """``describe(name, dataset)``, once per run in this process."""
    key = (run_id, name)
    with state.lock:
        found = state.data_digests.get(key)
    if found is None:
        found = describe(name, dataset)
        with state.lock:
            found = state.data_digests.setdefault(key, found)
    return found


def describe(name: str, dataset: Any) -> Evaluated:
    """The digest and source of the catalog's ``dataset`` named ``name``."""
    described = dataset._describe() if hasattr(dataset, "_describe") else {}
    description = {
        "type": f"{type(dataset).__module__}.{type(dataset).__qualname__}",
        **{key: _plain(described[key]) for key in DESCRIBING if key in described},
    }
    filepath = described.get("filepath") or described.get("path")
    source = lineage.clean_source(str(filepath)) if filepath else None
    version = (
        dataset.resolve_load_version() if isinstance(dataset, AbstractVersionedDataset) else None
    )
    if version is not None:
        digest = lineage.data_digest(description, version=version)
    elif filepath and (local := _local_path(str(filepath))) is not None:
        source = str(local)
        digest = lineage.data_digest(description, content=_bytes_of(local))
    else:
        digest = lineage.data_digest(description)
    return Evaluated(name, digest, source)


def _plain(value: Any) -> Any:
    """A description value as JSON can hold it (paths and the like as text)."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _local_path(filepath: str) -> Path | None:
    """The absolute local path of ``filepath``, None for a remote one or none there."""
    protocol, path = get_protocol_and_path(filepath)
    if protocol != "file":
        return None
    local = Path(path).absolute()
    return local if local.exists() else None


def _bytes_of(path: Path) -> Iterator[bytes]:
    """A file's bytes, or a folder's files' bytes in sorted relative-path order."""
    files = (
        [path]
        if path.is_file()
        else sorted(
            (p for p in path.rglob("*") if p.is_file()),
            key=lambda p: p.relative_to(path).as_posix(),
        )
    )
    for file in files:
        with open(file, "rb") as handle:
            while chunk := handle.read(CHUNK_BYTES):
                yield chunk
