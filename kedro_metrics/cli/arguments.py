"""Command-line arguments checked before a command does anything: a file to write
(``--output``, ``--plot``), a configuration environment (``--env``), a port to
listen on (``--port``). Each refusal is one ``Error: ...`` line and exit 2, as
click's own usage errors; nothing has been read or written yet.

Standard library, click and Kedro's settings only: Kedro loads the CLI at start-up.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from kedro_metrics.cli.output import MetricsUsageError

#: Where ``init`` writes metrics.yml: conf/<env> of the project.
CONF_FOLDER = "conf"


def output_file(
    *, if_empty: str, create_folders: bool
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback refusing a file that cannot be written: an empty path
    (``if_empty`` says what to do instead), a folder that is missing (unless
    ``create_folders``: its nearest existing parent must take files), a file on
    the way where a folder should be, or a folder that does not take new files."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None:
            return None
        option = _option_name(param)
        if not value.strip():
            raise MetricsUsageError(f"{option} is empty: {if_empty}.")
        problem = why_unwritable(Path(value), create_folders=create_folders)
        if problem:
            raise MetricsUsageError(f"Cannot write {option} {value}: {problem}.")
        return value

    return check


def why_unwritable(target: Path, *, create_folders: bool) -> str | None:
    """Why a new file cannot be written at ``target``, or None. The check makes a
    temporary file in the folder (removed at once): only that says for sure,
    whatever the permissions, mounts and user (root included) are."""
    folder = target.parent
    existing = folder
    while not os.path.exists(existing) and existing != existing.parent:
        existing = existing.parent
    if not os.path.isdir(existing):
        return f"{existing} is a file, not a folder"
    if existing != folder and not create_folders:
        return f"the folder {folder} does not exist"
    try:
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".kedro-metrics-probe-")
    except OSError:
        return f"the folder {existing} is not writable" + (
            f" (so {folder} cannot be created)" if existing != folder else ""
        )
    os.close(handle)
    os.unlink(probe)
    return None


def environment(
    *, must_exist: bool
) -> Callable[[click.Context, click.Parameter, str | None], str | None]:
    """A click callback for ``--env``: the name of a folder under the project's
    conf/ (``project.conf_env_dir``); ``must_exist`` for the reading commands,
    while ``init`` may create a new one."""

    def check(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
        if value is None or ctx.obj is None:
            return value
        from kedro_metrics import project
        from kedro_metrics.errors import ConfigError

        conf = conf_folder(ctx.obj, must_exist=must_exist)
        if must_exist and not conf.is_dir():  # an archive or a remote conf source
            return value
        try:
            project.conf_env_dir(conf, value, must_exist=must_exist)
        except ConfigError as exc:
            raise MetricsUsageError(str(exc)) from None
        return value

    return check


def conf_folder(metadata: Any, *, must_exist: bool) -> Path:
    """The project's conf/: Kedro's CONF_SOURCE for reading, conf/ for ``init``."""
    root = Path(metadata.project_path)
    if must_exist:
        from kedro.framework.project import settings

        return root / settings.CONF_SOURCE
    return root / CONF_FOLDER


def check_port_free(host: str, port: int) -> None:
    """Refuse a port something already listens on at ``host`` (or a host that
    cannot be listened on): bind it briefly, as the server would."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
            sock.bind((host, port))
    except OSError as exc:
        why = exc.strerror or str(exc)
        raise MetricsUsageError(
            f"Cannot listen on port {port} of {host} ({why}): pick another --port, "
            "or stop what uses it."
        ) from None


def _option_name(param: click.Parameter) -> str:
    return max(param.opts, key=len, default=param.name or "")
