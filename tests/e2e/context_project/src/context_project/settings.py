"""Kedro settings: the defaults; the kedro-metrics hook registers itself."""
