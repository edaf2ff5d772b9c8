"""Errors that end `kedro run` in one ``Error: ...`` line instead of a traceback.

Kedro's CLI lets an exception from a hook reach click, which prints a
``click.ClickException`` as one line (exit 1) and anything else as a traceback of
up to two hundred lines. What the hook refuses before a run exists (a bad
metrics.yml, a store that is not a database, a run variable naming no run) is the
user's to fix, and its message
already says how: ``for_kedro_run`` gives it the one-line form while keeping its
class, so code running a ``KedroSession`` still catches ``ConfigError`` or
``TrackingError`` as before.
"""

from __future__ import annotations

import functools
from typing import IO, Any

import click

from kedro_metrics.errors import ConfigError, NoRunError, TrackingError

#: The errors whose message is the whole story: shown without a traceback
#: (NoRunError: MLFLOW_RUN_ID or MLFLOW_PARENT_RUN_ID naming no run).
ONE_LINE_ERRORS = (ConfigError, NoRunError, TrackingError)


class OneLineError(click.ClickException):
    """Shown by click as ``Error: <message>`` on stderr; `kedro run` exits 1."""

    def show(self, file: IO[Any] | None = None) -> None:
        click.secho(f"Error: {self.format_message()}", fg="red", err=True)


def for_kedro_run(error: BaseException) -> BaseException:
    """``error`` as one line when it is one of ``ONE_LINE_ERRORS``, else itself."""
    if not isinstance(error, ONE_LINE_ERRORS) or isinstance(error, OneLineError):
        return error
    twin = _one_line_class(type(error)).__new__(_one_line_class(type(error)))
    twin.__dict__.update(error.__dict__)
    twin.args = error.args
    twin.message = str(error)
    twin.exit_code = 1
    return twin


@functools.cache
def _one_line_class(cls: type[BaseException]) -> type[BaseException]:
    """A subclass of ``cls`` that click shows as one line (one per class)."""
    return type(cls.__name__, (cls, OneLineError), {"__module__": cls.__module__})
