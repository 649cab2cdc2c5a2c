"""Clara metric components (ignite/MONAI handler metrics) -> `monai.metrics` objects.

The plain loop computes metrics itself, so each handler metric maps to the cumulative
`monai.metrics` class that computes the same number, with its args renamed:

    {"name": "MeanDice", "args": {"include_background": false}}
    -> DiceMetric(include_background=False, reduction="mean")
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MetricRule:
    """How one handler metric lowers."""

    metric: str  # class in monai.metrics (or written out into the script)
    keep: tuple[str, ...]  # args passed through unchanged
    fixed: tuple[tuple[str, object], ...] = ()  # args the lowered metric always gets
    note: str | None = None
    written: bool = False  # the class is the script's own (claragen.transpiler.written)
    per_case: bool = True  # a batch gives it what its cases give (optimize: batched)


# Handler metric name -> rule. `output_transform` is applied by the loop, not passed on.
METRICS: dict[str, MetricRule] = {
    "MeanDice": MetricRule(
        "DiceMetric",
        ("include_background", "reduction", "num_classes"),
        (("reduction", "mean"),),
    ),
    "Accuracy": MetricRule(
        "ConfusionMatrixMetric",
        (),
        (("metric_name", "accuracy"),),
        note="ignite Accuracy on one-hot outputs: the accuracy over their entries, as ignite computes it (ConfusionMatrixMetric)",
    ),
    "MeanIoUHandler": MetricRule(
        "MeanIoU", ("include_background", "reduction"), (("reduction", "mean"),)
    ),
    "ROCAUC": MetricRule("ROCAUCMetric", ("average",)),
    "HausdorffDistance": MetricRule(
        "HausdorffDistanceMetric",
        (
            "include_background",
            "distance_metric",
            "percentile",
            "directed",
            "reduction",
        ),
    ),
    "SurfaceDistance": MetricRule(
        "SurfaceDistanceMetric",
        ("include_background", "symmetric", "distance_metric", "reduction"),
    ),
    "ConfusionMatrix": MetricRule(
        "ConfusionMatrixMetric",
        ("include_background", "metric_name", "compute_sample", "reduction"),
    ),
    # Clara 3.x's NegLoss averaged: the script's own class is both a handler metric
    # and a cumulative metric, which the loop calls as it calls MONAI's
    "ClaraNegLoss": MetricRule(
        "ClaraNegLoss", ("loss", "negate_value"), written=True, per_case=False
    ),
}
