"""kedro_metrics.filters: the --where parser and its MLflow filter strings, --sort and
its order_by clauses, with exact strings and exact messages for bad input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kedro_metrics.errors import FilterError, KedroMetricsError
from kedro_metrics.filters import (
    OPERATORS,
    RUN_STATUSES,
    Condition,
    Sort,
    order_by,
    parse_condition,
    parse_sort,
    sort_order,
    to_filter_string,
)
from tests import strategies

NO_OPERATOR = "no operator (> >= < <= = !=)"
NOT_A_STATUS = "is not a run status (RUNNING, SCHEDULED, FINISHED, FAILED, KILLED)"


def message_of(expr: object) -> str:
    """The message of the FilterError ``parse_condition(expr)`` raises."""
    with pytest.raises(FilterError) as caught:
        parse_condition(expr)  # type: ignore[arg-type]
    return str(caught.value)


def sort_message_of(text: object) -> str:
    """The message of the FilterError ``parse_sort(text)`` raises."""
    with pytest.raises(FilterError) as caught:
        parse_sort(text)  # type: ignore[arg-type]
    return str(caught.value)


def quoted_for_expression(value: str) -> str:
    """``value`` in quotes an expression removes: double unless it holds one."""
    return f"'{value}'" if '"' in value else f'"{value}"'


class TestTranslation:
    """Each expression becomes exactly this MLflow filter."""

    @pytest.mark.parametrize(
        ("expr", "mlflow"),
        [
            ("model_metrics.accuracy>0.9", "metrics.`model_metrics.accuracy` > 0.9"),
            ("a.b >= 1", "metrics.`a.b` >= 1.0"),
            ("a.b<=1e-5", "metrics.`a.b` <= 1e-05"),
            ("x<=-2", "metrics.`x` <= -2.0"),
            ("x<-2", "metrics.`x` < -2.0"),
            ("x != 3", "metrics.`x` != 3.0"),
            ("x = '0.5'", "metrics.`x` = 0.5"),
            ('x = "0.5"', "metrics.`x` = 0.5"),
            ("x > 1e16", "metrics.`x` > 1e16"),
            ("x > -2.5e300", "metrics.`x` > -2.5e300"),
            ("x > 1_000", "metrics.`x` > 1000.0"),
            ("model_metrics.loss.min < 0.3", "metrics.`model_metrics.loss.min` < 0.3"),
            ("my metric/val_loss<0.3", "metrics.`my metric/val_loss` < 0.3"),
            ("val:loss > 0", "metrics.`val:loss` > 0.0"),
            ("PARAMS.lr > 1", "metrics.`PARAMS.lr` > 1.0"),
            ("params.lr = '0.1'", "params.`lr` = '0.1'"),
            ('params.lr="0.1"', "params.`lr` = '0.1'"),
            ("params.lr=0.1", "params.`lr` = '0.1'"),
            ("params.model != forest", "params.`model` != 'forest'"),
            ("params.name = ' padded '", "params.`name` = ' padded '"),
            ("params.name = ''", "params.`name` = ''"),
            ("params.name = it's", 'params.`name` = "it\'s"'),
            ('params.name = say "hi"', "params.`name` = 'say \"hi\"'"),
            ("params.path = C:\\tmp", "params.`path` = 'C:\\tmp'"),
            ("params.expr = a>=b", "params.`expr` = 'a>=b'"),
            ("params.my param = x", "params.`my param` = 'x'"),
            ("tags.team != ml", "tags.`team` != 'ml'"),
            ("tags.team=ml", "tags.`team` = 'ml'"),
            ("tags.kedro.pipeline = __default__", "tags.`kedro.pipeline` = '__default__'"),
            ("status=finished", "attributes.status = 'FINISHED'"),
            ("STATUS != Killed", "attributes.status != 'KILLED'"),
            ("Status = 'running'", "attributes.status = 'RUNNING'"),
        ],
    )
    def test_exact_filter(self, expr, mlflow):
        """The single condition's filter string is exactly this."""
        assert to_filter_string([parse_condition(expr)]) == mlflow

    def test_conditions_are_anded(self):
        """Several conditions are joined with `` AND ``, in the order given."""
        conditions = [parse_condition(e) for e in ("a > 1", "status = FAILED", "tags.t = x")]
        assert to_filter_string(conditions) == (
            "metrics.`a` > 1.0 AND attributes.status = 'FAILED' AND tags.`t` = 'x'"
        )

    def test_no_conditions_is_an_empty_filter(self):
        """No conditions: the empty filter string, which keeps every run."""
        assert to_filter_string([]) == ""
        assert to_filter_string(()) == ""

    def test_a_hand_built_key_with_a_backtick_is_refused(self):
        """A Condition built without the parser still never breaks out of backticks."""
        condition = Condition("x`y > 1", "metric", "x`y", ">", 1.0)
        with pytest.raises(FilterError, match="a key cannot hold a backtick"):
            to_filter_string([condition])


