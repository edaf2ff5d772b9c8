"""The Kedro datasets: thin layers over ``points`` (validation) and ``store`` (I/O);
what both share is in ``run_dataset``, their Kedro-Viz preview in ``preview``, the
arguments of other tools they refuse with a hint in ``foreign_arguments``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from kedro.io import DatasetError

from kedro_metrics import meaning, points, project, store, summaries
from kedro_metrics.io.foreign_arguments import refuse_foreign_arguments
from kedro_metrics.io.run_dataset import NOTHING_SAVED, MlflowRunDataset
from kedro_metrics.meaning import Declarations
from kedro_metrics.process import collection_paused

#: ``MlflowMetricDataSet`` load modes: ``points.select``'s and ``best``.
LOAD_MODES = ("last", "best", "history", "values")
#: Where a catalog entry's ``metrics:`` errors say the settings are.
_ENTRY = "the catalog entry of {}"


class MlflowMetricsDataSet(MlflowRunDataset):
    """Logs a dict of metrics to an MLflow run, batched, under ``prefix.name``.

    ``save`` takes a mapping of metric name to a number, a point
    (``{"value": v, "step": s, "timestamp": t}``, step and timestamp optional),
    a non-empty list of either, or a nested mapping (a group, names joined with
    "."). The whole input is validated before anything is written; on any
    problem a ``DatasetError`` lists them all and nothing reaches MLflow.
    ``load`` returns ``{name: point}`` or ``{name: [points]}``, names without the
    prefix.

    Example catalog entry (inside ``kedro run`` the hook sets the prefix to the
    catalog name and binds the run):

    .. code-block:: yaml

        model_metrics:
          type: kedro_metrics.MlflowMetricsDataSet

        eval_metrics:
          type: kedro_metrics.MlflowMetricsDataSet
          prefix: eval
          load_args:
            timestamps: false

        loss_history:                    # saves append to one history per key
          type: kedro_metrics.MlflowMetricsDataSet
          steps: continue

        model_summary:                   # "best_model": "xgboost" becomes a tag
          type: kedro_metrics.MlflowMetricsDataSet
          non_numeric: tag

    Example in Python, against an MLflow run you start yourself:

    >>> import tempfile, mlflow
    >>> from kedro_metrics import MlflowMetricsDataSet
    >>> mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    >>> with mlflow.start_run() as run:
    ...     metrics = MlflowMetricsDataSet(prefix="model", run_id=run.info.run_id)
    ...     metrics.save({"accuracy": 0.93, "loss": [0.9, 0.4]})
    >>> metrics.load()
    {'accuracy': {'value': 0.93, 'step': 0}, 'loss': [{'value': 0.9, 'step': 0}, {'value': 0.4, 'step': 1}]}
    >>> sorted(mlflow.get_run(run.info.run_id).data.metrics)
    ['model.accuracy', 'model.loss']
    """

    _LOAD_ARGS: ClassVar[dict[str, type]] = {"timestamps": bool}
    #: The constructor argument the catalog name fills when absent.
    NAME_ARGUMENT: ClassVar[str] = "prefix"

    def __init__(  # noqa: PLR0913
        self,
        *,
        prefix: str | None = None,
        run_id: str | None = None,
        tracking_uri: str | None = None,
        load_args: dict[str, Any] | None = None,
        async_logging: bool | None = None,
        steps: str = "given",
        non_numeric: str = "error",
        metrics: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        evaluated_on: str | list[str] | None = None,
        model: str | None = None,
        **foreign: Any,
    ):
        """Create the dataset.

        Args:
            prefix: Put before every metric name, joined with ".". ``None`` (the
                default) lets the hook use the catalog name; ``""`` means no prefix.
            run_id: Log to and read from this MLflow run. Default: the run of the
                current ``kedro run``, else the thread's active MLflow run.
            tracking_uri: The MLflow store. Default: the hook's inside ``kedro
                run``, else MLflow's current tracking URI.
            load_args: ``{"timestamps": True}`` adds each point's timestamp on load.
            async_logging: ``True``: save returns once the input is validated and
                MLflow gets the points in the background (the hook waits for them
                at pipeline end; outside ``kedro run`` call
                ``kedro_metrics.store.flush()``). ``None`` (default) follows
                metrics.yml's ``async_logging``, which is off by default.
            steps: ``given`` (default): steps as written (a number at step 0, a
                list at 0..n-1). ``continue``: a number, a list of numbers and
                points without a step continue after the highest step the run
                holds for that key (appending histories across saves and runs).
            non_numeric: ``error`` (default): strings and booleans are refused.
                ``tag`` or ``param``: they go to the run as tags or params under
                the same prefixed name, and ``load`` returns them as strings.
            metrics: What this dataset's metrics mean: globs over the names without
                the prefix to ``direction``, ``format`` and ``summary`` (see
                docs/meaning.md), e.g. ``{"loss": {"direction": "min"}}``. They win
                over metrics.yml's ``metrics:``.
            metadata: Free-form metadata, ignored by the dataset (Kedro convention).
            evaluated_on: The catalog name(s) of the data these metrics were computed
                on: the run logs each as an MLflow dataset input with a stable
                digest, and ``compare`` says when two runs were not evaluated on the
                same data (docs/lineage.md). Every point is sent with the first
                name and its digest (MLflow's ``dataset_name``/``dataset_digest``).
            model: The catalog name of a model dataset: every point links to the
                MLflow LoggedModel that dataset's save logged in the run (by default
                a point links to a model as ``mlflow.log_metrics`` would link it).
            **foreign: kedro-mlflow's ``save_args`` and tracking.MetricsDataset's
                ``filepath`` are refused with what to write instead
                (docs/migrating.md); any other name is unknown.
        """
        if foreign:
            refuse_foreign_arguments(type(self).__name__, foreign)
        super().__init__(
            run_id=run_id,
            tracking_uri=tracking_uri,
            load_args=load_args,
            async_logging=async_logging,
            metadata=metadata,
            evaluated_on=evaluated_on,
            model=model,
            steps=steps,
            non_numeric=non_numeric,
        )
        self._prefix = prefix
        self._declared = self._checked_declarations(
            lambda: Declarations.parse(metrics, source=_ENTRY.format(type(self).__name__))
        )
        self._take_catalog_name()

    @property
    def declarations(self) -> Declarations:
        if self._prefix is None:
            return Declarations()
        return self._declared.under(self._prefix)

    def bind_name(self, name: str) -> None:
        super().bind_name(name)
        if self._prefix is None:
            self._prefix = name

    @property
    def prefix(self) -> str:
        return self._prefix or ""

    def save(self, data: Mapping[str, Any]) -> None:
        self._write(self._validated(data, prefix=self.prefix))

    def load(self) -> dict[str, Any]:
        where = self.run_to_load()
        with collection_paused():  # thousands of short-lived points, none in a cycle
            with self._store_errors():
                history = store.read_points(where.tracking_uri, where.run_id, self.prefix)
                values = (
                    store.read_values(
                        where.tracking_uri, where.run_id, self.prefix, self._non_numeric
                    )
                    if self._non_numeric != "error"
                    else None
                )
            return points.to_load_form(
                history,
                prefix=self.prefix,
                timestamps=self._load_args.get("timestamps", False),
                values=values,
            )

    def holds_key(self, key: str) -> bool:
        return points.belongs_to(key, self.prefix)

    @property
    def _what_it_holds(self) -> str:
        return f"a metric under prefix {self.prefix!r}" if self.prefix else "any metric"

    def _preview_scope(self) -> tuple[str | None, str] | None:
        if self._prefix is None:
            return None
        return (f"{self._prefix}.*" if self._prefix else None), self._prefix

    def _describe(self) -> dict[str, Any]:
        return {"prefix": self._prefix, **super()._describe(), "non_numeric": self._non_numeric}


#: Kedro >= 0.19 spelling; the same class.
MlflowMetricsDataset = MlflowMetricsDataSet


class MlflowMetricDataSet(MlflowRunDataset):
    """One metric, under its full MLflow ``key``.

    ``save`` takes a number, a point, or a non-empty list of either. ``load``
    returns, by ``load_args["mode"]``: ``last`` (default) the value at the highest
    step (latest timestamp on ties) as a bare number; ``history`` the list of
    points; ``values`` the list of numbers, ordered by step.

    Example catalog entry (inside ``kedro run`` the key defaults to the catalog
    name):

    .. code-block:: yaml

        accuracy:
          type: kedro_metrics.MlflowMetricDataSet
        loss_curve:
          type: kedro_metrics.MlflowMetricDataSet
          key: train.loss
          load_args:
            mode: history

    Example in Python:

    >>> import tempfile, mlflow
    >>> from kedro_metrics import MlflowMetricDataSet
    >>> mlflow.set_tracking_uri(f"sqlite:///{tempfile.mkdtemp()}/mlflow.db")
    >>> with mlflow.start_run():
    ...     loss = MlflowMetricDataSet(key="train.loss")
    ...     loss.save([0.9, 0.5, 0.4])
    ...     loss.load()
    0.4
    """

    _LOAD_ARGS: ClassVar[dict[str, type]] = {"mode": str, "timestamps": bool}
    NAME_ARGUMENT: ClassVar[str] = "key"

    def __init__(  # noqa: PLR0913
        self,
        *,
        key: str | None = None,
        run_id: str | None = None,
        tracking_uri: str | None = None,
        load_args: dict[str, Any] | None = None,
        async_logging: bool | None = None,
        steps: str = "given",
        metrics: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        evaluated_on: str | list[str] | None = None,
        model: str | None = None,
        **foreign: Any,
    ):
        """Create the dataset.

        Args:
            key: The full MLflow metric key. Default: the catalog name (set by the hook).
            run_id: As for ``MlflowMetricsDataSet``.
            tracking_uri: As for ``MlflowMetricsDataSet``.
            load_args: ``mode``: ``last`` (default), ``best`` (the best point's value
                by the key's direction), ``history`` or ``values``; ``timestamps``:
                add timestamps to ``history`` points.
            async_logging: As for ``MlflowMetricsDataSet``.
            steps: As for ``MlflowMetricsDataSet`` (``continue`` appends).
            metrics: What the metric means: ``direction``, ``format``, ``summary``
                (see docs/meaning.md), e.g. ``{"direction": "min"}``. Wins over
                metrics.yml's ``metrics:``.
            metadata: Free-form metadata, ignored by the dataset.
            evaluated_on: The catalog name(s) of the data this metric was computed
                on (see ``MlflowMetricsDataSet``).
            model: As for ``MlflowMetricsDataSet``.
            **foreign: As for ``MlflowMetricsDataSet``.
        """
        if foreign:
            refuse_foreign_arguments(type(self).__name__, foreign)
        super().__init__(
            run_id=run_id,
            tracking_uri=tracking_uri,
            load_args=load_args,
            async_logging=async_logging,
            metadata=metadata,
            evaluated_on=evaluated_on,
            model=model,
            steps=steps,
        )
        mode = self._load_args.get("mode", "last")
        if mode not in LOAD_MODES:
            raise DatasetError(
                f"MlflowMetricDataSet load_args 'mode' must be one of "
                f"{', '.join(LOAD_MODES)}; got {mode!r}."
            )
        self._key = key
        source = _ENTRY.format(type(self).__name__)
        self._meaning = self._checked_declarations(
            lambda: (
                None
                if metrics is None
                else meaning.parse_meaning(metrics, glob=key or "its key", source=source)
            )
        )
        self._take_catalog_name()

    @property
    def declarations(self) -> Declarations:
        if not self._key or self._meaning is None:
            return Declarations()
        return Declarations(((self._key, self._meaning),))

    def bind_name(self, name: str) -> None:
        super().bind_name(name)
        if self._key is None:
            self._key = name

    @property
    def key(self) -> str:
        if not self._key:
            raise DatasetError(
                "MlflowMetricDataSet needs a `key`: set it in the catalog, or run inside "
                "`kedro run`, where the catalog name is used."
            )
        return self._key

    def save(self, data: Any) -> None:
        validated = self._validated({self.key: data}, prefix="")
        if validated.keys != (self.key,):
            raise DatasetError(
                f"{NOTHING_SAVED}{self._label}: it takes one metric (a number, a point "
                f"or a list of either), got a group of {len(validated.keys)} metrics."
            )
        self._write(validated)

    def load(self) -> Any:
        where = self.run_to_load()
        with collection_paused():  # a long history is many short-lived points
            with self._store_errors():
                history = store.read_history(where.tracking_uri, where.run_id, self.key)
            if not history:
                raise DatasetError(f"{self._label}: run {where.run_id} has no metric {self.key!r}.")
            mode = self._load_args.get("mode", "last")
            if mode == "best":
                return self._best(history, where)
            return points.select(history, mode, timestamps=self._load_args.get("timestamps", False))

    def _best(self, history: list[points.MetricPoint], where: Any) -> float:
        """The best point's value by the key's direction: this entry's ``metrics:``,
        else what the run recorded, else the project's metrics.yml."""
        direction = self._meaning.direction if self._meaning else None
        if direction is None:
            with self._store_errors():
                run = store.get_run(where.tracking_uri, where.run_id)
            settings = project.current_settings()
            current = settings.config.metrics if settings else Declarations()
            direction = meaning.RunMeaning.of(run.tags if run else {}, current)(self.key).direction
        if direction is None:
            raise DatasetError(
                f"{self._label}: load mode 'best' needs the direction of {self.key!r}: "
                "declare it in the catalog entry (metrics: {direction: min}) or in "
                "metrics.yml's metrics: (docs/meaning.md)."
            )
        return summaries.summary_point(points.ordered(history), "best", direction=direction).value

    def holds_key(self, key: str) -> bool:
        return key == self.key

    @property
    def _what_it_holds(self) -> str:
        return f"the metric {self.key!r}"

    def _preview_scope(self) -> tuple[str | None, str] | None:
        return (self._key, "") if self._key else None

    def _describe(self) -> dict[str, Any]:
        return {"key": self._key, **super()._describe()}


MlflowMetricDataset = MlflowMetricDataSet
