"""The filter language of ``kedro metrics runs --where/--sort``, and its MLflow form.

Pure: standard library only, no mlflow, no kedro, no I/O. ``parse_condition`` reads
one ``KEY OP VALUE`` expression into a ``Condition``, ``to_filter_string`` writes
conditions as the filter string of an MLflow run search (the store filters in its
own search), ``parse_sort`` reads a ``KEY[:asc|:desc]`` sort and ``order_by`` writes
it as MLflow ``order_by`` clauses.

Keys:

================  ==========================  ==========================
written           compares                    takes
================  ==========================  ==========================
``params.NAME``   the run's parameter NAME    ``=`` ``!=`` and a text
``tags.NAME``     the run's tag NAME          ``=`` ``!=`` and a text
``status``        the run's status            ``=`` ``!=`` and a status
anything else     the metric's last value     any operator and a number
================  ==========================  ==========================

MLflow reads a quoted value verbatim (no escapes), so a text goes in single quotes,
or in double quotes when it holds a single quote; a text holding both, or ending in a
backslash, cannot be matched and is refused.

A malformed expression raises ``FilterError``: ``Cannot filter by {expr!r}: {reason}.``
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from kedro_metrics.errors import FilterError

#: Comparison operators, longest first: at one position ``>=`` is matched before ``>``.
OPERATORS = (">=", "<=", "!=", ">", "<", "=")
#: The operators params, tags and the status take.
EQUALITY_OPERATORS = ("=", "!=")
#: MLflow's run statuses (``mlflow.entities.RunStatus``), restated: this module
#: imports no mlflow.
RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")

METRIC, PARAM, TAG, STATUS = "metric", "param", "tag", "status"
#: Sort orders a ``--sort`` key may force.
ORDERS = ("asc", "desc")

_OPERATOR_START = frozenset("<>=!")
_PARAMS_PREFIX, _TAGS_PREFIX = "params.", "tags."
_QUOTES = ("'", '"')
_ORDER_OF_DIRECTION = {"max": "DESC", "min": "ASC", None: "DESC"}
_TIE_BREAK = ["attributes.start_time DESC", "attributes.run_id ASC"]


# Conditions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One ``KEY OP VALUE`` expression, checked: which part of a run it compares
    (``kind`` and ``key``), how, and with what."""

    text: str
    kind: str
    key: str
    op: str
    value: float | str


def parse_condition(expr: str) -> Condition:
    """``expr`` (``KEY OP VALUE``) as a Condition; FilterError naming the bad part.

    The operator starts at the first of ``<>=!`` in ``expr``, the longest operator
    there wins; KEY and VALUE are trimmed and one pair of matching quotes around
    VALUE is removed.

    >>> parse_condition("model_metrics.accuracy>0.9")
    Condition(text='model_metrics.accuracy>0.9', kind='metric', key='model_metrics.accuracy', op='>', value=0.9)
    >>> parse_condition("params.lr = '0.1'").value
    '0.1'
    """
    if not isinstance(expr, str):
        raise FilterError(f"Cannot filter by {expr!r}: an expression is a string.")
    raw_key, op, raw_value = _split(expr)
    kind, key = _kind_and_key(expr, raw_key)
    if kind != METRIC and op not in EQUALITY_OPERATORS:
        raise _filter_error(expr, _EQUALITY_ONLY[kind])
    return Condition(expr, kind, key, op, _checked_value(expr, kind, _unquoted(raw_value)))


def to_filter_string(conditions: Sequence[Condition]) -> str:
    """The MLflow search filter that keeps runs meeting every condition: the
    conditions joined with `` AND ``, ``""`` for none.

    >>> to_filter_string([parse_condition("a.b >= 1"), parse_condition("tags.team != ml")])
    "metrics.`a.b` >= 1.0 AND tags.`team` != 'ml'"
    """
    return " AND ".join(_clause(condition) for condition in conditions)


def _split(expr: str) -> tuple[str, str, str]:
    """(key, operator, value) of ``expr``, key and value trimmed."""
    start, op = _operator(expr)
    key, value = expr[:start].strip(), expr[start + len(op) :].strip()
    if not key:
        raise _filter_error(expr, "no key before the operator")
    if not value:
        raise _filter_error(expr, "no value after the operator")
    return key, op, value


def _operator(expr: str) -> tuple[int, str]:
    """(position, operator): the longest operator at the first of ``<>=!``."""
    start = next((i for i, char in enumerate(expr) if char in _OPERATOR_START), -1)
    op = next((op for op in OPERATORS if start >= 0 and expr.startswith(op, start)), None)
    if op is None:
        raise _filter_error(expr, "no operator (> >= < <= = !=)")
    return start, op


def _kind_and_key(expr: str, key: str) -> tuple[str, str]:
    """What ``key`` names: (kind, metric key / param name / tag name / "status")."""
    if "`" in key:
        raise _filter_error(expr, "a key cannot hold a backtick")
    if key.lower() == STATUS:
        return STATUS, STATUS
    for kind, prefix, noun in ((PARAM, _PARAMS_PREFIX, "parameter"), (TAG, _TAGS_PREFIX, "tag")):
        if key.startswith(prefix):
            name = key[len(prefix) :]
            if not name:
                raise _filter_error(expr, f"no {noun} name after {prefix!r}")
            return kind, name
    return METRIC, key