class TestParsing:
    """KEY OP VALUE: the operator is the longest one at the first of <>=!, key and
    value trimmed, one pair of matching quotes removed from the value."""

    @pytest.mark.parametrize("op", OPERATORS)
    def test_every_operator_with_and_without_spaces(self, op):
        """Each operator is recognised, with or without spaces around it."""
        for expr in (f"k{op}1", f"k {op} 1", f"  k   {op}1  "):
            found = parse_condition(expr)
            assert (found.key, found.op, found.value) == ("k", op, 1.0)

    def test_longest_operator_first(self):
        """``>=`` is read as one operator, not ``>`` then ``=1``."""
        assert parse_condition("k>=1").op == ">="
        assert parse_condition("k<=1").op == "<="
        assert parse_condition("k!=1").op == "!="

    def test_fields(self):
        """kind, key, op and value of each kind of key; text is the expression as given."""
        assert parse_condition("  params.lr   =  0.1 ") == Condition(
            "  params.lr   =  0.1 ", "param", "lr", "=", "0.1"
        )
        assert parse_condition("tags.team!=ml") == Condition(
            "tags.team!=ml", "tag", "team", "!=", "ml"
        )
        assert parse_condition("status = failed") == Condition(
            "status = failed", "status", "status", "=", "FAILED"
        )
        assert parse_condition("m.acc>0.5") == Condition("m.acc>0.5", "metric", "m.acc", ">", 0.5)

    @pytest.mark.parametrize(
        ("expr", "value"),
        [
            ("params.p = 'a'", "a"),
            ('params.p = "a"', "a"),
            ("params.p = ''a''", "'a'"),
            ("params.p = 'a'b", "'a'b"),
            ("params.p = 'a", "'a"),
            ("params.p = a'", "a'"),
            ("params.p = '", "'"),
            ("params.p = ' a b '", " a b "),
            ("params.p =  a b ", "a b"),
        ],
    )
    def test_one_pair_of_matching_quotes_is_removed(self, expr, value):
        """Only a matching pair around the whole value goes, and only one."""
        assert parse_condition(expr).value == value

    def test_a_dotted_summary_key_is_a_metric(self):
        """Summary keys (``KEY.min``...) are plain metric keys here."""
        found = parse_condition("model_metrics.loss.min <= 0.25")
        assert (found.kind, found.key) == ("metric", "model_metrics.loss.min")

    @pytest.mark.parametrize("status", RUN_STATUSES)
    def test_every_run_status_in_any_case(self, status):
        """Every MLflow run status is taken, whatever its case, and upper-cased."""
        assert parse_condition(f"status = {status.lower()}").value == status
        assert parse_condition(f"status != {status.title()}").value == status


