"""Where a reading looks for runs: the tracking URI, the experiment (None: every
one) and what the project declares its metrics mean; the experiment ids and names a
search needs, and the direction a ``--sort`` key follows."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

from kedro_metrics import filters, project, store
from kedro_metrics.meaning import Declarations, RunMeaning
from kedro_metrics.records import Run


@dataclass(frozen=True)
class Scope:
    """Where runs are looked for: a tracking URI and an experiment (None: all), and
    what the project declares its metrics mean (for runs that recorded nothing)."""

    tracking_uri: str
    experiment: str | None
    declarations: Declarations = Declarations()

    def meaning(self, run: Run) -> RunMeaning:
        """The meaning of ``run``'s keys: what it recorded, then the project's."""
        return RunMeaning.of(run.tags, self.declarations)

    def meaning_of_none(self) -> RunMeaning:
        """The project's meaning alone (no run read)."""
        return RunMeaning({}, self.declarations)

    @property
    def where(self) -> str:
        """For messages: the experiment and the URI without credentials."""
        return store.where(self.tracking_uri, self.experiment)


def scope_for(
    *,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    project_path: str | os.PathLike[str] | None = None,
    settings: project.ProjectSettings | None = None,
) -> Scope:
    """The arguments given win; then the project's settings (``settings``, else the
    project of ``project_path`` or of this process); then MLflow's current URI and
    ``MLFLOW_EXPERIMENT_NAME``; then every experiment."""
    if settings is None and (tracking_uri is None or experiment is None):
        settings = project.current_settings(project_path)
    if settings is not None:
        return Scope(
            tracking_uri or settings.tracking_uri,
            experiment or settings.experiment,
            settings.config.metrics,
        )
    return Scope(
        store.resolve_uri(tracking_uri),
        experiment or os.environ.get("MLFLOW_EXPERIMENT_NAME") or None,
    )


def experiment_names(scope: Scope, ids: list[str]) -> dict[str, str]:
    """The experiment names the scope already knows (its one experiment), by id."""
    return {ids[0]: scope.experiment} if scope.experiment is not None and len(ids) == 1 else {}


def sort_direction(
    scope: Scope, ids: list[str], sort: filters.Sort, where: Sequence[filters.Condition]
) -> str | None:
    """The sort key's direction as the newest run searched means it (one request of
    one run: what it recorded, else what the project declares); not needed for a
    forced order."""
    if sort.order is not None:
        return None
    where_string = filters.to_filter_string(where)
    newest = store.search_runs(
        scope.tracking_uri, ids, limit=1, filter_string=where_string,
        experiment_names=experiment_names(scope, ids),
    )  # fmt: skip
    meaning = scope.meaning(newest[0]) if newest else scope.meaning_of_none()
    return meaning(sort.key).direction


def experiment_ids(scope: Scope) -> list[str]:
    """The scope's experiment as a one-id list (empty when the store lacks it), or
    every experiment when the scope names none."""
    if scope.experiment is None:
        return store.experiment_ids(scope.tracking_uri)
    found = store.experiment_id(scope.tracking_uri, scope.experiment)
    return [found] if found is not None else []
