"""The spool directory as ``sync`` sees it: which entries are spool files (regular
files only), reading one, putting a damaged one aside, appending delivery marks to a
claimed one, and the locks that keep a sync off a file in use and two syncs apart."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from kedro_metrics.spool.lines import SpooledRun, encode, parse
from kedro_metrics.spool.writer import SUFFIX, write_fully

#: A file sync could not read whole is renamed to ``<name>.damaged`` (kept, never
#: picked up again).
DAMAGED_SUFFIX = ".damaged"
#: The directory's lock file: two syncs never deliver the same directory at once.
SYNC_LOCK = ".sync.lock"


def _entries(directory: str | os.PathLike[str]) -> Iterator[tuple[Path, os.stat_result]]:
    for path in Path(directory).glob(f"*{SUFFIX}"):
        try:
            yield path, path.lstat()
        except FileNotFoundError:
            continue  # delivered and removed by a sync meanwhile


def spool_files(directory: str | os.PathLike[str]) -> list[Path]:
    """The spool files in ``directory``, oldest first: regular files only (a FIFO,
    a directory or a link of that name is never opened; ``odd_entries`` lists them)."""
    found = [
        (info.st_mtime, path.name, path)
        for path, info in _entries(directory)
        if stat.S_ISREG(info.st_mode)
    ]
    return [path for *_, path in sorted(found)]


def odd_entries(directory: str | os.PathLike[str]) -> dict[str, str]:
    """Entries named like spool files that are not regular files: name -> what."""
    return {
        path.name: _kind_of(info.st_mode)
        for path, info in _entries(directory)
        if not stat.S_ISREG(info.st_mode)
    }


def _kind_of(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO"), (stat.S_ISLNK, "a link"),
        (stat.S_ISSOCK, "a socket"),
    ):  # fmt: skip
        if test(mode):
            return f"{name}, not a spool file"
    return "not a regular file"


def _open_regular(path: Path, flags: int) -> int:
    """Open ``path`` without following a link or blocking on a FIFO; a file that is
    not regular is refused (``OSError``)."""
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_NOFOLLOW)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(errno.EINVAL, "not a regular file", str(path))
    return fd


def read(path: Path) -> SpooledRun:
    """Parse a spool file (``lines.parse``). Raises ``OSError`` when it cannot
    be read (missing, not a regular file, no permission)."""
    fd = _open_regular(path, os.O_RDONLY)
    with os.fdopen(fd, "rb") as handle:
        return parse(path, handle.read())


def delivered_whole(path: Path) -> bool:
    """Is every save in the file confirmed, and every record readable?"""
    try:
        run = read(path)
    except OSError:
        return False
    return run.readable and not (run.damaged or run.foreign or run.pending_points)


def put_aside(path: Path) -> Path:
    """Rename a file sync could not read whole to ``<name>.damaged`` (kept for a
    person to look at; never picked up again)."""
    aside = path.with_name(path.name + DAMAGED_SUFFIX)
    os.replace(path, aside)
    return aside


@contextlib.contextmanager
def appender(path: Path) -> Iterator[Callable[..., None]]:
    """``add(record, sync=True)`` appends records to a spool file sync has claimed
    (each whole or not at all); safe from several threads."""
    fd = _open_regular(path, os.O_WRONLY | os.O_APPEND)
    lock = threading.Lock()

    def add(record: dict[str, Any], *, sync: bool = True) -> None:
        with lock:
            write_fully(fd, encode(record), sync=sync, path=path)

    try:
        yield add
    finally:
        os.close(fd)


@contextlib.contextmanager
def claimed(path: Path) -> Iterator[bool]:
    """Try to lock a spool file without waiting; yields False when its writer still
    runs (or another sync has it)."""
    try:
        fd = _open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        yield False
        return
    with _locked(fd) as mine:
        yield mine


@contextlib.contextmanager
def sync_lock(directory: str | os.PathLike[str]) -> Iterator[bool]:
    """The directory's sync lock; yields False when another sync holds it."""
    path = Path(directory)
    path.mkdir(parents=True, exist_ok=True)
    with _locked(os.open(path / SYNC_LOCK, os.O_RDWR | os.O_CREAT, 0o600)) as mine:
        yield mine


@contextlib.contextmanager
def _locked(fd: int) -> Iterator[bool]:
    """An exclusive flock on ``fd`` if free (False if not); closes ``fd`` after."""
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(fd)
