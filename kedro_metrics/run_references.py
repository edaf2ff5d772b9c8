"""The pure core of run references: what names a run, parsed and resolved.

Standard library only: no kedro, no mlflow, no I/O. ``reading.references`` fetches
the runs and runs the searches; the functions here parse a reference and pick the run
it names among runs already read (``records.Run``).

A **run reference** names a run: a full run id, a unique prefix of at least
``MIN_PREFIX`` characters, ``latest``, or ``latest~N`` (the N-th run before the
latest, newest by start time, whatever the status); or a search of FINISHED runs,
``branch:NAME``, ``tag:KEY=VALUE`` or ``best:KEY``, with an optional ``~N`` (see
``parse_reference``). ``resolve_reference`` and ``resolve_search`` pick the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kedro_metrics.errors import RunReferenceError
from kedro_metrics.records import Run, iso_utc

#: The shortest run-id prefix accepted as a run reference.
MIN_PREFIX = 6
#: Length of an MLflow run id (a UUID4 in hex); shorter references are prefixes.
FULL_ID_LENGTH = 32

_LATEST = re.compile(r"^latest(?:~(?P<back>\d+))?$")
#: The kinds of a search reference: the run(s) a run search finds, counted with ``~N``.
BRANCH, TAG, BEST = "branch", "tag", "best"
#: The only status a search reference finds.
SEARCHED_STATUS = "FINISHED"

_ACCEPTED = (
    f"give a run id, a unique prefix of at least {MIN_PREFIX} characters of one, 'latest' "
    "or 'latest~N' (the N-th run before the latest), 'branch:NAME' (the newest FINISHED "
    "run of that git branch), 'tag:KEY=VALUE' (the newest FINISHED run with that tag) or "
    "'best:KEY' (the FINISHED run with the best last value of metric KEY), each of the "
    "last three with an optional '~N' (the N-th run after it)"
)
_SEARCH = re.compile(r"^(?P<kind>branch|tag|best):(?P<body>.*?)(?:~(?P<back>\d+))?$", re.DOTALL)


@dataclass(frozen=True)
class RunReference:
    """A parsed run reference.

    ``search`` None: ``back`` set for ``latest~back``, else ``text`` is an id or a
    prefix. ``search`` set (``BRANCH``, ``TAG``, ``BEST``): the ``back``-th run
    (0: the first) a search of FINISHED runs finds, for ``BRANCH`` the runs whose git
    branch tag is ``value``, for ``TAG`` those whose tag ``key`` is ``value``, for
    ``BEST`` those holding metric ``key``, best last value first.
    """

    text: str
    back: int | None = None
    search: str | None = None
    key: str | None = None
    value: str | None = None

    @property
    def is_latest(self) -> bool:
        return self.search is None and self.back is not None

    @property
    def is_full_id(self) -> bool:
        return self.search is None and self.back is None and len(self.text) == FULL_ID_LENGTH

    @property
    def is_search(self) -> bool:
        return self.search is not None

    @property
    def base(self) -> str:
        """The reference without its ``~N``: what ``~0`` names (``branch:main``)."""
        return self.text if self.back is None else self.text.rpartition("~")[0]


def parse_reference(text: str) -> RunReference:
    """A run reference, one of:

    - ``latest``, ``latest~N``: the newest run by start time, whatever its status,
      or the N-th before it;
    - a full run id, or a prefix of >= ``MIN_PREFIX`` characters of one;
    - ``branch:NAME``: the newest FINISHED run whose git branch tag (the one the hook
      sets) is NAME;
    - ``tag:KEY=VALUE``: the newest FINISHED run whose tag KEY is VALUE, split at the
      first ``=`` (KEY may not hold one, VALUE may). KEY and VALUE are taken verbatim
      and neither may be empty: an empty VALUE is refused, as an unset variable
      (``tag:commit=$SHA``) would give it;
    - ``best:KEY``: the FINISHED run with the best last value of metric KEY by its
      direction (ties: the newest);

    each search form with an optional final ``~N``, the N-th run after the one it
    names (``branch:main~1`` the second newest, ``best:loss~2`` the third best). A
    final ``~`` and digits is always that count: a tag value cannot end in one.

    Raises:
        RunReferenceError: for anything else, saying what is accepted.
    """
    if not isinstance(text, str):
        raise RunReferenceError(f"A run reference must be a string, got {text!r}.")
    text = text.strip()
    latest = _LATEST.match(text)
    if latest:
        return RunReference(text, back=int(latest["back"] or 0))
    search = _SEARCH.match(text)
    if search:
        back = None if search["back"] is None else int(search["back"])
        return _search_reference(text, search["kind"], search["body"], back)
    if len(text) < MIN_PREFIX or not re.fullmatch(r"[0-9A-Za-z_-]+", text):
        raise RunReferenceError(f"Run reference {text!r} is not valid: {_ACCEPTED}.")
    return RunReference(text.lower())  # MLflow's run ids are lower-case hex


def _search_reference(text: str, kind: str, body: str, back: int | None) -> RunReference:
    """The reference of a ``branch:``, ``tag:`` or ``best:`` form, its parts checked."""
    if kind == BRANCH:
        if not body:
            raise _malformed(
                text, "'branch:NAME' needs a NAME, as in 'branch:main' or 'branch:main~1'"
            )
        return RunReference(text, back, BRANCH, value=body)
    if kind == TAG:
        key, equals, value = body.partition("=")
        if not equals:
            raise _malformed(text, "'tag:KEY=VALUE' needs '=' after the KEY, as in 'tag:team=ml'")
        if not key:
            raise _malformed(text, "'tag:KEY=VALUE' needs a KEY before the '='")
        if not value:
            raise _malformed(
                text, "'tag:KEY=VALUE' needs a VALUE after the '=' (is a variable unset?)"
            )
        if "`" in key:
            raise _malformed(text, "a tag key cannot hold a backtick")
        return RunReference(text, back, TAG, key=key, value=value)
    if not body:
        raise _malformed(text, "'best:KEY' needs a metric KEY, as in 'best:loss' or 'best:loss~1'")
    if "`" in body:
        raise _malformed(text, "a metric key cannot hold a backtick")
    return RunReference(text, back, BEST, key=body)


def _malformed(text: str, reason: str) -> RunReferenceError:
    return RunReferenceError(f"Run reference {text!r} is not valid: {reason}.")


def resolve_reference(reference: RunReference, runs: Sequence[Run], *, where: str) -> Run:
    """The run ``reference`` names among ``runs`` (newest first by start time).

    ``where`` says where ``runs`` come from (experiment, tracking URI), for errors.
    Search references resolve with ``resolve_search``.

    Raises:
        RunReferenceError: no such run, or a prefix shared by several runs (the
            message lists the candidates).
    """
    if reference.back is not None:
        if reference.back < len(runs):
            return runs[reference.back]
        count = len(runs)
        raise RunReferenceError(
            f"No run {reference.text!r}: {where} has {count} run{'' if count == 1 else 's'}"
            f"{'' if count == 0 else f' (latest~{count - 1} is the oldest)'}."
        )
    candidates = [run for run in runs if run.run_id.startswith(reference.text)]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        raise RunReferenceError(f"No run matches {reference.text!r} in {where}.")
    listed = ", ".join(
        f"{run.run_id} ({run.run_name}, {iso_utc(run.start_time)})" for run in candidates
    )
    raise RunReferenceError(
        f"Run reference {reference.text!r} is ambiguous: {len(candidates)} runs in {where} "
        f"start with it; give more characters. Candidates: {listed}."
    )


def resolve_search(
    reference: RunReference, found: Sequence[Run], *, searched: str, where: str
) -> list[Run]:
    """The runs from the one a search reference names on, of ``found`` (what its
    search found, in its order): ``found[back:]``.

    ``searched`` says what was looked for (``tag team = 'ml'``, ``metric 'loss'``),
    ``where`` the experiment and the tracking URI, for errors.

    Raises:
        RunReferenceError: the search found no run, or fewer than ``back + 1``
            (saying how many it found).
    """
    back = reference.back or 0
    if back < len(found):
        return list(found[back:])
    if not found:
        raise RunReferenceError(f"No {SEARCHED_STATUS} run with {searched} in {where}.")
    count = len(found)
    last = "worst" if reference.search == BEST else "oldest"
    oldest = reference.base if count == 1 else f"{reference.base}~{count - 1}"
    raise RunReferenceError(
        f"No run {reference.text!r}: {where} has {count} {SEARCHED_STATUS} "
        f"run{'' if count == 1 else 's'} with {searched} ({oldest} is the {last})."
    )


def deepest_latest(references: Iterable[RunReference]) -> int:
    """How many newest runs resolving ``references`` needs (0: none)."""
    return max((ref.back + 1 for ref in references if ref.is_latest), default=0)
