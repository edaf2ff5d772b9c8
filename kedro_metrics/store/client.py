"""A client per tracking URI, MLflow's own key rules, error translation, redaction
of credentials, and retries. Every other ``store`` module talks to MLflow through
``client_for`` and wraps its calls in ``translated_errors``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http import HTTPStatus
from typing import TypeVar
from urllib.parse import unquote

import mlflow
from mlflow import MlflowClient
from mlflow.environment_variables import MLFLOW_HTTP_REQUEST_MAX_RETRIES
from mlflow.exceptions import MlflowException
from mlflow.utils.validation import (
    MAX_ENTITY_KEY_LENGTH,
    _validate_length_limit,
    _validate_metric_name,
    validate_param_and_metric_name,
)

from kedro_metrics.config import DEFAULT_RETRY_SECONDS
from kedro_metrics.errors import StoreUnavailableError, TrackingError
from kedro_metrics.process import after_fork, state

T = TypeVar("T")

#: sqlite "database is locked" under parallel writers: retry this long at most.
_LOCKED_RETRY_SECONDS = 60.0
NO_RUN_HELP = (
    "There is no MLflow run to log to. Either pass `run_id` to the dataset, "
    "run the pipeline with `kedro run` with kedro-metrics installed (its hook "
    "starts a run), or call `mlflow.start_run()` before using the dataset."
)


def key_problem(key: str) -> str | None:
    """Why MLflow would refuse ``key`` as a metric name, or None when it is fine."""
    try:
        _validate_metric_name(key)
        _validate_length_limit("Metric name", MAX_ENTITY_KEY_LENGTH, key)
    except MlflowException as exc:
        return exc.message
    return None


def safe_key(name: str) -> str:
    """``name`` with each character MLflow refuses in a metric key replaced by ``_``."""
    return "".join(c if validate_param_and_metric_name(c) else "_" for c in name)


def resolve_uri(tracking_uri: str | None) -> str:
    """The given URI, else MLflow's current tracking URI."""
    return tracking_uri or mlflow.get_tracking_uri()


#: A URI's scheme (any, in any case, or none) and its authority (RFC 3986).
_AUTHORITY = re.compile(r"^(?P<scheme>[^:/?#]*:)?//(?P<authority>[^/?#]*)")


def _user_info(uri: str) -> tuple[int, int, str, str | None] | None:
    """Where the user-info of ``uri`` is (start, end), its user and its password (None
    without a colon); None when the URI has no user-info. Whatever the scheme, and
    however it is spelt: MLflow (and requests) read ``HTTP://user@host`` as http."""
    found = _AUTHORITY.match(uri)
    if found is None or "@" not in found["authority"]:
        return None
    user_info = found["authority"].rpartition("@")[0]
    if not user_info:
        return None
    start = found.start("authority")
    user, colon, password = user_info.partition(":")
    return start, start + len(user_info), user, password if colon else None


def redact(uri: str | None) -> str | None:
    """``uri`` without the secret of its user-info part, whatever its scheme: a
    password becomes *** (``https://user:***@host``), a user name without a password
    (a token) is replaced whole (``https://***@host``). The rest stays as written."""
    if not uri:
        return uri
    found = _user_info(uri)
    if found is None:
        return uri
    start, end, user, password = found
    shown = f"{user}:***" if password else "***"
    return f"{uri[:start]}{shown}{uri[end:]}"


def _uri_secrets(uri: str) -> list[str]:
    """The secret of the URI's user-info (its password, else its user name: a token),
    as written and percent-decoded."""
    found = _user_info(uri)
    if found is None:
        return []
    _, _, user, password = found
    secret = password or user
    return [secret, unquote(secret)] if secret else []


