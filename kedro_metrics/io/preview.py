"""The Kedro-Viz preview of a metrics dataset: a Plotly figure (plain JSON) of the run
``load`` would read, or an empty figure whose title says why, never an error.

A function the datasets call with what it needs of them (``PreviewSource``):
``reading.query`` reads the metrics, ``reading.figures`` builds the figure's data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kedro.io import DatasetError

from kedro_metrics import project, store
from kedro_metrics.errors import KedroMetricsError, NoRunError, TrackingError
from kedro_metrics.reading import figures, query
from kedro_metrics.reading.figures import PlotlyPreview

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PreviewSource:
    """What the preview needs of a dataset."""

    #: The dataset as the title names it: its catalog name, else its prefix or key.
    label: str
    #: ``prefix`` or ``key``: what the dataset lacks when it has no name yet.
    name_argument: str
    #: For messages: "a metric under prefix 'x'", "the metric 'k'".
    what_it_holds: str
    #: (the name glob to read, the prefix to drop from names); None: no name yet.
    scope: tuple[str | None, str] | None
    #: The dataset's store, when it knows one.
    tracking_uri: str | None
    #: The run ``load`` would read (raises a DatasetError when there is none).
    run_to_load: Callable[[], Any]


def preview_of(
    source: PreviewSource, run: str | None = None, names: str | list[str] | None = None
) -> PlotlyPreview:
    """The preview of ``source``'s metrics in ``run`` (a run reference; default: the
    run ``load`` reads), ``names`` globs on names without the prefix.

    Never raises, so that Kedro-Viz always starts: with no run yet, a store that does
    not answer (given up after ``store.probe.PROBE_BUDGET_SECONDS``, also when it
    stops answering mid-read) or no prefix to read under (a dataset made in Python
    without one: a catalog entry's dataset always has its name), the figure is empty
    and its title says why, in lines that fit Kedro-Viz's side panel.
    """
    seconds = store.probe.PROBE_BUDGET_SECONDS
    try:
        return store.within(seconds, lambda: _preview(source, run, names))
    except TimeoutError:
        logger.warning("No preview of %s: no answer within %g s", source.label, seconds)
        return figures.empty_preview(
            f"{source.label}: the MLflow store did not answer within {seconds:g} s; "
            "check it, then reload"
        )
    except Exception as exc:  # noqa: BLE001 - a preview must not stop Kedro-Viz
        ours = isinstance(exc, (KedroMetricsError, DatasetError))  # messages without secrets
        reason = str(exc) if ours else type(exc).__name__
        logger.warning("No preview of %s: %s", source.label, reason)
        return figures.empty_preview(f"{source.label}: no preview: {reason}")


def _preview(
    source: PreviewSource, run: str | None, names: str | list[str] | None
) -> PlotlyPreview:
    label, argument = source.label, source.name_argument
    if source.scope is None:
        return figures.empty_preview(
            f"{label}: no {argument} to read under: give the dataset a `{argument}`"
        )
    glob, prefix = source.scope
    settings = project.current_settings()
    uri = source.tracking_uri or (settings.tracking_uri if settings else store.resolve_uri(None))
    if not store.answers(uri):
        return figures.empty_preview(
            f"{label}: the MLflow store at {store.redact(uri)} does not answer; "
            "start it, then reload"
        )
    if run is None:
        try:
            where = source.run_to_load()
        except DatasetError as exc:
            if isinstance(exc.__cause__, (TrackingError, NoRunError)):
                raise
            return figures.empty_preview(
                f"{label}: no run yet holds {source.what_it_holds}; run `kedro run`, then reload"
            )
        run, uri = where.run_id, where.tracking_uri or uri
    found = query.get_metrics(
        glob,
        run=run,
        tracking_uri=uri,
        experiment=settings.experiment if settings else None,
        history=True,
    )
    if not found:
        return figures.empty_preview(
            f"{label}: nothing to show: run {run} does not hold {source.what_it_holds}"
        )
    title = figures.preview_title(label, found[0]["run_name"], found[0]["run_id"])
    shown = figures.select_names(found, prefix, names)
    if not shown:
        return figures.empty_preview(f"{title}: no metric matches preview_args names {names}")
    meaning = query.run_meaning(uri, found[0]["run_id"], settings)
    return figures.plotly_preview(shown, title=title, prefix=prefix, meaning=meaning)