class TestBadExpressions:
    """A malformed expression is a FilterError quoting it and naming the bad part."""

    @pytest.mark.parametrize(
        ("expr", "reason"),
        [
            ("accuracy", NO_OPERATOR),
            ("", NO_OPERATOR),
            ("accuracy ! 3", NO_OPERATOR),
            ("accuracy !3", NO_OPERATOR),
            ("> 0.9", "no key before the operator"),
            ("  = x", "no key before the operator"),
            ("=", "no key before the operator"),
            ("acc >", "no value after the operator"),
            ("acc >=   ", "no value after the operator"),
            ("params.lr =", "no value after the operator"),
            ("acc > ''", "'' is not a number"),
            ("acc > zzq", "'zzq' is not a number"),
            ("acc > '0.9", '"\'0.9" is not a number'),
            ("acc >> 0.9", "'> 0.9' is not a number"),
            ("acc == 0.9", "'= 0.9' is not a number"),
            ("acc =< 0.9", "'< 0.9' is not a number"),
            ("acc > 0.9 and loss < 1", "'0.9 and loss < 1' is not a number"),
            ("acc > nan", "'nan' is not a number"),
            ("acc > NaN", "'NaN' is not a number"),
            ("acc < inf", "'inf' is not a number"),
            ("acc < -inf", "'-inf' is not a number"),
            ("acc < infinity", "'infinity' is not a number"),
            ("acc < -Infinity", "'-Infinity' is not a number"),
            ("acc < 1e999", "'1e999' is not a number"),
            ("params.lr > 0.1", "params take only = and !="),
            ("params.lr >= 0.1", "params take only = and !="),
            ("tags.t <= x", "tags take only = and !="),
            ("tags.t < x", "tags take only = and !="),
            ("status > FAILED", "status takes only = and !="),
            ("STATUS >= FAILED", "status takes only = and !="),
            ("status = done", f"'done' {NOT_A_STATUS}"),
            ("status = ''", f"'' {NOT_A_STATUS}"),
            ("params. = 1", "no parameter name after 'params.'"),
            ("params.=1", "no parameter name after 'params.'"),
            ("tags.=1", "no tag name after 'tags.'"),
            ("a`b > 1", "a key cannot hold a backtick"),
            ("params.a`b = 1", "a key cannot hold a backtick"),
            ("tags.`t` = 1", "a key cannot hold a backtick"),
        ],
    )
    def test_message(self, expr, reason):
        """The message is ``Cannot filter by {expr!r}: {reason}.``."""
        assert message_of(expr) == f"Cannot filter by {expr!r}: {reason}."

    @pytest.mark.parametrize(
        ("expr", "reason"),
        [
            ('params.p = it\'s "x"', "a value cannot hold both ' and \""),
            ("tags.t = 'a\"b'c'", "a value cannot hold both ' and \""),
            ("params.p = C:\\", "a value cannot end in a backslash"),
            ("tags.t = 'a\\'", "a value cannot end in a backslash"),
        ],
    )
    def test_text_mlflow_cannot_match_is_refused(self, expr, reason):
        """MLflow reads quoted text verbatim: a value holding both kinds of quote, or
        ending in a backslash, cannot be written so that it matches."""
        assert message_of(expr) == f"Cannot filter by {expr!r}: {reason}."

    @pytest.mark.parametrize("expr", [3, None, b"a > 1", ["a > 1"]])
    def test_not_a_string(self, expr):
        """An expression that is not a string is a FilterError too."""
        assert message_of(expr) == f"Cannot filter by {expr!r}: an expression is a string."

    def test_is_a_value_error_and_a_kedro_metrics_error(self):
        """FilterError is caught as ValueError and as KedroMetricsError."""
        with pytest.raises(ValueError, match="no operator"):
            parse_condition("x")
        with pytest.raises(KedroMetricsError):
            parse_condition("x")


class TestProperties:
    """Any key of MLflow's characters, any finite float and any text MLflow can hold
    round-trip through the parser."""

    @given(strategies.filter_metric_keys, st.sampled_from(OPERATORS), strategies.finite_floats)
    def test_metric_round_trip(self, key, op, value):
        """``f"{key}{op}{value!r}"`` parses back to that key, op and value."""
        found = parse_condition(f"{key}{op}{value!r}")
        assert (found.kind, found.key, found.op, found.value) == ("metric", key, op, value)

    @given(strategies.filter_metric_keys, st.sampled_from(OPERATORS), strategies.finite_floats)
    def test_metric_filter_is_backticked_key_and_repr(self, key, op, value):
        """The filter is the backticked key, the op, and ``repr`` of the number
        (a positive exponent without its ``+``)."""
        text = to_filter_string([parse_condition(f"{key} {op} {value!r}")])
        assert text == f"metrics.`{key}` {op} {repr(value).replace('e+', 'e')}"
        assert float(text.rsplit(" ", 1)[1]) == value

    @given(
        st.sampled_from(["params", "tags"]),
        strategies.filter_metric_keys,
        st.sampled_from(["=", "!="]),
        strategies.filter_text_values,
    )
    def test_text_round_trip(self, prefix, name, op, value):
        """A quoted value comes back exactly, spaces and the other quote included."""
        found = parse_condition(f"{prefix}.{name} {op} {quoted_for_expression(value)}")
        assert (found.kind, found.key, found.op, found.value) == (prefix[:-1], name, op, value)

    @given(st.text(max_size=30))
    def test_any_text_parses_or_is_a_filter_error(self, expr):
        """Whatever the text, the parser returns a Condition or raises FilterError."""
        try:
            found = parse_condition(expr)
        except FilterError as exc:
            assert str(exc).startswith(f"Cannot filter by {expr!r}: ")
        else:
            assert found.op in OPERATORS
            assert to_filter_string([found])


