"""Catalog names for the metrics datasets: bound as soon as the catalog exists
(notebooks, ``kedro ipython``), and with the run before the pipeline runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kedro_metrics.hook.tracked_run import TrackedRun
from kedro_metrics.meaning import Declarations

if TYPE_CHECKING:
    from kedro.io import CatalogProtocol
    from kedro.pipeline import Pipeline


def pipeline_datasets(catalog: CatalogProtocol, pipeline: Pipeline) -> dict[str, Any]:
    """Every dataset the pipeline uses, materialised: a misspelt argument anywhere in
    the catalog fails here, before any run exists. Dataset-factory names
    (``"{split}_metrics"``) are resolved too: the runner would a moment later."""
    return {name: catalog.get(name) for name in sorted(pipeline.datasets()) if name in catalog}


def bind_datasets(
    datasets: dict[str, Any], run: TrackedRun, catalog: CatalogProtocol | None = None
) -> list[str]:
    """Give every metrics dataset among ``datasets`` its catalog name, the store, the
    run's delivery policy and the catalog's dataset of its first ``evaluated_on``
    name (names checked by ``evaluation.evaluated_names``). Returns the names bound."""
    from kedro_metrics.io.run_dataset import MlflowRunDataset

    bound = []
    for name, dataset in datasets.items():
        if isinstance(dataset, MlflowRunDataset):
            evaluated = (
                catalog.get(dataset.evaluated_on[0])
                if catalog is not None and dataset.evaluated_on
                else None
            )
            dataset.bind_to_run(
                name, tracking_uri=run.tracking_uri, policy=run.policy, evaluated_data=evaluated
            )
            bound.append(name)
    return bound


def declared_meaning(datasets: list[Any], project_wide: Declarations) -> Declarations:
    """The catalog entries' ``metrics:`` (each for its own keys, in catalog-name order),
    then metrics.yml's: the first glob that matches a key wins."""
    catalog = Declarations()
    for dataset in datasets:
        catalog = catalog.then(dataset.declarations)
    return catalog.then(project_wide)


def bind_catalog_names(catalog: CatalogProtocol, conf_catalog: dict[str, Any]) -> list[str]:
    """Give the catalog's metrics datasets their catalog names as soon as the catalog
    exists, so notebooks and ``kedro ipython`` see the names ``kedro run`` uses.

    Explicit entries are materialised (no I/O) and bound. A dataset-factory pattern
    of ours without ``prefix``/``key`` gets the pattern itself as that argument:
    Kedro fills a pattern's placeholders in its config values, so each dataset it
    resolves gets its own resolved name. Returns the names and patterns bound.
    """
    from kedro.io.catalog_config_resolver import CatalogConfigResolver

    bound = []
    for name, config in (conf_catalog or {}).items():
        dataset_class = metrics_dataset_class(config)
        if dataset_class is None:
            continue
        if CatalogConfigResolver.is_pattern(name):
            pattern_config = _live_pattern_config(catalog, name)
            if pattern_config is not None:
                pattern_config.setdefault(dataset_class.NAME_ARGUMENT, name)
                bound.append(name)
        elif name in catalog:
            dataset = catalog.get(name)
            if isinstance(dataset, dataset_class):
                dataset.bind_name(name)
                bound.append(name)
    return bound


def metrics_dataset_class(config: Any) -> type | None:
    """The kedro-metrics dataset class a catalog entry declares, else None.

    Only entries whose type names a metric dataset are imported to check."""
    type_name = config.get("type") if isinstance(config, dict) else None
    if not isinstance(type_name, str) or "Metric" not in type_name:
        return None
    from kedro.io.core import parse_dataset_definition

    from kedro_metrics.io.run_dataset import MlflowRunDataset

    try:
        dataset_class, _ = parse_dataset_definition({"type": type_name})
    except Exception:  # noqa: BLE001 - Kedro reports bad entries itself, with context
        return None
    return dataset_class if issubclass(dataset_class, MlflowRunDataset) else None


def _live_pattern_config(catalog: CatalogProtocol, pattern: str) -> dict[str, Any] | None:
    """The pattern's config that the catalog resolves datasets from (not a copy).

    Kedro has no public setter for it; without the resolver's lookup (another
    catalog implementation), factory names are still bound by ``bind_datasets``
    before the pipeline runs.
    """
    resolver = getattr(catalog, "config_resolver", None)
    lookup = getattr(resolver, "_get_pattern_config", None)
    config = lookup(pattern) if lookup else None
    return config if isinstance(config, dict) and config else None
