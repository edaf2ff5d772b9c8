"""Is the tracking server up? A bounded probe, and a bounded wait for any call, for
callers that must not wait for MLflow's own retries (minutes, with its default
backoff): the Kedro-Viz preview."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit, urlunsplit

from kedro_metrics.config import DEFAULT_RETRY_SECONDS
from kedro_metrics.store.client import is_server

T = TypeVar("T")

#: How long ``answers`` keeps trying by default, in seconds: the default retry budget.
PROBE_BUDGET_SECONDS = DEFAULT_RETRY_SECONDS
_REQUEST_TIMEOUT = 3.0


def answers(tracking_uri: str, *, within: float | None = None) -> bool:
    """True when the store can be asked: a local store always; a tracking server when
    its ``/health`` answers (any HTTP status counts: it is up) within ``within`` seconds
    (default ``PROBE_BUDGET_SECONDS``), retried with backoff."""
    if not is_server(tracking_uri):
        return True
    within = PROBE_BUDGET_SECONDS if within is None else within
    url = health_url(tracking_uri)
    deadline = time.monotonic() + within
    delay = 0.5
    while True:
        timeout = max(0.1, min(_REQUEST_TIMEOUT, deadline - time.monotonic()))
        try:
            with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - http(s) only
                return True
        except urllib.error.HTTPError:
            return True  # the server answered, if only to refuse
        except (OSError, ValueError):
            pass
        if time.monotonic() + delay >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 4.0)


def health_url(tracking_uri: str) -> str:
    """The server's ``/health`` address, without the credentials of the URI (the
    health check needs none, and urllib refuses user info in a URL)."""
    parts = urlsplit(tracking_uri)
    host = parts.netloc.rsplit("@", 1)[-1]
    return urlunsplit(parts._replace(netloc=host, path=parts.path.rstrip("/") + "/health"))


def within(seconds: float, call: Callable[[], T]) -> T:
    """``call()``'s result, or ``TimeoutError`` once ``seconds`` have passed.

    The call goes on in a daemon thread that nobody waits for (MLflow's own retries
    end it later), so a store that stops answering mid-read costs the caller
    ``seconds``, not minutes, and never delays the interpreter's exit.
    """
    outcome: list[tuple[bool, object]] = []

    def run() -> None:
        try:
            outcome.append((True, call()))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            outcome.append((False, exc))

    worker = threading.Thread(target=run, name="kedro-metrics-bounded", daemon=True)
    worker.start()
    worker.join(seconds)
    if not outcome:
        raise TimeoutError(f"no answer within {seconds:g} s")
    ok, value = outcome[0]
    if not ok:
        raise value  # type: ignore[misc]
    return value  # type: ignore[return-value]
