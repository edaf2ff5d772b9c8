"""kedro_metrics.config: the metrics.yml schema, defaults and precedence."""

from __future__ import annotations

import dataclasses

import pytest

from kedro_metrics.config import (
    DEFAULT_SQLITE_NAME,
    KubeflowConfig,
    MetricsConfig,
    experiment_name,
    offline,
    spool_dir,
    tracking_uri,
)
from kedro_metrics.errors import ConfigError, KedroMetricsError

SOURCE = "conf/local/metrics.yml"
KEYS = (
    "tracking_uri", "experiment", "run_name", "tags", "disabled_pipelines", "async_logging",
    "kubeflow", "log_params", "node_timings",
    "spool_dir", "retry_seconds", "on_tracking_error", "sync_on_start", "mode", "metrics",
    "gates", "baseline", "check",
)  # fmt: skip


def parse(data):
    return MetricsConfig.parse(data, source=SOURCE)


def config_error(data) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        parse(data)
    return caught.value


class TestParse:
    @pytest.mark.parametrize("data", [None, {}], ids=["none", "empty"])
    def test_defaults(self, data):
        """A missing or empty metrics.yml gives every default."""
        config = parse(data)
        assert config == MetricsConfig()
        assert config.tracking_uri is None
        assert config.experiment is None
        assert config.run_name is None
        assert dict(config.tags) == {}
        assert config.disabled_pipelines == ()
        assert config.async_logging is False

    def test_every_key(self):
        """Every documented key is read into its field."""
        config = parse(
            {
                "tracking_uri": "http://127.0.0.1:5000",
                "experiment": "exp",
                "run_name": "nightly",
                "tags": {"team": "ml"},
                "disabled_pipelines": ["debug", "etl"],
                "async_logging": True,
            }
        )
        assert config == MetricsConfig(
            tracking_uri="http://127.0.0.1:5000",
            experiment="exp",
            run_name="nightly",
            tags={"team": "ml"},
            disabled_pipelines=("debug", "etl"),
            async_logging=True,
        )

    def test_schema_is_the_documented_keys(self):
        """The config has exactly the keys docs/hook.md lists for metrics.yml."""
        assert tuple(f.name for f in dataclasses.fields(MetricsConfig)) == KEYS

    def test_config_is_frozen(self):
        """MetricsConfig is immutable."""
        with pytest.raises(dataclasses.FrozenInstanceError):
            parse({}).experiment = "x"  # type: ignore[misc]

    def test_null_values_mean_defaults(self):
        """Keys present with null values (``key:`` in YAML) take their defaults."""
        config = parse({"tracking_uri": None, "tags": None, "disabled_pipelines": None})
        assert config == MetricsConfig()

    def test_input_is_not_modified(self):
        """parse does not change the mapping it is given."""
        data = {"tags": {"a": 1}, "disabled_pipelines": ["x"]}
        parse(data)
        assert data == {"tags": {"a": 1}, "disabled_pipelines": ["x"]}

    def test_unknown_key(self):
        """An unknown key is an error naming the key, the file and the accepted keys."""
        error = config_error({"experiment": "e", "trackin_uri": "x"})
        assert error.key == "trackin_uri"
        message = str(error)
        assert "'trackin_uri'" in message
        assert SOURCE in message
        assert all(key in message for key in KEYS)

    def test_config_error_is_a_value_error(self):
        """ConfigError belongs to the package's errors and is a ValueError."""
        assert issubclass(ConfigError, KedroMetricsError)
        assert issubclass(ConfigError, ValueError)

    @pytest.mark.parametrize(
        ("key", "value"),
        [
            ("tracking_uri", 5),
            ("tracking_uri", ["http://x"]),
            ("experiment", 3.5),
            ("experiment", True),
            ("run_name", {"a": 1}),
            ("async_logging", "yes"),
            ("async_logging", 1),
            ("async_logging", None),
            ("tags", ["a", "b"]),
            ("tags", "team=ml"),
            ("disabled_pipelines", "debug"),
            ("disabled_pipelines", {"debug": True}),
        ],
    )
    def test_wrong_type(self, key, value):
        """A value of the wrong type is an error naming the key, the file and the value."""
        error = config_error({key: value})
        assert error.key == key
        message = str(error)
        assert repr(key) in message
        assert SOURCE in message
        assert repr(value) in message

    @pytest.mark.parametrize("value", [None, ["a"], {"b": 1}])
    def test_tag_value_of_wrong_type(self, value):
        """A tag value must be a string or a number; the error names the tag and the file."""
        error = config_error({"tags": {"team": value}})
        assert error.key == "tags"
        assert "'team'" in str(error)
        assert SOURCE in str(error)

    def test_disabled_pipelines_must_be_names(self):
        """disabled_pipelines must list strings; the error names the key and the file."""
        error = config_error({"disabled_pipelines": ["ok", 3]})
        assert error.key == "disabled_pipelines"
        assert "'disabled_pipelines'" in str(error)
        assert SOURCE in str(error)

    def test_tags_are_stringified(self):
        """Tag names and values (numbers and booleans) become strings."""
        config = parse({"tags": {"team": "ml", "version": 2, "ratio": 0.5, "prod": True, 7: "x"}})
        assert dict(config.tags) == {
            "team": "ml",
            "version": "2",
            "ratio": "0.5",
            "prod": "True",
            "7": "x",
        }

    def test_disabled_pipelines_become_a_tuple(self):
        """disabled_pipelines is kept, in order, as a tuple."""
        assert parse({"disabled_pipelines": ["b", "a"]}).disabled_pipelines == ("b", "a")
        assert parse({"disabled_pipelines": ("c",)}).disabled_pipelines == ("c",)


