"""e2e_project: the Kedro project the kedro-metrics e2e tests run."""

__version__ = "0.1"
