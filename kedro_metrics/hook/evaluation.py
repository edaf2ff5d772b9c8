"""A metrics dataset's ``evaluated_on``: the data its metrics were computed on.

The names are checked when the pipeline starts (a name not in the catalog, or a
parameter, stops ``kedro run`` before any run exists). At the run's end, once the
pipeline has written what it writes, each dataset named gets a stable digest, the
run logs it once as an MLflow dataset input (context ``evaluation``), and a tag per
metrics dataset keeps the names and digests for the readers (``compare`` says when
two runs were not evaluated on the same data).

The digest never loads the data through the dataset: ``lineage.data_digest`` of the
dataset's description (type, filepath or table, load args) and its resolved load
version when it is versioned, else, for a local file or folder, its bytes (streamed,
never parsed: a 1 GB file costs what reading it from disk costs), else the
description alone.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from kedro.io import AbstractVersionedDataset
from kedro.io.core import get_protocol_and_path

from kedro_metrics import lineage, store
from kedro_metrics.errors import ConfigError
from kedro_metrics.io.run_dataset import MlflowRunDataset

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol

    from kedro_metrics.hook.tracked_run import TrackedRun

logger = logging.getLogger(__name__)

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


def evaluated_names(
    catalog: CatalogProtocol, datasets: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    """Metrics dataset -> the names its ``evaluated_on`` gives, each checked against
    the catalog (factory names resolve as in the catalog)."""
    found = {}
    for dataset_name, dataset in datasets.items():
        if not isinstance(dataset, MlflowRunDataset) or not dataset.evaluated_on:
            continue
        for name in dataset.evaluated_on:
            if lineage.is_parameter(name) or name not in catalog:
                what = "a parameter" if lineage.is_parameter(name) else "not in the catalog"
                raise ConfigError(
                    f"{dataset_name!r}: evaluated_on names {name!r}, which is {what}; "
                    "give the catalog name of the data its metrics were computed on.",
                    key="evaluated_on",
                )
        found[dataset_name] = dataset.evaluated_on
    return found


def record_evaluations(
    run: TrackedRun, catalog: CatalogProtocol, evaluated: Mapping[str, tuple[str, ...]]
) -> None:
    """The digests, the run's dataset inputs (one request) and its evaluated_on tags
    (one request). Context, not metrics: whatever fails (the store, a dataset with
    no version to load yet) is said in one warning and the run ends as it would have. A run that is not in the store
    yet (offline, spooled whole) records nothing."""
    if not evaluated or not run.run_id or run.policy.offline:
        return
    try:
        data = {name: describe(name, catalog.get(name)) for name in _unique(evaluated)}
        tags = lineage.evaluated_tags(
            {
                store.safe_key(dataset): {name: data[name].digest for name in names}
                for dataset, names in evaluated.items()
            }
        )
        store.log_evaluation_inputs(
            run.tracking_uri, run.run_id, [(d.name, d.digest, d.source) for d in data.values()]
        )
        store.log_values(run.tracking_uri, run.run_id, tags=tags)
    except Exception as exc:  # noqa: BLE001 - context: never stops the run from ending
        logger.warning(
            "kedro-metrics: the data run %s was evaluated on was not recorded (%s: %s)",
            run.run_id, type(exc).__name__, exc,
        )  # fmt: skip


def _unique(evaluated: Mapping[str, tuple[str, ...]]) -> list[str]:
    return list(dict.fromkeys(name for names in evaluated.values() for name in names))


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