class TestParseSort:
    """--sort KEY[:asc|:desc]: only a final :asc/:desc is an order, metric keys only."""

    @pytest.mark.parametrize(
        ("text", "sort"),
        [
            ("m.loss.min", Sort("m.loss.min", None)),
            ("m.loss:asc", Sort("m.loss", "asc")),
            ("m.loss:desc", Sort("m.loss", "desc")),
            ("m.loss:DESC", Sort("m.loss", "desc")),
            ("m.loss:Asc", Sort("m.loss", "asc")),
            (" m.loss : asc ", Sort("m.loss", "asc")),
            ("a:b", Sort("a:b", None)),
            ("a:b:asc", Sort("a:b", "asc")),
            ("a:asc:b", Sort("a:asc:b", None)),
            ("loss:ascending", Sort("loss:ascending", None)),
            ("asc", Sort("asc", None)),
            ("model_metrics.accuracy", Sort("model_metrics.accuracy", None)),
            ("Params.x", Sort("Params.x", None)),
            ("statuses", Sort("statuses", None)),
        ],
    )
    def test_parse(self, text, sort):
        """The key and the forced order (None: the key's direction decides)."""
        assert parse_sort(text) == sort

    @pytest.mark.parametrize(
        ("text", "reason"),
        [
            ("", "no key"),
            ("   ", "no key"),
            (":asc", "no key"),
            (" :DESC", "no key"),
            ("params.lr", "only metric keys sort runs"),
            ("params.lr:desc", "only metric keys sort runs"),
            ("tags.t:asc", "only metric keys sort runs"),
            ("status", "only metric keys sort runs"),
            ("STATUS:asc", "only metric keys sort runs"),
            ("a`b", "a key cannot hold a backtick"),
        ],
    )
    def test_bad(self, text, reason):
        """The message is ``Cannot sort by {text!r}: {reason}.``."""
        assert sort_message_of(text) == f"Cannot sort by {text!r}: {reason}."

    def test_not_a_string(self):
        """A sort that is not a string is a FilterError."""
        assert sort_message_of(3) == "Cannot sort by 3: a sort key is a string."

    @given(strategies.filter_metric_keys, st.sampled_from([None, "asc", "desc"]))
    def test_round_trip(self, key, order):
        """Any metric key, with or without an order, parses back to itself."""
        text = key if order is None else f"{key}:{order}"
        assert parse_sort(text) == Sort(key, order)


class TestSortOrder:
    """A forced order wins; else max sorts DESC, min ASC, no direction DESC."""

    @pytest.mark.parametrize(
        ("sort", "direction", "order"),
        [
            (Sort("k"), "max", "DESC"), (Sort("k"), "min", "ASC"), (Sort("k"), None, "DESC"),
            (Sort("k", "asc"), "max", "ASC"), (Sort("k", "asc"), None, "ASC"),
            (Sort("k", "asc"), "min", "ASC"), (Sort("k", "desc"), "min", "DESC"),
            (Sort("k", "desc"), "max", "DESC"), (Sort("k", "desc"), None, "DESC"),
        ],
    )  # fmt: skip
    def test_order(self, sort, direction, order):
        """The order for each forced order and direction."""
        assert sort_order(sort, direction) == order

    def test_unknown_direction(self):
        """A direction other than max, min or None is a programming error."""
        with pytest.raises(ValueError, match="Unknown direction 'up'"):
            sort_order(Sort("k"), "up")


class TestOrderBy:
    """order_by: the metric in its order, then ties newest first, then run id."""

    @pytest.mark.parametrize(
        ("sort", "direction", "first"),
        [
            (Sort("m.loss.min"), "min", "metrics.`m.loss.min` ASC"),
            (Sort("model_metrics.accuracy"), "max", "metrics.`model_metrics.accuracy` DESC"),
            (Sort("my key/x"), None, "metrics.`my key/x` DESC"),
            (Sort("a:b", "asc"), "max", "metrics.`a:b` ASC"),
        ],
    )
    def test_clauses(self, sort, direction, first):
        """Exactly three clauses: the metric, start time DESC, run id ASC."""
        assert order_by(sort, direction) == [
            first,
            "attributes.start_time DESC",
            "attributes.run_id ASC",
        ]
