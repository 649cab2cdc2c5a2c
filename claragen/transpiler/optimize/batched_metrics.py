"""batched-metrics: the train metrics no longer decollate the images of every batch, and
compute on whole batches.

The literal loop puts the inputs back into the batch and decollates all of it (images,
labels, predictions and their metadata) into per-case items for the post-transforms and
the metrics, every iteration, and each metric then computes case by case. Here only the
prediction and the label are decollated, which is all the metrics read, so each
iteration skips splitting and copying the images; the post-transforms still run per case
(MONAI's post-transforms take one case: their channel is dim 0), and the metric inputs
they give are stacked back into batches (`batched()` in the script), so each metric
computes once a batch. That holds only when the train post-transforms and metric inputs
name no other key: a config whose post-transforms read the image (Invertd, SaveImaged)
keeps the literal batch. A MONAI metric gives a batch the values it gives its cases
(`IterationMetric._compute_list` computes each case as a batch of one and concatenates),
so the numbers are the same.
"""

from __future__ import annotations

import ast

from claragen.transpiler.optimize.base import Change, Skip, block
from claragen.transpiler.targets.plain_script import PlainScript

NAME = "batched-metrics"
EXACT_ON_CPU = True  # see the module's docstring
READ = {"pred", "label"}


def strings(code: str) -> set[str]:
    try:
        tree = ast.parse(code, mode="eval")
    except SyntaxError:
        return {"?"}
    return {n.value for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str)}  # fmt: skip


def apply(script: PlainScript) -> Change | Skip:
    assert script.fast is not None
    if not script.train.metrics:
        return Skip(NAME, "the trainer has no train metrics")
    named: set[str] = set()
    if script.train.post is not None:
        post = block(script, script.train.post)
        if post is None:
            return Skip(NAME, "the train post-transforms are not built by the script")
        codes = [i.code for i in post.items] if post.items else [post.code]
        for code in codes:
            named |= strings(code)
    for metric in script.train.metrics:
        named |= strings(metric.inputs)
    other = sorted(named - READ)
    if other:
        shown = ", ".join(repr(s) for s in other[:4])
        return Skip(NAME, f"the train post-transforms or metrics name {shown}, which "
                          "may be a key of the batch besides pred and label")  # fmt: skip
    script.fast.light_decollate = True
    return Change(
        NAME,
        "the train metrics decollate the prediction and the label only, not the "
        "images, and compute on whole batches",
        "no per-iteration split and copy of the input images, one metric call a batch",
    )