class TestTracks:
    CONFIG = MetricsConfig(disabled_pipelines=("debug", "etl"))

    def test_enabled_pipeline(self):
        """A pipeline not listed is tracked."""
        assert self.CONFIG.tracks(["training"])

    def test_disabled_pipeline(self):
        """A listed pipeline is not tracked."""
        assert not self.CONFIG.tracks(["debug"])

    def test_all_listed(self):
        """A run whose pipelines are all listed is not tracked."""
        assert not self.CONFIG.tracks(["debug", "etl"])

    def test_some_listed(self):
        """A run with at least one pipeline not listed is tracked."""
        assert self.CONFIG.tracks(["debug", "training"])

    @pytest.mark.parametrize("names", [None, []])
    def test_default_pipeline(self, names):
        """No pipeline names means __default__, tracked unless listed."""
        assert self.CONFIG.tracks(names)
        assert not MetricsConfig(disabled_pipelines=("__default__",)).tracks(names)

    def test_nothing_disabled(self):
        """With no disabled pipelines every run is tracked."""
        assert MetricsConfig().tracks(["debug"])


class TestTrackingUri:
    def test_metrics_yml_wins(self):
        """metrics.yml tracking_uri beats MLFLOW_TRACKING_URI."""
        config = MetricsConfig(tracking_uri="http://from-yml:5000")
        environ = {"MLFLOW_TRACKING_URI": "http://from-env:5000"}
        assert tracking_uri(config, environ, "/proj") == "http://from-yml:5000"

    def test_environment_beats_default(self):
        """Without metrics.yml tracking_uri, MLFLOW_TRACKING_URI is used."""
        environ = {"MLFLOW_TRACKING_URI": "http://from-env:5000"}
        assert tracking_uri(MetricsConfig(), environ, "/proj") == "http://from-env:5000"

    def test_default_is_sqlite_in_the_project(self):
        """With neither, the store is sqlite:///<project>/mlflow.db."""
        assert DEFAULT_SQLITE_NAME == "mlflow.db"
        assert (
            tracking_uri(MetricsConfig(), {}, "/home/me/proj")
            == "sqlite:////home/me/proj/mlflow.db"
        )

    def test_default_ignores_a_trailing_slash(self):
        """A trailing slash on the project path does not double the separator."""
        assert (
            tracking_uri(MetricsConfig(), {}, "/home/me/proj/")
            == "sqlite:////home/me/proj/mlflow.db"
        )

    def test_other_environment_variables_are_ignored(self):
        """Only MLFLOW_TRACKING_URI counts."""
        environ = {"MLFLOW_EXPERIMENT_NAME": "x", "TRACKING_URI": "http://nope"}
        assert tracking_uri(MetricsConfig(), environ, "/p") == "sqlite:////p/mlflow.db"


