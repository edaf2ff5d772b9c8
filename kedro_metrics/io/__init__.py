"""The io wing: the Kedro datasets.

``datasets`` holds ``MlflowMetricsDataSet`` and ``MlflowMetricDataSet`` (thin),
``run_dataset`` what both share (which run and store, errors as ``DatasetError``),
``preview`` their Kedro-Viz preview, ``data_digest`` the digest of the data they
were evaluated on, ``foreign_arguments`` other tools' arguments they refuse with
what to write instead. A save validates, then hands the batch to
``delivery``; a load reads through ``store``. Import the datasets from
``kedro_metrics`` (``kedro_metrics.MlflowMetricsDataSet``).
"""
