"""What both metrics datasets share: which run and store they talk to, the write path
(validation, then the store or the spool), errors as Kedro's DatasetError."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

from kedro.io import AbstractDataset, DatasetError

from kedro_metrics import delivery, points, project, store
from kedro_metrics.errors import (
    MetricsValidationError,
    NoRunError,
    StoreUnavailableError,
    TrackingError,
)
from kedro_metrics.previews import KedroVizPreview
from kedro_metrics.spool import SpoolTarget

logger = logging.getLogger(__name__)

NO_RUN_TO_LOAD_HELP = (
    "There is no MLflow run to load from. Either pass `run_id` to the dataset, "
    "load inside `kedro run` with kedro-metrics installed, call `mlflow.start_run()` "
    "first, or load inside a Kedro project (`kedro ipython`, a notebook with the Kedro "
    "extension, a `KedroSession`) after a `kedro run`: then the latest run of the "
    "project's experiment that holds this dataset's metrics is read."
)


class InvalidMetricsError(DatasetError):
    """What save raises for malformed metrics: every problem, nothing written."""


#: How every InvalidMetricsError message begins.
NOTHING_SAVED = "Nothing was saved to "


def one_message(error: BaseException) -> None:
    """Show a validation error once in ``kedro run``'s output.

    Kedro's catalog wraps a dataset's DatasetError in another one prefixed with the
    dataset name (``raise DatasetError(f"{name}: {e}") from e``), so the traceback
    printed the problem list twice and named the dataset twice. Our message already
    names the dataset: the wrapper takes it over and drops the chain. Under
    ParallelRunner the chain is the worker's whole traceback as text (the list
    twice more): recognised by our exception's name in it, dropped too.
    """
    if not isinstance(error, DatasetError):
        return
    cause = error.__cause__
    if isinstance(cause, InvalidMetricsError):
        error.args = cause.args
    elif _worker_traceback_of_invalid_metrics(cause) and NOTHING_SAVED in str(error):
        message = str(error)  # "<catalog name>: Nothing was saved to ..."
        error.args = (message[message.index(NOTHING_SAVED) :],)
    else:
        return
    error.__cause__ = None
    error.__suppress_context__ = True


def _worker_traceback_of_invalid_metrics(cause: BaseException | None) -> bool:
    """Is ``cause`` a ParallelRunner worker's traceback (concurrent.futures'
    ``_RemoteTraceback``, text) of an InvalidMetricsError?"""
    name = f"{InvalidMetricsError.__module__}.{InvalidMetricsError.__qualname__}: {NOTHING_SAVED}"
    return type(cause).__name__ == "_RemoteTraceback" and name in str(cause)


@dataclass(frozen=True)
class RunLocation:
    """A run and the store that holds it: what ``load`` reads."""

    tracking_uri: str | None
    run_id: str


class MlflowRunDataset(KedroVizPreview, AbstractDataset):
    """What both metrics datasets share: which run and store they talk to.

    The run is always explicit: the ``run_id`` given, else the one the kedro-metrics
    hook bound for this ``kedro run``, else the calling thread's active MLflow run.
    """

    #: load_args this dataset accepts, with their types.
    _LOAD_ARGS: ClassVar[dict[str, type]] = {}
    #: The constructor argument the catalog name fills when absent ("prefix", "key").
    NAME_ARGUMENT: ClassVar[str]

    def __init__(
        self,
        *,
        run_id: str | None,
        tracking_uri: str | None,
        load_args: dict[str, Any] | None,
        async_logging: bool | None,
        metadata: dict[str, Any] | None,
        steps: str = "given",
        non_numeric: str = "error",
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
        self._run_id = run_id
        self._tracking_uri = tracking_uri
        self._async_logging = async_logging
        self._load_args = self._checked_load_args(load_args or {})
        self.metadata = metadata
        # Filled by the hook for one `kedro run` (see bind_to_run); travel with pickling.
        self._name: str | None = None
        self._bound_run_id: str | None = None
        self._bound_uri: str | None = None
        self._enabled = True
        self._said_disabled = False
        self._bound_async = False
        self._spool: SpoolTarget | None = None

    def bind_name(self, name: str) -> None:
        """Called by the hook as soon as the catalog exists: the catalog name, which
        becomes the prefix (or key) when none was given."""
        self._name = name

    def bind_to_run(  # noqa: PLR0913
        self,
        name: str,
        *,
        run_id: str | None,
        tracking_uri: str,
        enabled: bool = True,
        async_logging: bool = False,
        spool: SpoolTarget | None = None,
    ) -> None:
        """Called by the hook before the pipeline runs: the catalog name, the run and
        store of this ``kedro run``, metrics.yml's switches, and the spool of the run
        (a remote store, or offline mode). Explicit constructor arguments still win."""
        self.bind_name(name)
        self._bound_run_id = run_id
        self._bound_uri = tracking_uri
        self._enabled = enabled
        self._bound_async = async_logging
        self._spool = spool

    @property
    def _uri(self) -> str | None:
        return self._tracking_uri or self._bound_uri

    @property
    def _label(self) -> str:
        """The dataset in messages: its catalog name, else its prefix or key (a
        dataset-factory entry is named by the prefix its pattern resolved to)."""
        named = self._name or getattr(self, f"_{self.NAME_ARGUMENT}", None)
        return repr(named) if named else type(self).__name__

    def _run(self) -> str:
        """The run to talk to; raises a DatasetError saying how to get one."""
        bound = self._bound_run_id
        if bound and self._tracking_uri and self._tracking_uri != self._bound_uri:
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

    def _skip_when_disabled(self) -> bool:
        if self._enabled:
            return False
        if not self._said_disabled:
            logger.info(
                "Metrics tracking is off for this pipeline (metrics.yml "
                "`disabled_pipelines`): %s logs nothing.",
                self._label,
            )
            self._said_disabled = True
        return True

    def _write(self, validated: points.ValidatedMetrics) -> None:
        if self._skip_when_disabled():
            return
        if not len(validated) and not validated.values:
            logger.warning("%s was given no metrics; nothing logged.", self._label)
            return
        offline = self._spool is not None and self._spool.offline and self._uses_bound_store
        run_id = None if offline else self._run()
        asynchronous = self._bound_async if self._async_logging is None else self._async_logging
        target = self._spool if offline else self._spool_target(run_id)
        with self._store_errors():
            if offline:
                # Offline, the run does not exist yet: no earlier steps to continue from.
                if validated.values:
                    logger.warning(
                        "%s: offline mode spools numbers only; %d non-numeric value(s) "
                        "were not kept.", self._label, len(validated.values),
                    )  # fmt: skip
                batch = validated.points(points.current_time_ms())
                delivery.save(self._uri, None, batch, target=target, asynchronous=False)
                return
            if validated.values:  # before the metrics: a refused value writes nothing
                self._log_values(run_id, validated.values, target)
            first_steps = store.first_steps(self._uri, run_id, validated)
            batch = validated.points(points.current_time_ms(), first_steps)
            if target is None:  # a local store: written before save returns, no spool
                if asynchronous:
                    store.submit_points(self._uri, run_id, batch, total=len(validated))
                else:
                    store.log_points(self._uri, run_id, batch, total=len(validated))
                return
            delivery.save(self._uri, run_id, batch, target=target, asynchronous=asynchronous)

    def _log_values(self, run_id: str, values: dict[str, Any], target: SpoolTarget | None) -> None:
        """Log the non-numeric values as params or tags. They are not spooled: when the
        store is unavailable and the run spools, they are reported lost and the
        metrics still go to the spool (``on_tracking_error: raise`` fails instead)."""
        try:
            store.log_values(self._uri, run_id, **{f"{self._non_numeric}s": values})
        except StoreUnavailableError as exc:
            if target is None or target.raises:
                raise
            logger.warning(
                "%s: %d non-numeric value(s) (%s) were not logged, the store is unavailable; "
                "only numbers are spooled. (%s)", self._label, len(values),
                ", ".join(sorted(values)), exc,
            )  # fmt: skip

    @property
    def _uses_bound_store(self) -> bool:
        return not self._tracking_uri or self._tracking_uri == self._bound_uri

    def _spool_target(self, run_id: str) -> SpoolTarget | None:
        """The spool of a save to ``run_id``: the hook's for its run and store; for any
        other remote store, the working directory's; none for a local store."""
        bound = self._spool
        if bound is not None and self._uses_bound_store and run_id == bound.run_id:
            return bound
        uri = self._uri or store.resolve_uri(None)
        if store.is_local(uri):
            return None
        return delivery.target_outside_a_run(uri, run_id)

    def _exists(self) -> bool:
        """True when the run ``load`` would read holds one of this dataset's keys."""
        try:
            where = self.run_to_load(log=False)
        except DatasetError:
            return False
        with self._store_errors():
            return any(self.holds_key(key) for key in store.metric_keys(where.tracking_uri, where.run_id))

    def _validated(self, data: Any, *, prefix: str) -> points.ValidatedMetrics:
        try:
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
        return _as_dataset_error(self._label)

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


@contextlib.contextmanager
def _as_dataset_error(label: str) -> Iterator[None]:
    """TrackingError/NoRunError -> DatasetError naming the dataset."""
    try:
        yield
    except (TrackingError, NoRunError) as exc:
        raise DatasetError(f"{label}: {exc}") from exc
