"""context_project: the Kedro project of the run-context e2e tests."""

__version__ = "0.1"
