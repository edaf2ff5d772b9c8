"""Kedro settings: the defaults. The kedro-metrics hook registers itself through
its entry point; nothing is configured here on purpose."""

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
