"""Is the file of a sqlite URI a usable database? Checked before MLflow opens it:
MLflow would try for a minute and a half before giving up on a directory or a
damaged file.
"""

from __future__ import annotations

import os
from urllib.parse import unquote

#: The first 16 bytes of every sqlite 3 database file.
SQLITE_HEADER = b"SQLite format 3\x00"

#: The size of an sqlite database file's header.
_SQLITE_HEADER_SIZE = 100


def sqlite_file_problem(uri: str) -> str | None:
    """What makes the file of a sqlite URI unusable as a database, or None: a
    directory, a file that does not start with sqlite's header, or one shorter than
    its header says (cut short). A missing or empty file is fine (MLflow creates the
    database); so is any URI that is not a sqlite file (a server, ``:memory:``)."""
    path = _sqlite_path(uri)
    if path is None:
        return None
    if os.path.isdir(path):
        return f"{path} is a directory, not an sqlite database"
    try:
        with open(path, "rb") as file:
            header = file.read(_SQLITE_HEADER_SIZE)
            size = os.fstat(file.fileno()).st_size
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{path} cannot be read ({exc.strerror or exc})"
    if not header or _sqlite_header_fits(header, size) or _being_written(path):
        return None
    return f"{path} is not an sqlite database (file is damaged or not sqlite)"


def _sqlite_path(uri: str) -> str | None:
    """The absolute path of the file a sqlite URI names (as SQLAlchemy reads it:
    relative to the working directory), or None for another URI or an in-memory one."""
    if not uri.lower().startswith("sqlite:///"):
        return None  # ``sqlite://``: in memory
    database = unquote(uri[len("sqlite:///") :].split("?", 1)[0])
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return os.path.abspath(database)


def _being_written(path: str) -> bool:
    """Does sqlite have a transaction under way on ``path`` (its journal or WAL file
    next to it)? Then the file may be half-written for a moment: sqlite's to judge."""
    return any(os.path.exists(f"{path}{suffix}") for suffix in ("-journal", "-wal"))


def _sqlite_header_fits(header: bytes, size: int) -> bool:
    """Is this the header of an sqlite file of ``size`` bytes? Its magic string, a
    page size that is a power of two from 512 to 65536, a file of whole pages, and
    at least as many of them as the header counts (when that count is valid)."""
    if len(header) < _SQLITE_HEADER_SIZE or not header.startswith(SQLITE_HEADER):
        return False
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1) or size % page_size:  # noqa: PLR2004
        return False
    pages = int.from_bytes(header[28:32], "big")
    counted = header[24:28] == header[92:96]  # sqlite's "in-header size is valid" rule
    return not counted or size >= pages * page_size
