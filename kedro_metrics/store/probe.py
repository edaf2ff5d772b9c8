"""Is the tracking server up? A bounded probe, and a bounded wait for any call, for
callers that must not wait for MLflow's own retries (minutes, with its default
backoff): the Kedro-Viz preview."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
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
    its ``/health`` answers without a 5xx within ``within`` seconds (default
    ``PROBE_BUDGET_SECONDS``), retried with backoff."""
    return unhealthy(tracking_uri, within=within) is None


def unhealthy(tracking_uri: str, *, within: float | None = None) -> str | None:
    """Why the store cannot be asked (``"answered 503 (Service Unavailable)"``, ``"no
    connection"``), or None when it can: a local store always can; a tracking server
    when its ``/health`` answers without a 5xx (a 4xx is an answer: the server is
    up, if only to refuse) within ``within`` seconds, retried with backoff."""
    if not is_server(tracking_uri):
        return None
    within = PROBE_BUDGET_SECONDS if within is None else within
    url = health_url(tracking_uri)
    deadline = time.monotonic() + within
    delay = 0.5
    while True:
        timeout = max(0.1, min(_REQUEST_TIMEOUT, deadline - time.monotonic()))
        try:
            with urllib.request.urlopen(url, timeout=timeout):  # noqa: S310 - http(s) only
                return None
        except urllib.error.HTTPError as exc:
            if exc.code < HTTPStatus.INTERNAL_SERVER_ERROR:
                return None
            why = f"answered {exc.code} ({_reason(exc.code)})"
        except (OSError, ValueError) as exc:
            why = f"gave no answer ({type(exc).__name__})"
        if time.monotonic() + delay >= deadline:
            return why
        time.sleep(delay)
        delay = min(delay * 2, 4.0)


def _reason(code: int) -> str:
    try:
        return HTTPStatus(code).phrase
    except ValueError:
        return "a server error"


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
