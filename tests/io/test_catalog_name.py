"""A catalog entry's metrics dataset knows its name from Kedro's own factory, with no
hook: the name is its prefix (or key), as the hook would bind it."""

from __future__ import annotations

import pytest
from kedro.io import AbstractDataset, DataCatalog

from kedro_metrics import MlflowMetricDataSet, MlflowMetricsDataSet
from kedro_metrics.io.catalog_name import name_being_created

pytestmark = pytest.mark.filterwarnings("ignore:Since kedro-datasets 2.0:UserWarning")

METRICS = "kedro_metrics.MlflowMetricsDataSet"
METRIC = "kedro_metrics.MlflowMetricDataSet"


@pytest.fixture(scope="module")
def catalog() -> DataCatalog:
    """A catalog as Kedro-Viz without --include-hooks builds it: no hook runs."""
    return DataCatalog.from_config(
        {
            "model_metrics": {"type": METRICS},
            "holdout_accuracy": {"type": METRIC},
            "eval_metrics": {"type": METRICS, "prefix": "eval"},
            "flat_metrics": {"type": METRICS, "prefix": ""},
            "loss": {"type": METRIC, "key": "train.loss"},
            "{split}_metrics": {"type": METRICS},
        }
    )


class TestCatalogEntries:
    """DataCatalog.from_config: each entry's dataset has its name."""

    def test_an_entry_without_prefix_is_named_by_its_entry(self, catalog):
        """model_metrics saves and reads under model_metrics.*, labelled by its name."""
        dataset = catalog.get("model_metrics")
        assert (dataset.prefix, dataset._label) == ("model_metrics", "'model_metrics'")

    def test_an_entry_without_key_is_its_key(self, catalog):
        """MlflowMetricDataSet: the entry's name is its key."""
        assert catalog.get("holdout_accuracy").key == "holdout_accuracy"

    @pytest.mark.parametrize(
        ("name", "given"), [("eval_metrics", "eval"), ("flat_metrics", ""), ("loss", "train.loss")]
    )
    def test_an_explicit_prefix_or_key_wins(self, catalog, name, given):
        """prefix: eval, prefix: "" and key: train.loss stay as written."""
        assert catalog.get(name).metric_name == given

    def test_a_dataset_factory_name_is_the_resolved_name(self, catalog):
        """ "{split}_metrics" resolved for train_metrics: prefix train_metrics."""
        assert catalog.get("train_metrics").prefix == "train_metrics"

    def test_the_preview_scope_is_the_entry(self, catalog):
        """What the Kedro-Viz preview reads: the entry's metrics, names without it."""
        assert catalog.get("model_metrics")._preview_scope() == (
            "model_metrics.*",
            "model_metrics",
        )


class TestOutsideTheCatalog:
    """A dataset made in Python has no name until a hook or its arguments give one."""

    @pytest.mark.parametrize("cls", [MlflowMetricsDataSet, MlflowMetricDataSet])
    def test_no_name(self, cls):
        assert cls().metric_name is None

    def test_a_name_in_another_function_is_not_taken(self):
        """Only Kedro's from_config frame counts, not any caller with a `name`."""
        name = "not_a_catalog_name"

        def make() -> MlflowMetricsDataSet:
            return MlflowMetricsDataSet()

        assert (name, make().metric_name) == ("not_a_catalog_name", None)

    def test_outside_any_factory(self):
        """Called from a test, not from a constructor inside from_config: None."""
        assert name_being_created() is None

    def test_from_config_itself(self):
        """AbstractDataset.from_config directly, as DataCatalog calls it."""
        dataset = AbstractDataset.from_config("direct", {"type": METRICS})
        assert dataset.prefix == "direct"

    def test_a_dataset_kedro_wraps_gets_no_inner_name(self):
        """CachedDataset creates its inner dataset as "_cached": not an entry's name
        (Kedro drops catalog keys that begin with "_"), so it is not a prefix."""
        catalog = DataCatalog.from_config(
            {"cached_metrics": {"type": "CachedDataset", "dataset": {"type": METRICS}}}
        )
        inner = catalog.get("cached_metrics")._dataset
        assert (type(inner), inner.metric_name) == (MlflowMetricsDataSet, None)