def client_for(tracking_uri: str | None) -> MlflowClient:
    """One cached client per tracking URI (a client holds a store and its pool).

    A sqlite URI whose file is not a database fails at once (``sqlite_file_problem``):
    MLflow would try to open it for a minute and a half before giving up."""
    uri = resolve_uri(tracking_uri)
    with state.lock:
        client = state.clients.get(uri)
        if client is None:
            problem = sqlite_file_problem(uri)
            if problem is not None:
                raise TrackingError(
                    f"Could not open the MLflow store at {redact(uri)}: {problem}. Move it "
                    "away (MLflow creates a new database where there is none), or set "
                    "metrics.yml `tracking_uri` / MLFLOW_TRACKING_URI to another store."
                )
            if _user_info(uri) is not None:
                # MLflow prints "View run ... at: <URI>" when a run ends: credentials
                # and all. Its own switch turns those lines off.
                os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"
            client = state.clients[uri] = MlflowClient(tracking_uri=uri)
    return client


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
    if _scheme(uri) != "sqlite" or not uri.lower().startswith("sqlite:///"):
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


def is_local(uri: str) -> bool:
    """True for a store on this machine (a sqlite file, a file store): no spool needed."""
    scheme = _scheme(uri)
    return scheme in ("", "file", "sqlite") or len(scheme) == 1  # C:\\ on Windows


def is_server(uri: str) -> bool:
    """True for a tracking server reached over HTTP(S) (``HTTP://`` too, as MLflow)."""
    return _scheme(uri) in ("http", "https")


def _scheme(uri: str) -> str:
    """The URI's scheme in lower case ("" for none): MLflow ignores its case."""
    return uri.split(":", 1)[0].lower() if ":" in uri else ""


def active_run_id() -> str | None:
    """The id of the calling thread's active MLflow run, if any."""
    run = mlflow.active_run()
    return run.info.run_id if run else None


# Errors and retries --------------------------------------------------------------

_UNREACHABLE_HINT = (
    "Check that the server is running and reachable, or set MLFLOW_TRACKING_URI / "
    "metrics.yml `tracking_uri` to one that is."
)


def _retried(uri: str) -> str:
    """What retried a failed request to a server first: the process's retry budget
    (``kedro run``, ``kedro metrics``: MLflow's own retries are off there), else
    MLflow's own retries, as many as MLFLOW_HTTP_REQUEST_MAX_RETRIES allows. Nothing
    for another store (no HTTP: MLflow retries nothing)."""
    if not is_server(uri):
        return ""
    seconds = retry_budget().seconds
    if seconds is not None:
        return (
            f" It was retried until the retry budget of {seconds:g} s "
            "(metrics.yml `retry_seconds`) was spent."
        )
    retries = MLFLOW_HTTP_REQUEST_MAX_RETRIES.get()
    unbudgeted = " No retry budget applies here (`kedro run` and `kedro metrics` set one)"
    if not retries:
        return f"{unbudgeted}, and MLflow did not retry it (MLFLOW_HTTP_REQUEST_MAX_RETRIES=0)."
    times = "time" if retries == 1 else "times"
    return (
        f"{unbudgeted}: MLflow retried it up to {retries} {times} first "
        "(MLFLOW_HTTP_REQUEST_MAX_RETRIES)."
    )


@contextlib.contextmanager
def translated_errors(uri: str, action: str) -> Iterator[None]:
    """Turn MLflow and connection failures into a TrackingError that says what to do."""
    try:
        yield
    except StoreUnavailableError:
        raise
    except (MlflowException, OSError, http.client.HTTPException, json.JSONDecodeError) as exc:
        # requests' connection errors are OSErrors; a proxy's HTML page where MLflow
        # expected JSON is a JSONDecodeError
        raise tracking_error(uri, action, exc) from cause(uri, exc)


