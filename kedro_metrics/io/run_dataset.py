"""What both metrics datasets share: which run and store they talk to, validation,
the hand-over of a validated batch to ``delivery``, the Kedro-Viz preview (their
errors as Kedro's DatasetError: ``io.dataset_errors``)."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

from kedro.io import AbstractDataset, DatasetError

from kedro_metrics import delivery, points, project, store
from kedro_metrics.delivery import DeliveryPolicy, LinkRequest
from kedro_metrics.errors import (
    ConfigError,
    MetricsValidationError,
)
from kedro_metrics.io import catalog_name, data_digest
from kedro_metrics.io.dataset_errors import NOTHING_SAVED, InvalidMetricsError, as_dataset_error
from kedro_metrics.io.preview import PreviewSource, preview_of
from kedro_metrics.meaning import Declarations
from kedro_metrics.process import collection_paused
from kedro_metrics.reading.figures import PlotlyPreview

logger = logging.getLogger(__name__)

NO_RUN_TO_LOAD_HELP = (
    "There is no MLflow run to load from. Either pass `run_id` to the dataset, "
    "load inside `kedro run` with kedro-metrics installed, call `mlflow.start_run()` "
    "first, or load inside a Kedro project (`kedro ipython`, a notebook with the Kedro "
    "extension, a `KedroSession`) after a `kedro run`: then the latest run of the "
    "project's experiment that holds this dataset's metrics is read."
)


@dataclass(frozen=True)
class RunLocation:
    """A run and the store that holds it: what ``load`` reads."""

    tracking_uri: str | None
    run_id: str


class MlflowRunDataset(AbstractDataset):
    """What both metrics datasets share: which run and store they talk to.

    The run is always explicit: the ``run_id`` given, else the one the kedro-metrics
    hook bound for this ``kedro run``, else the calling thread's active MLflow run.
    """

    #: load_args this dataset accepts, with their types.
    _LOAD_ARGS: ClassVar[dict[str, type]] = {}
    #: The constructor argument the catalog name fills when absent ("prefix", "key").
    NAME_ARGUMENT: ClassVar[str]

    def __init__(  # noqa: PLR0913 - the datasets' constructor arguments, keyword-only
        self,
        *,
        run_id: str | None,
        tracking_uri: str | None,
        load_args: dict[str, Any] | None,
        async_logging: bool | None,
        metadata: dict[str, Any] | None,
        steps: str = "given",
        non_numeric: str = "error",
        evaluated_on: str | list[str] | None = None,
        model: str | None = None,
    ):
        for argument, value, allowed in (
            ("steps", steps, points.STEP_MODES),
            ("non_numeric", non_numeric, points.NON_NUMERIC_MODES),
        ):
            reason = points.check_mode(argument, value, allowed)
            if reason:
                raise DatasetError(f"{type(self).__name__} {reason}.")
        self._steps = steps
        self._non_numeric = non_numeric
        self.evaluated_on = self._checked_evaluated_on(evaluated_on)
        if model is not None and (not isinstance(model, str) or not model):
            raise DatasetError(
                f"{type(self).__name__} model must be the catalog name of a model "
                f"dataset, got {model!r}."
            )
        self.model = model
        self._run_id = run_id
        self._tracking_uri = tracking_uri
        self._async_logging = async_logging
        self._load_args = self._checked_load_args(load_args or {})
        self.metadata = metadata
        # Filled by the hook for one `kedro run` (see bind_to_run); travel with pickling.
        self._name: str | None = None
        self._bound_uri: str | None = None
        self._policy: DeliveryPolicy | None = None
        #: The catalog's dataset of the first ``evaluated_on`` name (its digest links
        #: the points), given by the hook.
        self._evaluated_data: Any = None

    def _checked_evaluated_on(self, names: Any) -> tuple[str, ...]:
        """``evaluated_on``: a catalog name or a list of them."""
        listed = [names] if isinstance(names, str) else names or []
        if not isinstance(listed, (list, tuple)) or not all(
            isinstance(name, str) and name for name in listed
        ):
            raise DatasetError(
                f"{type(self).__name__} evaluated_on must be a catalog name or a list of "
                f"them, got {names!r}."
            )
        return tuple(dict.fromkeys(listed))

    @property
    def declarations(self) -> Declarations:
        """What this dataset's catalog entry declares (``metrics:``) for its own keys,
        as globs over full MLflow keys; empty before the dataset has a name."""
        raise NotImplementedError

    def _checked_declarations(self, parse: Any) -> Any:
        """``parse()`` (the entry's ``metrics:`` settings), a ConfigError as DatasetError."""
        try:
            return parse()
        except ConfigError as exc:
            raise DatasetError(str(exc)) from None

    def bind_name(self, name: str) -> None:
        """Called by the hook as soon as the catalog exists: the catalog name, which
        becomes the prefix (or key) when none was given."""
        self._name = name

    def _take_catalog_name(self) -> None:
        """The end of a constructor: when Kedro's catalog is creating this dataset
        for an entry, the entry's name is bound at once (``catalog_name``), so a
        catalog made without hooks (Kedro-Viz without ``--include-hooks``, a script)
        names its metrics as ``kedro run`` does."""
        name = catalog_name.name_being_created()
        if name is not None:
            self.bind_name(name)

    def bind_to_run(
        self,
        name: str,
        *,
        tracking_uri: str,
        policy: DeliveryPolicy,
        evaluated_data: Any = None,
    ) -> None:
        """Called by the hook before the pipeline runs: the catalog name, the store of
        this ``kedro run``, its run's delivery policy (the run id, the spool) and the
        catalog's dataset of the first ``evaluated_on`` name. Explicit constructor
        arguments still win."""
        self.bind_name(name)
        self._bound_uri = tracking_uri
        self._policy = policy
        self._evaluated_data = evaluated_data

    @property
    def metric_name(self) -> str | None:
        """The prefix (or key) its metrics are logged under; None before it has one."""
        return getattr(self, f"_{self.NAME_ARGUMENT}", None)

    @property
    def _uri(self) -> str | None:
        return self._tracking_uri or self._bound_uri

    @property
    def _label(self) -> str:
        """The dataset in messages: its catalog name, else its prefix or key (a
        dataset-factory entry is named by the prefix its pattern resolved to)."""
        named = self._name or self.metric_name
        return repr(named) if named else type(self).__name__

    def _run(self) -> str:
        """The run to talk to; raises a DatasetError saying how to get one."""
        bound = self._policy.run_id if self._policy is not None else None
        if bound and not self._uses_bound_store:
            bound = None  # the hook's run lives in another store
        run_id = self._run_id or bound or store.active_run_id()
        if not run_id:
            raise DatasetError(f"Cannot use {self._label}: {store.NO_RUN_HELP}")
        return run_id

    def run_to_load(self, *, log: bool = True) -> RunLocation:
        """The run ``load`` reads now, and its store.

        The ``run_id`` given, else the run of this ``kedro run``, else the calling
        thread's active MLflow run, else (in a Kedro project, outside ``kedro run``)
        the newest run of the project's experiment holding this dataset's metrics,
        logged at INFO unless ``log`` is false. Raises a DatasetError saying how to
        get a run when there is none.
        """
        try:
            return RunLocation(self._uri, self._run())
        except DatasetError:
            pass
        settings = project.current_settings()
        if settings is None:
            raise DatasetError(f"Cannot load {self._label}: {NO_RUN_TO_LOAD_HELP}")
        uri = self._uri or settings.tracking_uri
        with self._store_errors():
            found = store.latest_run_holding(uri, settings.experiment, self.holds_key)
        if found is None:
            raise DatasetError(
                f"Cannot load {self._label}: no run of experiment {settings.experiment!r} "
                f"at {store.redact(uri)} holds {self._what_it_holds}. Run the pipeline "
                "that saves it (`kedro run`), or pass `run_id` to the dataset."
            )
        if log:
            logger.info(
                "Loading %s from run %s (%r), the latest run of experiment %r holding %s.",
                self._label, found.run_id, found.run_name, settings.experiment,
                self._what_it_holds,
            )  # fmt: skip
        return RunLocation(uri, found.run_id)

    def holds_key(self, key: str) -> bool:
        """True when the MLflow metric ``key`` belongs to this dataset."""
        raise NotImplementedError

    @property
    def _what_it_holds(self) -> str:
        raise NotImplementedError

    def _write(self, validated: points.ValidatedMetrics) -> None:
        """Hand a validated save to ``delivery``, with the policy of its run."""
        if not len(validated) and not validated.values:
            logger.warning("%s was given no metrics; nothing logged.", self._label)
            return
        with self._store_errors(), collection_paused():
            policy = self._delivery_policy()
            delivery.save(
                validated, tracking_uri=self._uri, policy=policy, label=self._label,
                asynchronous=self._async_logging, linking=self._linking(policy),
            )  # fmt: skip

    def _linking(self, policy: DeliveryPolicy) -> LinkRequest | None:
        """What this save's points link to: the first ``evaluated_on`` data (inside
        ``kedro run``, where the hook gave its dataset) and the ``model:``."""
        data = None
        run_key = policy.run_id or (policy.spool.spool_id if policy.spool else None)
        if self._evaluated_data is not None and self.evaluated_on and run_key:
            name = self.evaluated_on[0]
            try:
                found = data_digest.evaluated(run_key, name, self._evaluated_data)
            except Exception as exc:  # noqa: BLE001 - context: never costs the metrics
                logger.warning(
                    "%s: the digest of %r could not be taken (%s: %s); its points go "
                    "without the data link.", self._label, name, type(exc).__name__, exc,
                )  # fmt: skip
            else:
                data = (found.name, found.digest)
        if data is None and self.model is None:
            return None
        return LinkRequest(data, self.model)

    @property
    def _uses_bound_store(self) -> bool:
        return not self._tracking_uri or self._tracking_uri == self._bound_uri

    def _delivery_policy(self) -> DeliveryPolicy:
        """The hook's policy for its run and store (also when tracking is off or the
        run is spooled offline); for any other run, a save outside ``kedro run``."""
        bound = self._policy
        if bound is not None and self._uses_bound_store:
            if not bound.enabled or bound.offline or self._run() == bound.run_id:
                return bound
        return delivery.outside_a_run(self._uri or store.resolve_uri(None), self._run())

    def preview(
        self, run: str | None = None, names: str | list[str] | None = None
    ) -> PlotlyPreview:
        """The Kedro-Viz preview: this dataset's metrics as a Plotly figure (plain JSON).

        A line per metric history (x = steps, y = values) and one bar chart of the
        single-point metrics, from the run ``load`` reads outside ``kedro run`` (the
        latest run of the project's experiment holding this dataset's metrics), or
        from ``run``, a run reference (run id, prefix, ``latest``, ``latest~N``).
        ``names``: globs on the names without the prefix. Both come from the
        catalog's ``metadata: kedro-viz: preview_args:``. Never raises, so that
        Kedro-Viz always starts: the figure is empty and its title says why.
        """
        return preview_of(self._preview_source(), run, names)

    def _preview_source(self) -> PreviewSource:
        scope = self._preview_scope()
        return PreviewSource(
            label=self._name or self.metric_name or type(self).__name__,
            name_argument=self.NAME_ARGUMENT,
            what_it_holds=self._what_it_holds if scope is not None else "",
            scope=scope,
            tracking_uri=self._uri,
            run_to_load=lambda: self.run_to_load(log=False),
        )

    def _preview_scope(self) -> tuple[str | None, str] | None:
        """(the name glob to read, the prefix to drop from names), None when the
        dataset has no name yet (no prefix/key given, no hook to give the catalog name)."""
        raise NotImplementedError

    def _exists(self) -> bool:
        """True when the run ``load`` would read holds one of this dataset's keys."""
        try:
            where = self.run_to_load(log=False)
        except DatasetError:
            return False
        with self._store_errors():
            return any(
                self.holds_key(key) for key in store.metric_keys(where.tracking_uri, where.run_id)
            )

    def _validated(self, data: Any, *, prefix: str) -> points.ValidatedMetrics:
        try:
            with collection_paused():
                return points.validate(
                    data,
                    prefix=prefix,
                    key_problem=store.key_problem,
                    steps=self._steps,
                    non_numeric=self._non_numeric,
                )
        except MetricsValidationError as exc:
            # from None: the problems are all in this message; chaining the
            # MetricsValidationError would print the same list again.
            raise InvalidMetricsError(f"{NOTHING_SAVED}{self._label}: {exc}") from None

    def _store_errors(self) -> contextlib.AbstractContextManager[None]:
        return as_dataset_error(self._label)

    @classmethod
    def _checked_load_args(cls, load_args: dict[str, Any]) -> dict[str, Any]:
        for name, value in load_args.items():
            expected = cls._LOAD_ARGS.get(name)
            if expected is None:
                allowed = ", ".join(sorted(cls._LOAD_ARGS)) or "none"
                raise DatasetError(
                    f"{cls.__name__} got unknown load_args key {name!r}; allowed: {allowed}."
                )
            if not isinstance(value, expected):
                raise DatasetError(
                    f"{cls.__name__} load_args {name!r} must be a {expected.__name__}, "
                    f"got {value!r}."
                )
        return dict(load_args)

    def _describe(self) -> dict[str, Any]:
        return {
            "run_id": self._run_id,
            "tracking_uri": store.redact(self._tracking_uri),
            "load_args": self._load_args or None,
            "async_logging": self._async_logging,
            "steps": self._steps,
        }


# Kedro-Viz reads the preview's type from the return annotation at run time, by the
# annotation's __name__: it must be the PlotlyPreview object, not the string that
# `from __future__ import annotations` leaves there.
MlflowRunDataset.preview.__annotations__["return"] = PlotlyPreview
