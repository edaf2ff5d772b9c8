"""What a run records about itself: Kedro parameters as MLflow params, MLflow's
standard tags, and the run's name. Pure: no I/O, no kedro, no mlflow.

MLflow's own names and limits (tag names from ``mlflow.utils.mlflow_tags``, the
param value length) are passed in by the caller, which gets them from the store,
so nothing here restates them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

#: The default run name; a metrics.yml ``run_name`` template may use the same
#: fields (``config.RUN_NAME_FIELDS``, checked when metrics.yml is parsed).
RUN_NAME_FORMAT = "{pipeline} {start_time}"
START_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


@dataclass(frozen=True)
class Params:
    """Kedro parameters flattened for MLflow, and the names whose values were cut."""

    values: dict[str, str]
    cut: tuple[str, ...] = ()


def flatten_params(params: Mapping[str, Any], *, max_value_length: int) -> Params:
    """``{"model": {"test_size": 0.2}}`` -> ``{"model.test_size": "0.2"}``.

    Nested mappings are joined with "."; lists and tuples become their JSON text
    (``str()`` of an item JSON cannot encode); everything else is ``str()``. A
    value longer than ``max_value_length`` (MLflow's limit) is cut to it and its
    name listed in ``Params.cut``.
    """
    flat: dict[str, str] = {}
    _flatten(params, "", flat)
    cut = tuple(name for name, text in flat.items() if len(text) > max_value_length)
    for name in cut:
        flat[name] = flat[name][:max_value_length]
    return Params(flat, cut)


def _flatten(params: Mapping[Any, Any], prefix: str, into: dict[str, str]) -> None:
    for name, value in params.items():
        key = f"{prefix}.{name}" if prefix else str(name)
        if isinstance(value, Mapping) and value:
            _flatten(value, key, into)
        else:
            into[key] = param_text(value)


def param_text(value: Any) -> str:
    """How a parameter value reads in MLflow: lists as JSON, the rest as ``str()``."""
    if isinstance(value, (list, tuple)):
        return json.dumps(list(value), default=str)
    return str(value)


def shortened(text: str, limit: int = 60) -> str:
    """``repr(text)``, cut to about ``limit`` characters for a log line."""
    shown = repr(text)
    return shown if len(shown) <= limit else shown[: limit - 4] + "...'"


@dataclass(frozen=True)
class GitState:
    """Where the project's code stands in git (commit, branch, uncommitted changes)."""

    commit: str
    branch: str | None
    dirty: bool


@dataclass(frozen=True)
class StandardTagNames:
    """MLflow's names of its standard tags (``mlflow.utils.mlflow_tags``)."""

    user: str
    source_name: str
    source_type: str
    git_commit: str
    git_branch: str


def standard_tags(  # noqa: PLR0913
    names: StandardTagNames,
    *,
    user: str | None,
    package_name: str,
    git: GitState | None,
    kedro_version: str,
    plugin_version: str,
) -> dict[str, str]:
    """The tags that let MLflow's UI and ``search_runs`` tell runs apart.

    ``mlflow.source.type`` is ``PROJECT``; git tags only when the project is in a
    git repository.
    """
    tags = {
        names.source_name: package_name,
        names.source_type: "PROJECT",
        "kedro.version": kedro_version,
        "kedro_metrics.version": plugin_version,
    }
    if user:
        tags[names.user] = user
    if git is not None:
        tags[names.git_commit] = git.commit
        if git.branch:
            tags[names.git_branch] = git.branch
        tags["kedro_metrics.git_dirty"] = "true" if git.dirty else "false"
    return tags


def run_name(
    template: str | None,
    *,
    pipelines: list[str] | tuple[str, ...] | None,
    env: str,
    session_id: str,
    start_time: datetime,
) -> str:
    """The run's name: metrics.yml ``run_name`` (a template) or, by default, the
    pipeline name(s) followed by the start time, so two runs' names differ.

    The template was checked (it renders) when metrics.yml was parsed.
    """
    fields = {
        "pipeline": "+".join(pipelines or ["__default__"]),
        "env": env,
        "session_id": session_id,
        "start_time": StartTime.combine(start_time.date(), start_time.timetz()),
    }
    return (template or RUN_NAME_FORMAT).format_map(fields)


class StartTime(datetime):
    """A run's start time in a name: ``{start_time}`` is ``START_TIME_FORMAT``,
    ``{start_time:%Y%m%d}`` any strftime format."""

    def __str__(self) -> str:
        return self.strftime(START_TIME_FORMAT)