def tracking_error(uri: str, action: str, exc: Exception) -> TrackingError:
    """A TrackingError saying what failed and what to do; a StoreUnavailableError
    when a retry could fix it later (the spool keeps the points meanwhile)."""
    detail = scrub(exc.message if isinstance(exc, MlflowException) else str(exc), uri)
    unreachable = isinstance(exc, OSError) or "Max retries exceeded" in detail
    hint = f" {_UNREACHABLE_HINT}{_retried(uri)}" if unreachable else ""
    kind = StoreUnavailableError if retryable(exc) else TrackingError
    return kind(f"Could not {action} at MLflow tracking URI {redact(uri)}: {detail}{hint}")


def cause(uri: str, exc: Exception) -> Exception | None:
    """The exception to chain: none when the original could show credentials in a
    printed traceback."""
    return None if _secrets(uri) else exc


def retry_when_locked(call: Callable[[], T]) -> T:
    """Retry ``call`` while sqlite says "database is locked" (parallel writers, or a
    fresh process creating the store while another writes).

    Safe to repeat: MLflow writes a batch in one transaction, and a point it
    already holds (same key, value, step and timestamp) is not stored twice.
    """
    deadline = time.monotonic() + _LOCKED_RETRY_SECONDS
    delay = 0.05
    while True:
        try:
            return call()
        except Exception as exc:  # SQLAlchemy's OperationalError too, at store creation
            if "database is locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 1.0)


class RetryBudget:
    """The time one process (one ``kedro run``) may spend waiting on a failing
    tracking server, shared by every request: start, saves and end together.

    A request that fails in a way a retry can fix (no connection, a 5xx or 429, a
    response lost or cut after sending: MLflow ignores the identical rows of a
    resent batch) is retried with backoff while the budget lasts. Once it is spent
    the store counts as unavailable and every later request fails at once, so a
    dead server costs a run the budget, not MLflow's minutes of retries per request.
    """

    def __init__(self, seconds: float | None = None):
        #: None until ``configure_retries`` (the hook, ``sync``): until then one
        #: attempt per request with MLflow's own retries (a notebook, a script), and
        #: ours only for an answer lost or cut short, which MLflow does not retry.
        self.seconds = seconds
        self._spent = 0.0
        self._lock = threading.Lock()

    def reset(self, seconds: float) -> None:
        with self._lock:
            self.seconds, self._spent = seconds, 0.0

    @property
    def exhausted(self) -> bool:
        with self._lock:
            return self.seconds is not None and self._spent >= self.seconds

    def call(self, uri: str, action: str, call: Callable[[], T]) -> T:
        if self.seconds is None:
            return _retry_lost_answers(call)
        if self.exhausted:
            raise StoreUnavailableError(
                f"Could not {action} at MLflow tracking URI {redact(uri)}: the store kept "
                f"failing for the whole retry budget ({self.seconds:g} s, metrics.yml "
                "`retry_seconds`), so this run no longer waits for it."
            )
        delay = 0.25
        while True:
            started = time.monotonic()
            try:
                return call()
            except Exception as exc:
                if not retryable(exc):
                    raise
                with self._lock:
                    self._spent += time.monotonic() - started
                    left = (self.seconds or 0.0) - self._spent
                if left <= 0:
                    raise
            pause = min(delay, left)
            time.sleep(pause)
            with self._lock:
                self._spent += pause
            delay = min(delay * 2, 4.0)


def _retry_lost_answers(call: Callable[[], T]) -> T:
    """``call``, sent again while its answer is lost or cut short, for up to
    ``DEFAULT_RETRY_SECONDS`` (MLflow's own retries cover refused connections and
    5xx answers, not a response that breaks off; a resent batch stores nothing twice)."""
    deadline = time.monotonic() + DEFAULT_RETRY_SECONDS
    delay = 0.25
    while True:
        try:
            return call()
        except Exception as exc:
            if not answer_lost(exc) or time.monotonic() + delay > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 4.0)


#: How requests and urllib3 say a response broke off after the request was sent.
_LOST_ANSWER = ("IncompleteRead", "Connection broken", "RemoteDisconnected", "Connection aborted")


