"""Kedro settings: the defaults.

Nothing here mentions kedro-metrics: installing the plugin registers its hook
(entry point ``kedro.hooks``), and conf/base/catalog.yml says which outputs are metrics.
"""

CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
}
