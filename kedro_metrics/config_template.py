"""The metrics.yml that `kedro metrics init` writes: every key, commented out, with
what it does and its default. Pure: no I/O, no kedro, no mlflow.
"""

from __future__ import annotations

from kedro_metrics.config import DEFAULT_RETRY_SECONDS, SYNC_ON_START_SECONDS

_TEMPLATE = """\
# kedro-metrics settings: see "The hook" in the kedro-metrics docs (docs/hook.md).
# Every key is optional; conf/<env>/metrics.yml overrides this file key by key.

# Where MLflow stores runs. Beats MLFLOW_TRACKING_URI.
# Default: sqlite:///<project root>/mlflow.db (no server needed).
# tracking_uri: http://127.0.0.1:5000

# Experiment of the runs. Beats MLFLOW_EXPERIMENT_NAME. Default: the package name.
# experiment: my-experiment

# Name of the runs the hook starts: a name or a template of {{pipeline}}, {{env}},
# {{session_id}} and {{start_time}}. Default: the pipeline name(s) and the start time.
# run_name: "{{pipeline}} {{start_time}}"

# Tags added to the runs the hook starts (besides kedro.session_id, kedro.pipeline,
# kedro.env and kedro.runner, which are always set).
# tags:
#   team: forecasting

# Pipelines run without tracking: their metrics datasets log nothing.
# disabled_pipelines:
#   - data_processing

# Let save() return before MLflow has the points; the hook waits for them at the
# end of the pipeline (and on error), so nothing is lost.
# async_logging: false

# Kubeflow Pipelines v1 (docs/kubeflow.md): metrics whose key matches a glob, or
# declared `format: percent` under `metrics:`, are shown as PERCENTAGE (the value is
# never scaled; `percentage` is the older spelling of `format: percent`); with
# metrics_file, every `kedro run` writes the last value of its metrics there, also
# when a node fails.
# Version 2 writes the scalar metrics as the task's Output[Metrics] (named by
# `output`) into its executor output: metrics_file, else the outputFile of the
# executor input in KFP_EXECUTOR_INPUT (which turns version 2 on by itself).
# kubeflow:
#   percentage: ["*accuracy*"]
#   metrics_file: /mlpipeline-metrics.json
#   version: 1
#   output: metrics

# What metrics mean (docs/meaning.md): the first glob matching a key, in file order,
# gives its direction (max: higher is better, min), its format (percent, raw or a
# Python format spec such as .4f) and the summaries logged at the run's end as
# <key>.<summary> (min, max, mean, best, first, last).
# metrics:
#   "*loss*": {{direction: min, format: ".4f", summary: [min, last]}}
#   "*accuracy*": {{direction: max, format: percent}}

# Log the run's Kedro parameters (--params included) as MLflow params.
# log_params: true

# Log each node's function time as kedro.node.<node name>.seconds (docs/lineage.md).
# node_timings: false

# Never lose a metric (docs/reliability.md). Points for a tracking server are spooled
# here before they are sent; `kedro metrics sync` delivers what MLflow did not confirm.
# spool_dir: .kedro_metrics/spool
# The most one `kedro run` waits on a failing server, all requests together.
# retry_seconds: {retry_seconds:g}
# spool: keep what failed in the spool and go on; raise: fail the save.
# on_tracking_error: spool
# Deliver earlier runs' spools when `kedro run` starts (within ~{sync_on_start_seconds:g} s).
# sync_on_start: true
# offline: nothing reaches the store until `kedro metrics sync` (also KEDRO_METRICS_MODE).
# mode: online
"""
#: What `kedro metrics init` writes: every key of metrics.yml, commented out, with
#: the defaults defined here.
METRICS_YML_TEMPLATE = _TEMPLATE.format(
    retry_seconds=DEFAULT_RETRY_SECONDS, sync_on_start_seconds=SYNC_ON_START_SECONDS
)
