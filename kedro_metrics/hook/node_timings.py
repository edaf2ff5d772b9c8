"""metrics.yml ``node_timings: true``: each node's function time (not its loads and
saves) as ``kedro.node.<node name>.seconds``, one batch at the run's end, also when
the run fails.

Kedro calls ``before_node_run`` once the inputs are loaded and ``after_node_run``
before the outputs are saved, in the process and thread that runs the node: under
ParallelRunner a worker process. So every process appends one JSON line per node
to a file named after the Kedro session, which the process that tracks the run
creates when timings are on and reads at the end; where there is no such file,
timings are off and a node costs one failed ``open``.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path

from kedro_metrics import delivery, points, store
from kedro_metrics.delivery import DeliveryPolicy
from kedro_metrics.errors import KedroMetricsError

logger = logging.getLogger(__name__)

#: The MLflow key of a node's time (its name with what MLflow refuses made ``_``).
KEY = "kedro.node.{}.seconds"


def timings_file(session_id: str) -> Path:
    """Where the processes of the session ``session_id`` append their nodes' times."""
    return Path(tempfile.gettempdir()) / f"kedro-metrics-node-timings-{session_id}.jsonl"


class NodeClock:
    """The start of each node running in this process, by node name."""

    def __init__(self) -> None:
        self._started: dict[str, float] = {}

    def started(self, node: str) -> None:
        self._started[node] = time.perf_counter()

    def ended(self, node: str, session_id: str) -> None:
        """Append the node's time to the session's file, when timings are on."""
        started = self._started.pop(node, None)
        if started is None:
            return
        line = json.dumps({"node": node, "seconds": time.perf_counter() - started}) + "\n"
        try:
            fd = os.open(timings_file(session_id), os.O_WRONLY | os.O_APPEND)
        except FileNotFoundError:
            return  # timings are off for this run
        try:
            os.write(fd, line.encode())  # one short write to an O_APPEND file: whole
        finally:
            os.close(fd)


def start_collecting(session_id: str) -> Path:
    """Turn timings on for the session: an empty file for its processes to append to."""
    path = timings_file(session_id)
    path.write_bytes(b"")
    return path


def collected(path: Path) -> dict[str, float]:
    """The nodes' times appended to ``path`` (the file goes), by node name; a line
    that does not parse is left out."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        logger.warning("kedro-metrics: the nodes' times could not be read: %s", exc)
        return {}
    finally:
        path.unlink(missing_ok=True)
    times: dict[str, float] = {}
    for line in text.splitlines():
        try:
            entry = json.loads(line)
            times[str(entry["node"])] = float(entry["seconds"])
        except (ValueError, TypeError, KeyError):
            continue
    return times


def log_times(times: dict[str, float], *, tracking_uri: str, policy: DeliveryPolicy) -> None:
    """``times`` (node name -> seconds) as one batch of the run, at step 0. A store
    that refuses them is said in one warning: the run ends as it would have."""
    if not times:
        return
    values = {KEY.format(store.safe_key(node)): seconds for node, seconds in sorted(times.items())}
    try:
        validated = points.validate(values, key_problem=store.key_problem)
        delivery.save(
            validated, tracking_uri=tracking_uri, policy=policy, label="node_timings",
            asynchronous=False,
        )  # fmt: skip
    except KedroMetricsError as exc:
        logger.warning("kedro-metrics: the nodes' times were not logged: %s", exc)
