"""The durable local spool: points a save accepted, kept on disk until MLflow has them.

Files only, no mlflow: ``lines`` says what a line is and reads a file back (pure),
``writer`` writes a run's file, ``directory`` is what ``sync`` lists, reads, claims
and locks. One append-only file per process and run
(``<spool_id>.<pid>.jsonl`` in the spool directory), one checksummed record per line
(``lines`` says how a line is written and read), each save's points written
in full and fsync'd before ``save`` returns:

- ``{"kind": "run", "format": 2, ...}`` first: the run (``run_id``, or none for a run
  spooled in offline mode), the *redacted* tracking URI, and what ``sync`` needs to
  create an offline run (experiment, name, tags, start time);
- ``{"kind": "points", "seq": n, "points": [[key, value, step, timestamp], ...]}``:
  up to 1,000 points of one save (a save is as many records as it needs, all
  written before one fsync, or none of them); with ``"link": {"dataset_name", "dataset_digest", "model_id",
  "step_models"}`` (the fields that are set) when its points link to the data they
  were computed on or to a LoggedModel (``links.PointLink``);
- ``{"kind": "delivered", "seq": n, "span": [first, end]}``: MLflow confirmed those
  points of save ``n`` (one batch); without ``span``: the whole save;
- ``{"kind": "refused", "seq": n}``: MLflow refused it (the save failed, loudly):
  nothing left to deliver;
- ``{"kind": "created", "run_id": ...}``: ``sync`` created the offline run;
- ``{"kind": "end", "status": ..., "end_time": ...}``: how the run ended, when the
  store could not be told; with ``"meaning": {glob: {direction, format, summary}}``
  when the store did not get the declarations of what its metrics mean.

A writer holds an exclusive ``flock`` on its file for as long as its process
lives, so ``sync`` never touches a file that is still being written, and knows
that the process of an unlocked file without an end record is gone (the run then
ends KILLED). ``sync`` itself holds ``.sync.lock`` in the directory: two syncs
never send the same point twice. Only regular files are ever opened.

Spool files never hold credentials: the tracking URI is redacted by the caller,
and ``sync`` learns the real one from the project's settings at sync time.
"""

from kedro_metrics.spool.directory import (
    DAMAGED_SUFFIX,
    SYNC_LOCK,
    appender,
    claimed,
    delivered_whole,
    odd_entries,
    put_aside,
    read,
    spool_files,
    sync_lock,
)
from kedro_metrics.spool.lines import FORMAT, Pending, PendingStream, SpooledRun
from kedro_metrics.spool.writer import (
    SUFFIX,
    SpoolClosedError,
    SpooledSave,
    SpoolTarget,
    SpoolWriteError,
    SpoolWriter,
    close_writer,
    existing_writer,
    new_spool_id,
    unowned_writers,
    writer_for,
)

__all__ = [
    "DAMAGED_SUFFIX",
    "FORMAT",
    "SUFFIX",
    "SYNC_LOCK",
    "Pending",
    "PendingStream",
    "SpoolClosedError",
    "SpoolTarget",
    "SpoolWriteError",
    "SpoolWriter",
    "SpooledRun",
    "SpooledSave",
    "appender",
    "claimed",
    "close_writer",
    "delivered_whole",
    "existing_writer",
    "new_spool_id",
    "odd_entries",
    "put_aside",
    "read",
    "spool_files",
    "sync_lock",
    "unowned_writers",
    "writer_for",
]
