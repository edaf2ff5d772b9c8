"""Which store the latest `kedro run` logged to, noted for the reading commands.

With kedro-mlflow installed, its active run wins and lives in the store its
mlflow.yml names (it also sets MLflow's tracking URI for the whole `kedro run`);
`kedro metrics ...` reads metrics.yml's store and would list older runs in silence.
The hook notes the run's id and store (credentials redacted) in
``config.LATEST_RUN_FILE``; ``cli.scope`` reads the note and says in one line when
the store it reads is another one.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import NamedTuple

from kedro_metrics import config, store

logger = logging.getLogger(__name__)


class LatestRun(NamedTuple):
    run_id: str
    #: The store's URI, credentials redacted.
    store: str


def remember_latest_run(project_path: str | Path, *, run_id: str, uri: str) -> None:
    """Write the note; never fails the run (a read-only project: the hook's log line
    still names the store)."""
    path = Path(project_path) / config.LATEST_RUN_FILE
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"run_id": run_id, "store": store.redact(uri)}))
    except OSError as exc:
        logger.debug("kedro-metrics: could not write %s (%s)", path, exc)


def latest_run(project_path: str | Path) -> LatestRun | None:
    """The note; None when there is none or it cannot be read."""
    try:
        note = json.loads((Path(project_path) / config.LATEST_RUN_FILE).read_text())
        return LatestRun(str(note["run_id"]), str(note["store"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