class TestExperimentName:
    def test_metrics_yml_wins(self):
        """metrics.yml experiment beats MLFLOW_EXPERIMENT_NAME."""
        environ = {"MLFLOW_EXPERIMENT_NAME": "env-exp"}
        assert experiment_name(MetricsConfig(experiment="yml-exp"), environ, "pkg") == "yml-exp"

    def test_environment_beats_package_name(self):
        """Without metrics.yml experiment, MLFLOW_EXPERIMENT_NAME is used."""
        environ = {"MLFLOW_EXPERIMENT_NAME": "env-exp"}
        assert experiment_name(MetricsConfig(), environ, "pkg") == "env-exp"

    def test_default_is_the_package_name(self):
        """With neither, the experiment is the project's package name."""
        assert experiment_name(MetricsConfig(), {}, "spaceflights") == "spaceflights"


class TestRunNameTemplate:
    """run_name templates are checked when metrics.yml is parsed."""

    @pytest.mark.parametrize(
        "template",
        ["nightly", "{pipeline}", "{pipeline}-{env}-{session_id}-{start_time}", "a {{literal}}"],
    )
    def test_known_fields_pass(self, template):
        """Plain names and the four fields are accepted as given."""
        assert parse({"run_name": template}).run_name == template

    @pytest.mark.parametrize(
        ("template", "field"),
        [("{pipe}", "pipe"), ("x {user} y", "user"), ("{0}", "0"), ("{}", "")],
    )
    def test_unknown_field_names_the_field_and_the_file(self, template, field):
        """An unknown field is a ConfigError naming the field, the template and the file."""
        error = config_error({"run_name": template})
        assert str(error) == (
            f"Unknown field {{{field}}} in 'run_name' in {SOURCE}: {template!r}; "
            "a run name may use {pipeline}, {env}, {session_id}, {start_time}."
        )
        assert error.key == "run_name"

    @pytest.mark.parametrize(
        "template", ["{start_time:%Y%m%d}", "{pipeline:>12} {start_time:%H%M}", "{env!r}"]
    )
    def test_format_specs_that_render_pass(self, template):
        assert parse({"run_name": template}).run_name == template

    @pytest.mark.parametrize(("template", "why"), [
        ("{pipeline:%Y}", "Invalid format specifier"),
        ("{session_id:d}", "Unknown format code 'd' for object of type 'str'"),
        ("{pipeline.upper}", None),
    ])  # fmt: skip
    def test_a_spec_that_cannot_render_is_a_config_error(self, template, why):
        """Caught when metrics.yml is read, not as a bare ValueError at run start."""
        if why is None:  # an attribute is an unknown field in Formatter's eyes
            assert config_error({"run_name": template}).key == "run_name"
            return
        error = config_error({"run_name": template})
        assert str(error).startswith(f"'run_name' in {SOURCE} cannot be rendered ({why}")
        assert str(error).endswith(
            f"{template!r}; {{start_time}} takes a strftime format ({{start_time:%Y%m%d}}), "
            "the other fields are text."
        )
        assert error.key == "run_name"

    def test_broken_template(self):
        """An unbalanced brace is a ConfigError saying how to write a literal one."""
        error = config_error({"run_name": "run {pipeline"})
        assert "'run_name' in conf/local/metrics.yml is not a valid template" in str(error)
        assert "write {{ and }} for literal braces" in str(error)


class TestLogParams:
    def test_default_is_on(self):
        """Parameters are logged unless metrics.yml says log_params: false."""
        assert parse({}).log_params is True
        assert parse({"log_params": False}).log_params is False

    def test_must_be_a_boolean(self):
        """log_params: "no" is a ConfigError naming the key."""
        assert str(config_error({"log_params": "no"})) == (
            f"'log_params' in {SOURCE} must be true or false, got 'no'."
        )


