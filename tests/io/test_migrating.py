"""Coming from kedro-mlflow or Kedro's removed tracking.MetricsDataset (issue 19): a
catalog entry that keeps their arguments gets a DatasetError naming the equivalent
here (docs/migrating.md), not "unexpected keyword argument 'save_args'"."""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog, DatasetError

from kedro_metrics import MlflowMetricDataSet, MlflowMetricsDataSet

SEE = "See docs/migrating.md in the kedro-metrics repository."


def save_args_error(cls: str, equivalent: str) -> str:
    return f"{cls} takes no `save_args` (a kedro-mlflow argument): {equivalent}. {SEE}"


@pytest.mark.parametrize(
    ("save_args", "equivalent"),
    [
        ({"mode": "append"}, "`save_args: {mode: append}` is `steps: continue` here"),
        (
            {"mode": "overwrite"},
            "`save_args: {mode: overwrite}` has no equivalent to write: values are logged "
            "at the steps they give (a number at step 0), so leave it out",
        ),
        (
            {"step": 3},
            '`save_args: {step: 3}` is a point here: save {"value": <number>, "step": 3}',
        ),
        (
            {"mode": "dict"},
            "`save_args: {mode: dict}` ({step: value}) is a list of points here: save "
            '[{"value": <number>, "step": <step>}, ...]',
        ),
    ],
)
def test_save_args_names_the_equivalent(save_args, equivalent):
    with pytest.raises(DatasetError) as raised:
        MlflowMetricsDataSet(prefix="m", save_args=save_args)
    assert str(raised.value) == save_args_error("MlflowMetricsDataSet", equivalent)


def test_save_args_of_the_single_metric_dataset():
    with pytest.raises(DatasetError) as raised:
        MlflowMetricDataSet(key="loss", save_args={"mode": "append"})
    assert str(raised.value) == save_args_error(
        "MlflowMetricDataSet", "`save_args: {mode: append}` is `steps: continue` here"
    )


def test_several_save_args_are_each_named():
    with pytest.raises(DatasetError) as raised:
        MlflowMetricDataSet(key="loss", save_args={"mode": "append", "step": 2})
    assert str(raised.value) == save_args_error(
        "MlflowMetricDataSet",
        "`save_args: {mode: append}` is `steps: continue` here; `save_args: {step: 2}` is "
        'a point here: save {"value": <number>, "step": 2}',
    )


def test_filepath_of_kedro_s_tracking_dataset():
    """tracking.MetricsDataset wrote a JSON file; here the flat dict goes to MLflow."""
    with pytest.raises(DatasetError) as raised:
        MlflowMetricsDataSet(filepath="data/09_tracking/metrics.json")
    assert str(raised.value) == (
        "MlflowMetricsDataSet takes no `filepath` (Kedro's tracking.MetricsDataset wrote "
        "a JSON file): the metrics go to MLflow; remove `filepath`, the node's flat dict "
        f"of numbers is saved as it is. {SEE}"
    )


class TestThroughTheCatalog:
    """What `kedro run` meets: the catalog built from conf/base/catalog.yml."""

    def test_save_args_in_a_catalog_entry(self):
        config = {
            "model_metrics": {
                "type": "kedro_metrics.MlflowMetricsDataset",
                "save_args": {"mode": "append"},
            }
        }
        with pytest.raises(DatasetError) as raised:
            DataCatalog.from_config(config)["model_metrics"]
        message = str(raised.value)
        assert (
            save_args_error(
                "MlflowMetricsDataSet", "`save_args: {mode: append}` is `steps: continue` here"
            )
            in message
        )
        assert "'model_metrics'" in message
        assert "unexpected keyword argument" not in message

    def test_the_equivalent_works(self):
        config = {
            "model_metrics": {"type": "kedro_metrics.MlflowMetricsDataset", "steps": "continue"}
        }
        dataset = DataCatalog.from_config(config)["model_metrics"]
        assert dataset._describe()["steps"] == "continue"

    def test_an_argument_nobody_has_is_still_refused_as_unknown(self):
        config = {"m": {"type": "kedro_metrics.MlflowMetricsDataset", "prefx": "x"}}
        with pytest.raises(DatasetError) as raised:
            DataCatalog.from_config(config)["m"]
        assert "unexpected keyword argument 'prefx'" in str(raised.value)
