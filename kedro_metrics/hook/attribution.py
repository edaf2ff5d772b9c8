"""Where each metrics dataset of a ``kedro run`` comes from, read off the pipeline:
the node that saves it, its namespace and its inputs, as the run tags ``lineage``
defines (one per dataset). A run started here gets them with its other tags at its
creation; a run reused from elsewhere in one more request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from kedro_metrics import lineage, store
from kedro_metrics.io.run_dataset import MlflowRunDataset

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline


def metrics_sources(pipeline: Pipeline, datasets: Mapping[str, Any]) -> dict[str, lineage.Source]:
    """The node of ``pipeline`` that saves each metrics dataset among ``datasets``."""
    sources = {}
    for node in pipeline.nodes:
        for output in node.outputs:
            if isinstance(datasets.get(output), MlflowRunDataset):
                sources[output] = lineage.Source.of_node(node.name, node.namespace, node.inputs)
    return dict(sorted(sources.items()))


def attribution_tags(pipeline: Pipeline, datasets: Mapping[str, Any]) -> dict[str, str]:
    """The run tags recording where the pipeline's metrics datasets come from; a
    character MLflow refuses in a tag name becomes ``_`` there."""
    sources = metrics_sources(pipeline, datasets)
    if not sources:
        return {}
    # before the hook binds them, datasets without prefix or key have no name yet: the
    # catalog name becomes it
    keys = {
        name: name if datasets[name].metric_name is None else datasets[name].metric_name
        for name in sources
    }
    # a tag name holds what MLflow accepts in one (``scores@pandas`` -> ``scores_pandas``)
    return lineage.source_tags(
        {store.safe_key(name): source for name, source in sources.items()},
        limit=store.TAG_VALUE_LIMIT,
        keys={store.safe_key(name): key for name, key in keys.items()},
    )