class TestKubeflow:
    """metrics.yml `kubeflow`: percentage globs and the metrics file path."""

    def test_defaults(self):
        """Without the key: no percentage globs, no metrics file."""
        assert parse({}).kubeflow == KubeflowConfig(percentage=(), metrics_file=None)

    def test_parsed(self):
        """Both sub-keys are read."""
        got = parse(
            {"kubeflow": {"percentage": ["*accuracy*"], "metrics_file": "/mlpipeline-metrics.json"}}
        )
        assert got.kubeflow == KubeflowConfig(("*accuracy*",), "/mlpipeline-metrics.json")

    @pytest.mark.parametrize(
        ("value", "says"),
        [
            ({"percent": ["x"]}, "Unknown key 'kubeflow.percent'"),
            (
                {"percentage": "*acc*"},
                "'kubeflow.percentage' in conf/local/metrics.yml must be a list",
            ),
            (
                {"metrics_file": 3},
                "'kubeflow.metrics_file' in conf/local/metrics.yml must be a file path",
            ),
            (["x"], "'kubeflow' in conf/local/metrics.yml must be a mapping"),
        ],
    )
    def test_errors_name_the_key_and_file(self, value, says):
        """A bad sub-key or value is a ConfigError naming it and the file."""
        error = config_error({"kubeflow": value})
        assert says in str(error)
        assert error.key == "kubeflow"


class TestSpoolSettings:
    """The spool's keys: checked values, and the spool directory's precedence."""

    def test_defaults(self):
        """Online, spool on errors, 15 s of retries, sync at start."""
        config = parse({})
        assert (config.mode, config.on_tracking_error, config.retry_seconds, config.sync_on_start) == (
            "online", "spool", 15.0, True,
        )  # fmt: skip

    @pytest.mark.parametrize(
        ("key", "value"),
        [("mode", "offlin"), ("on_tracking_error", "ignore"), ("retry_seconds", -1),
         ("retry_seconds", True), ("sync_on_start", "yes"), ("spool_dir", 3)],
    )  # fmt: skip
    def test_bad_values_name_the_key(self, key, value):
        """A wrong value is a ConfigError naming the key, the value and the file."""
        error = config_error({key: value})
        assert error.key == key
        assert repr(value) in str(error) and SOURCE in str(error)

    @pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 1e400, 86400.5])
    def test_retry_seconds_is_a_finite_budget(self, value):
        """YAML's .nan, .inf and 1e400 (inf as a float) used to pass and crash `kedro run`:
        a ConfigError names the key, the allowed range and the file."""
        error = config_error({"retry_seconds": value})
        assert error.key == "retry_seconds"
        assert "from 0 to 86400" in str(error) and SOURCE in str(error)

    @pytest.mark.parametrize("value", [0, 0.5, 86400])
    def test_retry_seconds_bounds_are_accepted(self, value):
        assert parse({"retry_seconds": value}).retry_seconds == value

    def test_spool_dir_precedence(self):
        """metrics.yml > KEDRO_METRICS_SPOOL_DIR > <project>/.kedro_metrics/spool;
        relative paths are taken from the project."""
        env = {"KEDRO_METRICS_SPOOL_DIR": "/var/spool/km"}
        assert spool_dir(parse({"spool_dir": "s"}), env, "/p") == "/p/s"
        assert spool_dir(parse({}), env, "/p") == "/var/spool/km"
        assert spool_dir(parse({}), {}, "/p/") == "/p/.kedro_metrics/spool"
        assert spool_dir(None, {}, "/cwd") == "/cwd/.kedro_metrics/spool"

    def test_offline_from_file_or_environment(self):
        """mode: offline, or KEDRO_METRICS_MODE=offline, means offline."""
        assert offline(parse({"mode": "offline"}), {})
        assert offline(parse({}), {"KEDRO_METRICS_MODE": "OFFLINE"})
        assert not offline(parse({}), {"KEDRO_METRICS_MODE": "online"})