def answer_lost(exc: BaseException) -> bool:
    """Was the request sent and its answer lost or cut short? Then the server may have
    done what was asked (a batch may be stored): resending it is safe, and a message
    must not call it unwritten."""
    if isinstance(exc, (http.client.IncompleteRead, http.client.RemoteDisconnected)):
        return True
    return any(sign in str(exc) for sign in _LOST_ANSWER)


def retry_budget() -> RetryBudget:
    """The process's retry budget (the hook and ``sync`` set it from metrics.yml
    ``retry_seconds``)."""
    return state.get("retry_budget", RetryBudget)


def retryable(exc: BaseException) -> bool:
    """Could sending the same request again succeed? Connection failures, lost or
    cut responses, 5xx and 429 answers: yes. MLflow refusing the request: no."""
    if isinstance(exc, MlflowException):
        status = exc.get_http_status_code()
        # MLflow maps connection failures to 500
        return status >= HTTPStatus.INTERNAL_SERVER_ERROR or status == HTTPStatus.TOO_MANY_REQUESTS
    return isinstance(exc, (OSError, http.client.HTTPException, ValueError))


def with_retries(uri: str, action: str, call: Callable[[], T]) -> T:
    """``call`` with the retries its store needs, errors translated: a tracking
    server within the process's retry budget; a database while it is locked."""
    with translated_errors(uri, action):
        if is_server(uri):
            return retry_budget().call(uri, action, call)
        return retry_when_locked(call)


def configure_retries(seconds: float, *, request_timeout: float | None = None) -> None:
    """Give this process a fresh retry budget of ``seconds``, and make each of
    MLflow's own HTTP requests give up at once (we retry) and time out within
    ``request_timeout`` (default: the budget, at most 30 s). Explicit
    MLFLOW_HTTP_REQUEST_* variables win."""
    retry_budget().reset(seconds)
    timeout = min(seconds, 30) if request_timeout is None else request_timeout
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    os.environ.setdefault(_TIMEOUT_VARIABLE, str(max(1, int(timeout))))


_TIMEOUT_VARIABLE = "MLFLOW_HTTP_REQUEST_TIMEOUT"


@contextlib.contextmanager
def request_timeout(seconds: float) -> Iterator[None]:
    """Within the block, no HTTP request to MLflow waits longer than ``seconds`` (a
    shorter time-out already set stays). For a single-threaded moment, such as the
    start of ``kedro run``: the setting is the process's."""
    before = os.environ.get(_TIMEOUT_VARIABLE)
    limit = max(1, int(seconds))
    if before is not None and before.isdigit() and int(before) <= limit:
        yield
        return
    os.environ[_TIMEOUT_VARIABLE] = str(limit)
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(_TIMEOUT_VARIABLE, None)
        else:
            os.environ[_TIMEOUT_VARIABLE] = before


def _secrets(uri: str) -> list[str]:
    """The URI's password and MLflow's credential variables, where set."""
    found = _uri_secrets(uri)
    found += [os.environ.get(n) for n in ("MLFLOW_TRACKING_PASSWORD", "MLFLOW_TRACKING_TOKEN")]
    # the longest first: a secret that holds another is replaced whole
    return sorted({secret for secret in found if secret}, key=len, reverse=True)


def scrub(message: str, uri: str) -> str:
    """``message`` with every secret of ``_secrets`` replaced by ***."""
    for secret in _secrets(uri):
        message = message.replace(secret, "***")
    return message


def _dispose_engines_after_fork() -> None:
    """A forked worker must not share the parent's pooled database connections."""
    module = sys.modules.get("mlflow.store.tracking.sqlalchemy_store")
    engines = getattr(getattr(module, "SqlAlchemyStore", None), "_engine_map", {})
    for engine in list(engines.values()):
        engine.dispose(close=False)


after_fork(_dispose_engines_after_fork)
