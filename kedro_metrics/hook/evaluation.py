"""A metrics dataset's ``evaluated_on``: the data its metrics were computed on.

The names are checked when the pipeline starts (a name not in the catalog, or a
parameter, stops ``kedro run`` before any run exists). At the run's end, once the
pipeline has written what it writes, each dataset named gets a stable digest, the
run logs it once as an MLflow dataset input (context ``evaluation``), and a tag per
metrics dataset keeps the names and digests for the readers (``compare`` says when
two runs were not evaluated on the same data).

The digest (``io.data_digest``) never loads the data through the dataset; a digest
a save already took for its points' links is reused, so points and inputs agree.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kedro_metrics import lineage, store
from kedro_metrics.errors import ConfigError
from kedro_metrics.io.data_digest import evaluated as evaluated_data
from kedro_metrics.io.run_dataset import MlflowRunDataset

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol

    from kedro_metrics.hook.tracked_run import TrackedRun

logger = logging.getLogger(__name__)


def evaluated_names(
    catalog: CatalogProtocol, datasets: Mapping[str, Any]
) -> dict[str, tuple[str, ...]]:
    """Metrics dataset -> the names its ``evaluated_on`` gives, each checked against
    the catalog (factory names resolve as in the catalog), as its ``model:`` is."""
    found = {}
    for dataset_name, dataset in datasets.items():
        if not isinstance(dataset, MlflowRunDataset):
            continue
        if dataset.model is not None:
            _check_name(catalog, dataset_name, "model", dataset.model, "the model they score")
        if not dataset.evaluated_on:
            continue
        for name in dataset.evaluated_on:
            _check_name(
                catalog, dataset_name, "evaluated_on", name, "the data its metrics were computed on"
            )
        found[dataset_name] = dataset.evaluated_on
    return found


def _check_name(
    catalog: CatalogProtocol, dataset: str, argument: str, name: str, what: str
) -> None:
    if lineage.is_parameter(name) or name not in catalog:
        problem = "a parameter" if lineage.is_parameter(name) else "not in the catalog"
        raise ConfigError(
            f"{dataset!r}: {argument} names {name!r}, which is {problem}; give the catalog "
            f"name of {what}.",
            key=argument,
        )


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
        data = {
            name: evaluated_data(run.run_id, name, catalog.get(name)) for name in _unique(evaluated)
        }
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
