"""metrics.yml: its schema, defaults and precedence. Pure: no I/O, no kedro, no mlflow.

The hook reads the file through Kedro's config loader (conf/base merged with
conf/<env>, env wins) and hands the resulting mapping to ``MetricsConfig.parse``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from kedro_metrics.errors import ConfigError
from kedro_metrics.gates import CheckSettings, Gates
from kedro_metrics.meaning import Declarations

DEFAULT_SQLITE_NAME = "mlflow.db"
#: metrics.yml ``retry_seconds`` default: the most one process waits on a failing store.
DEFAULT_RETRY_SECONDS = 15.0
#: The longest retry budget metrics.yml accepts (a day): beyond it is a typo, and
#: time.monotonic() + inf would never end.
MAX_RETRY_SECONDS = 86400
#: At the start of `kedro run`, how long delivering earlier spools may take.
SYNC_ON_START_SECONDS = 5.0
#: ``kedro metrics sync``: how long one request may take (a sync is someone asking to
#: wait; a resent batch MLflow already holds can take seconds to be ignored).
SYNC_REQUEST_TIMEOUT_SECONDS = 120.0
#: The fields a ``run_name`` template may use.
RUN_NAME_FIELDS = ("pipeline", "env", "session_id", "start_time")


#: metrics.yml ``kubeflow.version`` of Kubeflow Pipelines 2.x.
KFP_V2 = 2


@dataclass(frozen=True)
class KubeflowConfig:
    """metrics.yml ``kubeflow``: the Kubeflow Pipelines metrics file (v1), or the
    executor output holding a ``system.Metrics`` artifact (v2)."""

    #: Globs of MLflow keys shown as PERCENTAGE (v1; the value is never scaled).
    percentage: tuple[str, ...] = ()
    #: Where the hook writes the file after every `kedro run` (off when None); for
    #: version 2 the executor output (KFP_EXECUTOR_INPUT's outputFile otherwise).
    metrics_file: str | None = None
    #: 1: the v1 mlpipeline-metrics.json; 2: a KFP v2 executor output.
    version: int = 1
    #: Version 2: the name of the task's Output[Metrics] artifact.
    output: str = "metrics"

    @property
    def v2(self) -> bool:
        """The KFP v2 executor output rather than the v1 metrics file."""
        return self.version == KFP_V2

    @classmethod
    def parse(cls, data: Any, *, source: str) -> KubeflowConfig:
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(
                f"'kubeflow' in {source} must be a mapping with 'percentage', "
                f"'metrics_file', 'version' or 'output', got {data!r}.",
                key="kubeflow",
            )
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"Unknown key 'kubeflow.{key}' in {source}; 'kubeflow' accepts: "
                    f"{', '.join(known)}.",
                    key="kubeflow",
                )
        percentage = data.get("percentage") or ()
        if not isinstance(percentage, (list, tuple)) or not all(
            isinstance(glob, str) for glob in percentage
        ):
            raise ConfigError(
                f"'kubeflow.percentage' in {source} must be a list of metric key globs "
                f"such as ['*accuracy*'], got {percentage!r}.",
                key="kubeflow",
            )
        metrics_file = data.get("metrics_file")
        if metrics_file is not None and not isinstance(metrics_file, str):
            raise ConfigError(
                f"'kubeflow.metrics_file' in {source} must be a file path such as "
                f"/mlpipeline-metrics.json, got {metrics_file!r}.",
                key="kubeflow",
            )
        version = data.get("version", 1)
        if version not in (1, KFP_V2) or isinstance(version, bool):
            raise ConfigError(
                f"'kubeflow.version' in {source} must be 1 (the v1 metrics file) or 2 (a "
                f"KFP v2 executor output), got {version!r}.",
                key="kubeflow",
            )
        output = data.get("output", "metrics")
        if not isinstance(output, str) or not output:
            raise ConfigError(
                f"'kubeflow.output' in {source} must name the task's Output[Metrics], "
                f"got {output!r}.",
                key="kubeflow",
            )
        return cls(
            percentage=tuple(percentage), metrics_file=metrics_file, version=version,
            output=output,
        )  # fmt: skip


@dataclass(frozen=True)
class MetricsConfig:
    """The settings of metrics.yml; every key is optional."""

    #: The MLflow store. Beats MLFLOW_TRACKING_URI; default sqlite:///<project>/mlflow.db.
    tracking_uri: str | None = None
    #: The experiment name. Beats MLFLOW_EXPERIMENT_NAME; default the package name.
    experiment: str | None = None
    #: The name of the runs the hook starts, a template of RUN_NAME_FIELDS.
    #: Default: the pipeline name(s) and the start time.
    run_name: str | None = None
    #: Tags added to the runs the hook starts.
    tags: Mapping[str, str] = field(default_factory=dict)
    #: Pipelines run without tracking: metrics datasets log nothing, no run is started.
    disabled_pipelines: tuple[str, ...] = ()
    #: Let save return before MLflow has the points; the hook flushes at pipeline end.
    async_logging: bool = False
    #: The Kubeflow Pipelines metrics file: which metrics are percentages, where to write it.
    kubeflow: KubeflowConfig = field(default_factory=KubeflowConfig)
    #: Log the run's Kedro parameters as MLflow params.
    log_params: bool = True
    #: Log each node's function time as ``kedro.node.<node name>.seconds``.
    node_timings: bool = False
    #: Where points for a remote store are spooled before they are sent. Default:
    #: KEDRO_METRICS_SPOOL_DIR, else <project>/.kedro_metrics/spool. Relative: to the project.
    spool_dir: str | None = None
    #: The most time one `kedro run` waits on an unreachable store (start, saves and
    #: end together) before everything goes to the spool.
    retry_seconds: float = DEFAULT_RETRY_SECONDS
    #: "spool" (default): keep failed points in the spool and go on; "raise": fail.
    on_tracking_error: str = "spool"
    #: Deliver pending spools at the start of `kedro run` (within a small time budget).
    sync_on_start: bool = True
    #: "online" (default) or "offline": nothing reaches the store until `kedro metrics sync`.
    mode: str = "online"
    #: What metrics mean: globs of MLflow keys to direction, format and summary.
    metrics: Declarations = field(default_factory=Declarations)
    #: What `kedro metrics check` holds a run to: keys or globs to rules (gates.py).
    gates: Gates = field(default_factory=Gates)
    #: The run a check compares with by default (a run reference); None: latest~1.
    baseline: str | None = None
    #: Whether the end of `kedro run` checks the run: on_run_end fail, warn or off.
    check: CheckSettings = field(default_factory=CheckSettings)

    @classmethod
    def parse(cls, data: Mapping[str, Any] | None, *, source: str) -> MetricsConfig:
        """Check ``data`` (the merged metrics.yml) and build the config.

        Raises:
            ConfigError: naming the key, the rule and ``source`` (the file).
        """
        data = dict(data or {})
        known = [f.name for f in fields(cls)]
        for key in data:
            if key not in known:
                raise ConfigError(
                    f"Unknown key {key!r} in {source}; metrics.yml accepts: {', '.join(known)}.",
                    key=key,
                )
        for key in ("tracking_uri", "experiment", "run_name"):
            _expect(data, key, (str, type(None)), "a string", source)
        for key in ("async_logging", "log_params", "node_timings", "sync_on_start"):
            _expect(data, key, bool, "true or false", source)
        _check_run_name(data.get("run_name"), source)
        _expect(data, "spool_dir", (str, type(None)), "a directory path", source)
        _expect_choice(data, "on_tracking_error", ON_TRACKING_ERROR, source)
        _expect_choice(data, "mode", MODES, source)
        seconds = data.get("retry_seconds", DEFAULT_RETRY_SECONDS)
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, (int, float))
            or not 0 <= seconds <= MAX_RETRY_SECONDS  # NaN and infinities fail this too
        ):
            raise ConfigError(
                f"'retry_seconds' in {source} must be a number of seconds from 0 to "
                f"{MAX_RETRY_SECONDS} (a day), got {seconds!r}.",
                key="retry_seconds",
            )
        _expect(data, "tags", (Mapping, type(None)), "a mapping of tag name to value", source)
        _expect(
            data,
            "disabled_pipelines",
            (list, tuple, type(None)),
            "a list of pipeline names",
            source,
        )
        tags = data.pop("tags", None) or {}
        for name, value in tags.items():
            if not isinstance(value, (str, int, float, bool)):
                raise ConfigError(
                    f"Tag {name!r} in {source} must be a string or number, got {value!r}.",
                    key="tags",
                )
        kubeflow = KubeflowConfig.parse(data.pop("kubeflow", None), source=source)
        declarations = Declarations.parse(data.pop("metrics", None), source=source)
        gates = Gates.parse(data.pop("gates", None), declarations=declarations, source=source)
        check = CheckSettings.parse(data.pop("check", None), source=source)
        baseline = data.get("baseline")
        if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
            raise ConfigError(
                f"'baseline' in {source} must be a run reference such as 'branch:main' or "
                f"'latest~1', got {baseline!r}.",
                key="baseline",
            )
        pipelines = data.pop("disabled_pipelines", None) or ()
        if not all(isinstance(p, str) for p in pipelines):
            raise ConfigError(
                f"'disabled_pipelines' in {source} must list pipeline names (strings), "
                f"got {list(pipelines)!r}.",
                key="disabled_pipelines",
            )
        return cls(
            **data,
            tags={str(k): str(v) for k, v in tags.items()},
            disabled_pipelines=tuple(pipelines),
            kubeflow=kubeflow,
            metrics=declarations,
            gates=gates,
            check=check,
        )

    def tracks(self, pipeline_names: list[str] | tuple[str, ...] | None) -> bool:
        """False when every pipeline of the run is listed in ``disabled_pipelines``."""
        names = pipeline_names or ["__default__"]
        return not all(name in self.disabled_pipelines for name in names)


#: Values of ``on_tracking_error`` and ``mode``.
SPOOL, RAISE = ON_TRACKING_ERROR = ("spool", "raise")
MODES = ("online", "offline")
#: The environment variables of the spool.
SPOOL_DIR_VARIABLE = "KEDRO_METRICS_SPOOL_DIR"
MODE_VARIABLE = "KEDRO_METRICS_MODE"
DEFAULT_SPOOL_DIR = ".kedro_metrics/spool"

#: Where `kedro run` notes its run's id and store (credentials redacted), relative to
#: the project: the reading commands say so when they read another store.
LATEST_RUN_FILE = ".kedro_metrics/latest_run.json"


def spool_dir(config: MetricsConfig | None, environ: Mapping[str, str], base: str) -> str:
    """metrics.yml ``spool_dir`` > ``KEDRO_METRICS_SPOOL_DIR`` > ``<base>/.kedro_metrics/spool``;
    ``base`` is the project (or, outside one, the working directory); relative paths
    are taken from it."""
    chosen = (config.spool_dir if config else None) or environ.get(SPOOL_DIR_VARIABLE)
    chosen = chosen or DEFAULT_SPOOL_DIR
    return chosen if chosen.startswith("/") else f"{base.rstrip('/')}/{chosen}"


def offline(config: MetricsConfig, environ: Mapping[str, str]) -> bool:
    """``mode: offline`` in metrics.yml or ``KEDRO_METRICS_MODE=offline``."""
    return config.mode == "offline" or environ.get(MODE_VARIABLE, "").lower() == "offline"


def tracking_uri(config: MetricsConfig, environ: Mapping[str, str], project_path: str) -> str:
    """metrics.yml ``tracking_uri`` > ``MLFLOW_TRACKING_URI`` > sqlite in the project."""
    return (
        config.tracking_uri
        or environ.get("MLFLOW_TRACKING_URI")
        or f"sqlite:///{project_path.rstrip('/')}/{DEFAULT_SQLITE_NAME}"
    )


def experiment_name(config: MetricsConfig, environ: Mapping[str, str], package_name: str) -> str:
    """metrics.yml ``experiment`` > ``MLFLOW_EXPERIMENT_NAME`` > the package name."""
    return config.experiment or environ.get("MLFLOW_EXPERIMENT_NAME") or package_name


def _check_run_name(template: str | None, source: str) -> None:
    """A ``run_name`` template must render: its ``{field}``s among RUN_NAME_FIELDS,
    format specs valid for them (``{start_time:%Y%m%d}`` is a datetime's)."""
    if not template:
        return
    allowed = ", ".join("{" + name + "}" for name in RUN_NAME_FIELDS)
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]
    except ValueError as exc:
        raise ConfigError(
            f"'run_name' in {source} is not a valid template ({exc}): {template!r}; "
            f"it may use {allowed} (write {{{{ and }}}} for literal braces).",
            key="run_name",
        ) from None
    for name in names:
        if name not in RUN_NAME_FIELDS:
            raise ConfigError(
                f"Unknown field {{{name}}} in 'run_name' in {source}: {template!r}; "
                f"a run name may use {allowed}.",
                key="run_name",
            )
    sample = {name: "x" for name in RUN_NAME_FIELDS} | {"start_time": datetime(2000, 1, 2, 3, 4, 5)}
    try:
        template.format_map(sample)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            f"'run_name' in {source} cannot be rendered ({exc}): {template!r}; "
            "{start_time} takes a strftime format ({start_time:%Y%m%d}), the other "
            "fields are text.",
            key="run_name",
        ) from None


def _expect(
    data: Mapping[str, Any], key: str, kinds: type | tuple[type, ...], what: str, source: str
) -> None:
    if key in data and not isinstance(data[key], kinds):
        raise ConfigError(f"{key!r} in {source} must be {what}, got {data[key]!r}.", key=key)


def _expect_choice(
    data: Mapping[str, Any], key: str, choices: tuple[str, ...], source: str
) -> None:
    if key in data and data[key] not in choices:
        raise ConfigError(
            f"{key!r} in {source} must be one of {', '.join(choices)}, got {data[key]!r}.",
            key=key,
        )
