"""The Kedro-Viz preview of the metrics datasets: a Plotly figure (plain JSON) of the
run ``load`` would read, or an empty figure whose title says why, never an error.

A mixin: the datasets give the store, the run (``run_to_load``) and their names;
``figures`` builds the figure's data.
"""

from __future__ import annotations

import logging

from kedro.io import DatasetError

from kedro_metrics import figures, project, query, store
from kedro_metrics.errors import KedroMetricsError, NoRunError, TrackingError
from kedro_metrics.figures import PlotlyPreview

logger = logging.getLogger(__name__)


class KedroVizPreview:
    """``preview()`` for a metrics dataset (``MlflowRunDataset`` and its subclasses)."""

    def preview(
        self, run: str | None = None, names: str | list[str] | None = None
    ) -> PlotlyPreview:
        """The Kedro-Viz preview: this dataset's metrics as a Plotly figure (plain JSON).

        A line per metric history (x = steps, y = values) and one bar chart of the
        single-point metrics, from the run ``load`` reads outside ``kedro run`` (the
        latest run of the project's experiment holding this dataset's metrics), or
        from ``run``, a run reference (run id, prefix, ``latest``, ``latest~N``).
        ``names``: globs on the names without the prefix. Both come from the
        catalog's ``metadata: kedro-viz: preview_args:``.

        Never raises, so that Kedro-Viz always starts: with no run yet, a store that
        does not answer (given up after ``store.probe.PROBE_BUDGET_SECONDS``, also
        when it stops answering mid-read) or no prefix to read under, the figure is
        empty and its title says why.
        """
        seconds = store.probe.PROBE_BUDGET_SECONDS
        try:
            return store.probe.within(seconds, lambda: self._preview(run, names))
        except TimeoutError:
            logger.warning("No preview of %s: no answer within %g s", self._viz_label, seconds)
            return figures.empty_preview(
                f"{self._viz_label}: the MLflow store did not answer within {seconds:g} s; "
                "check it, then reload"
            )
        except Exception as exc:  # noqa: BLE001 - a preview must not stop Kedro-Viz
            ours = isinstance(exc, (KedroMetricsError, DatasetError))  # messages without secrets
            reason = str(exc) if ours else type(exc).__name__
            logger.warning("No preview of %s: %s", self._viz_label, reason)
            return figures.empty_preview(f"{self._viz_label}: no preview: {reason}")

    def _preview(self, run: str | None, names: str | list[str] | None) -> PlotlyPreview:
        label = self._viz_label
        scope = self._preview_scope()
        if scope is None:
            return figures.empty_preview(
                f"{label}: no {self.NAME_ARGUMENT} to read under: run `kedro viz run "
                f"--include-hooks` (the catalog name becomes the {self.NAME_ARGUMENT}) or "
                f"set `{self.NAME_ARGUMENT}` in the catalog"
            )
        glob, prefix = scope
        settings = project.current_settings()
        uri = self._uri or (settings.tracking_uri if settings else store.resolve_uri(None))
        if not store.answers(uri):
            return figures.empty_preview(
                f"{label}: the MLflow store at {store.redact(uri)} does not answer; "
                "start it, then reload"
            )
        if run is None:
            try:
                where = self.run_to_load(log=False)
            except DatasetError as exc:
                if isinstance(exc.__cause__, (TrackingError, NoRunError)):
                    raise
                return figures.empty_preview(
                    f"{label}: no run yet holds {self._what_it_holds}; run `kedro run`, then reload"
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
                f"{label}: nothing to show: run {run} does not hold {self._what_it_holds}"
            )
        title = figures.preview_title(label, found[0]["run_name"], found[0]["run_id"])
        shown = figures.select_names(found, prefix, names)
        if not shown:
            return figures.empty_preview(f"{title}: no metric matches preview_args names {names}")
        return figures.plotly_preview(shown, title=title, prefix=prefix)

    def _preview_scope(self) -> tuple[str | None, str] | None:
        """(the name glob to read, the prefix to drop from names), None when the
        dataset has no name yet (no prefix/key given, no hook to give the catalog name)."""
        raise NotImplementedError

    @property
    def _viz_label(self) -> str:
        """The dataset as the preview's title names it: its catalog name, else its
        prefix or key."""
        return self._name or getattr(self, f"_{self.NAME_ARGUMENT}", None) or type(self).__name__


# Kedro-Viz reads the preview's type from the return annotation at run time, by the
# annotation's __name__: it must be the PlotlyPreview object, not the string that
# `from __future__ import annotations` leaves there.
KedroVizPreview.preview.__annotations__["return"] = PlotlyPreview
