"""The reading wing: metrics back out of MLflow.

``query`` holds ``get_metrics`` and run resolution (store reads in, records out),
``formats`` the pinned JSON/CSV documents, tables' cells and the Kubeflow file
(pure), ``figures`` the data of pictures (pure), ``render`` draws them with
matplotlib (the only module that imports it). Independent of ``delivery``.
"""
