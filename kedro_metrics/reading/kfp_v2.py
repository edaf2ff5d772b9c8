"""Kubeflow Pipelines v2: a run's scalar metrics as the metadata of a ``system.Metrics``
output artifact, in the executor output file the KFP v2 launcher reads after a task.
Pure: the caller reads the executor input and an existing executor output, and
writes the document.

KFP v2 hands a task its executor input (``--executor_input``, JSON): the path of the
executor output file (``outputs.outputFile``) and, per output artifact, its name,
URI and type (``outputs.artifacts.<output>.artifacts[0]``). The launcher reads the
artifacts' ``metadata`` from the executor output: for ``system.Metrics`` that is
``{metric name: number}``, the scalar metrics the KFP UI shows. Names are written
verbatim (KFP v2 accepts any string); NaN and infinities, which JSON cannot hold,
are left out.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kedro_metrics.errors import ExportError

#: The output name of the metrics artifact when none is given.
METRICS_OUTPUT = "metrics"
#: The artifact type KFP v2 shows as scalar metrics.
METRICS_SCHEMA = "system.Metrics"


@dataclass(frozen=True)
class ExecutorTarget:
    """Where the metrics go: the executor output file and the output artifact."""

    output_file: str
    output_name: str = METRICS_OUTPUT
    #: The runtime artifact the executor input gives for the output (name, uri, type).
    artifact: Mapping[str, Any] = field(default_factory=dict)


def parse_executor_input(text: str, output_name: str = METRICS_OUTPUT) -> ExecutorTarget:
    """The target named by an executor input (the JSON KFP passes a task).

    Raises:
        ExportError: the text is not a JSON object, has no ``outputs.outputFile``, or
            no output artifact ``output_name`` (the message lists those it has).
    """
    try:
        document = json.loads(text)
    except ValueError as exc:
        raise ExportError(f"the executor input is not JSON: {exc}.") from None
    outputs = document.get("outputs") if isinstance(document, dict) else None
    if not isinstance(outputs, dict) or not isinstance(outputs.get("outputFile"), str):
        raise ExportError(
            "the executor input has no outputs.outputFile: give the JSON KFP passes a "
            "task as --executor_input."
        )
    artifacts = outputs.get("artifacts") if isinstance(outputs.get("artifacts"), dict) else {}
    listed = (artifacts.get(output_name) or {}).get("artifacts") if artifacts else None
    if not isinstance(listed, list) or not listed or not isinstance(listed[0], dict):
        have = ", ".join(sorted(artifacts)) or "none"
        raise ExportError(
            f"the executor input has no output artifact {output_name!r} (it has: {have}); "
            f"declare an Output[Metrics] named {output_name!r}, or name yours."
        )
    return ExecutorTarget(outputs["outputFile"], output_name, dict(listed[0]))


def executor_output(
    target: ExecutorTarget,
    values: Mapping[str, float],
    existing: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], list[str]]:
    """The executor output with ``values`` as the metadata of the target's artifact,
    merged into ``existing`` (what the file held: other outputs, parameter values and
    the artifact's other metadata stay); and the keys left out (not finite), sorted.
    """
    skipped = sorted(key for key, value in values.items() if not math.isfinite(value))
    document = json.loads(json.dumps(existing)) if isinstance(existing, Mapping) else {}
    artifacts = document.setdefault("artifacts", {})
    if not isinstance(artifacts, dict):
        artifacts = document["artifacts"] = {}
    listed = (artifacts.get(target.output_name) or {}).get("artifacts") or [{}]
    before = listed[0] if isinstance(listed[0], dict) else {}
    metadata = before.get("metadata") if isinstance(before.get("metadata"), dict) else {}
    artifact = {
        "name": target.artifact.get("name", before.get("name", target.output_name)),
        "uri": target.artifact.get("uri", before.get("uri", "")),
        "metadata": {
            **metadata,
            **{k: float(v) for k, v in sorted(values.items()) if k not in skipped},
        },
    }
    artifacts[target.output_name] = {"artifacts": [artifact]}
    return document, skipped