_EQUALITY_ONLY = {
    PARAM: "params take only = and !=",
    TAG: "tags take only = and !=",
    STATUS: "status takes only = and !=",
}


def _unquoted(value: str) -> str:
    """``value`` without one pair of matching quotes around it, if it has them."""
    if len(value) >= 2 and value[0] in _QUOTES and value[-1] == value[0]:  # noqa: PLR2004
        return value[1:-1]
    return value


def _checked_value(expr: str, kind: str, value: str) -> float | str:
    """The value a condition of ``kind`` compares with: a finite float for a metric,
    an upper-cased run status, a text MLflow's filter can hold otherwise."""
    if kind == METRIC:
        return _number(expr, value)
    if kind == STATUS:
        return _status(expr, value)
    problem = _text_problem(value)
    if problem:
        raise _filter_error(expr, problem)
    return value


def _number(expr: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        raise _filter_error(expr, f"{value!r} is not a number")
    return number


def _status(expr: str, value: str) -> str:
    status = value.upper()
    if status not in RUN_STATUSES:
        raise _filter_error(expr, f"{value!r} is not a run status ({', '.join(RUN_STATUSES)})")
    return status


def _text_problem(value: str) -> str | None:
    """Why MLflow's filter cannot hold ``value``, None when it can.

    MLflow takes a quoted value verbatim (no escapes): a value holds at most one kind
    of quote (the other one quotes it), and cannot end in a backslash (``\\'`` would
    run on into the next condition).
    """
    if "'" in value and '"' in value:
        return "a value cannot hold both ' and \""
    if value.endswith("\\"):
        return "a value cannot end in a backslash"
    return None


def _clause(condition: Condition) -> str:
    """One condition in MLflow's filter syntax."""
    if "`" in condition.key:
        raise _filter_error(condition.text, "a key cannot hold a backtick")
    if condition.kind == STATUS:
        return f"attributes.status {condition.op} {_quoted(condition, str(condition.value))}"
    if condition.kind == METRIC:
        return f"metrics.`{condition.key}` {condition.op} {_number_text(condition.value)}"
    prefix = _PARAMS_PREFIX if condition.kind == PARAM else _TAGS_PREFIX
    return f"{prefix}`{condition.key}` {condition.op} {_quoted(condition, str(condition.value))}"


def _number_text(value: float | str) -> str:
    """``repr(float(value))``, a positive exponent written without its ``+``
    (``1e16``): MLflow's filter parser refuses ``1e+16``."""
    return repr(float(value)).replace("e+", "e")


def _quoted(condition: Condition, value: str) -> str:
    """``value`` in single quotes, or in double quotes when it holds a single quote."""
    problem = _text_problem(value)
    if problem:
        raise _filter_error(condition.text, problem)
    return f'"{value}"' if "'" in value else f"'{value}'"


def _filter_error(expr: str, reason: str) -> FilterError:
    return FilterError(f"Cannot filter by {expr!r}: {reason}.")


# Sorting --------------------------------------------------------------------------


@dataclass(frozen=True)
class Sort:
    """A ``--sort`` key: a metric (or summary) key, and the order it forces (None: the
    order the key's direction gives)."""

    key: str
    order: str | None = None


def parse_sort(text: str) -> Sort:
    """``KEY``, ``KEY:asc`` or ``KEY:desc`` (suffix in any case) as a Sort.

    Only a final ``:asc``/``:desc`` is a suffix; any other colon belongs to the key.
    Only metric keys sort runs: ``params.X``, ``tags.X`` and ``status`` are refused.

    >>> parse_sort("val:loss:ASC")
    Sort(key='val:loss', order='asc')
    """
    if not isinstance(text, str):
        raise _sort_error(text, "a sort key is a string")
    key, order = text.strip(), None
    head, colon, suffix = key.rpartition(":")
    if colon and suffix.strip().lower() in ORDERS:
        key, order = head.strip(), suffix.strip().lower()
    if not key:
        raise _sort_error(text, "no key")
    if "`" in key:
        raise _sort_error(text, "a key cannot hold a backtick")
    if key.lower() == STATUS or key.startswith((_PARAMS_PREFIX, _TAGS_PREFIX)):
        raise _sort_error(text, "only metric keys sort runs")
    return Sort(key, order)


def sort_order(sort: Sort, direction: str | None) -> str:
    """``"ASC"`` or ``"DESC"``: the order ``sort`` forces, else best first by the key's
    ``direction`` (``"max"``: DESC, ``"min"``: ASC), DESC when it has none."""
    if sort.order is not None:
        return sort.order.upper()
    try:
        return _ORDER_OF_DIRECTION[direction]
    except KeyError:
        raise ValueError(
            f"Unknown direction {direction!r}: expected 'max', 'min' or None."
        ) from None


def order_by(sort: Sort, direction: str | None) -> list[str]:
    """MLflow ``order_by`` clauses: by the metric in ``sort_order``, then ties newest
    first (start time, then run id)."""
    return [f"metrics.`{sort.key}` {sort_order(sort, direction)}", *_TIE_BREAK]


def _sort_error(text: object, reason: str) -> FilterError:
    return FilterError(f"Cannot sort by {text!r}: {reason}.")
