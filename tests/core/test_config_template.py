"""config_template: the metrics.yml `kedro metrics init` writes."""

from __future__ import annotations

from kedro_metrics.config import MetricsConfig

SOURCE = "conf/local/metrics.yml"


class TestTemplate:
    """`kedro metrics init`'s template: a commented `# metrics:` block that, uncommented,
    is a valid declaration with direction, format and summary."""

    def test_the_metrics_block_uncommented_parses(self):
        import yaml

        from kedro_metrics.config_template import METRICS_YML_TEMPLATE
        from kedro_metrics.meaning import Meaning

        lines = METRICS_YML_TEMPLATE.splitlines()
        start = lines.index("# metrics:")
        block = [lines[start][2:]]
        for line in lines[start + 1 :]:
            if not line.startswith("#   "):
                break
            block.append(line[2:])
        config = MetricsConfig.parse(yaml.safe_load("\n".join(block)), source=SOURCE)
        assert config.metrics.for_key("model_metrics.loss") == Meaning(
            direction="min", format=".4f", summary=("min", "last")
        )
        assert config.metrics.for_key("test.accuracy") == Meaning(direction="max", format="percent")
