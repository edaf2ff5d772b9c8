"""metrics_example: a numpy logistic regression whose metrics kedro-metrics logs to MLflow."""

__version__ = "0.1"
