"""batched-metrics: the train metrics compute on whole batches.

The literal loop runs the post-transforms case by case (MONAI's post-transforms take one
case: their channel is dim 0) and calls each metric on the list of cases, which it
computes case by case. Here the metric inputs the post-transforms give are stacked back
into batches (`batched()` in the script), so each metric computes once a batch. That
needs a loop that decollates the prediction and the label only (the post-transforms and
metric inputs name no other key of the batch; a config whose post-transforms read the
image, such as Invertd or SaveImaged, keeps the literal batch). A MONAI metric gives a
batch the values it gives its cases (`IterationMetric._compute_list` computes each case
as a batch of one and concatenates), so the numbers are the same.
"""

from __future__ import annotations

from claragen.transpiler.optimize.base import Change, Skip
from claragen.transpiler.targets.plain_script import PlainScript

NAME = "batched-metrics"
EXACT_ON_CPU = True  # see the module's docstring


def apply(script: PlainScript) -> Change | Skip:
    assert script.fast is not None
    if not script.train.metrics:
        return Skip(NAME, "the trainer has no train metrics")
    whole = [m.label for m in script.train.metrics if not m.per_case]
    if whole:
        return Skip(NAME, f"the train metric {whole[0]!r} computes on what it is given "
                          "at once (a batch's loss is not the mean of its cases')")  # fmt: skip
    if not script.train.pred_label_only:
        shown = ", ".join(repr(k) for k in script.train.other_keys[:4])
        return Skip(NAME, f"the train post-transforms or metrics name {shown}, which "
                          "may be a key of the batch besides pred and label")  # fmt: skip
    script.fast.batched_metrics = True
    return Change(
        NAME,
        "the train metrics compute on whole batches: the cases' inputs are stacked",
        "one metric call a batch, not one a case",
    )
