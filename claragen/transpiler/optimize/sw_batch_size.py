"""sw-batch-size: sliding-window validation runs 4 windows at a time on CUDA.

SlidingWindowInferer's `sw_batch_size` windows go through the network together; one at a
time (MONAI's default, and most configs') leaves a large GPU idle between small batches.
On the CPU the config's value is kept. Batching windows does not change what each window
computes (on the GPU, up to the convolution algorithm chosen for the batch size).
"""

from __future__ import annotations

import ast

from claragen.transpiler.optimize.base import (
    Change,
    Skip,
    block,
    call_of,
    callee,
    expr,
    keyword,
    note,
    set_code,
)
from claragen.transpiler.targets.plain_script import PlainScript

NAME = "sw-batch-size"
EXACT_ON_CPU = True  # see the module's docstring
ON_DEVICE = 4
INFERERS = ("SlidingWindowInferer", "monai.inferers.SlidingWindowInferer")


def apply(script: PlainScript) -> Change | Skip:
    if script.val is None:
        return Skip(NAME, "the config has no validation")
    target = block(script, script.val.inferer)
    call = call_of(target.code) if target is not None else None
    if target is None or call is None or callee(call) not in INFERERS:
        return Skip(NAME, "validation does not use SlidingWindowInferer")
    given = keyword(call, "sw_batch_size")
    if given is not None and not (
        isinstance(given.value, ast.Constant)
        and isinstance(given.value.value, int)
        and given.value.value < ON_DEVICE
    ):
        return Skip(
            NAME, f"the config's sw_batch_size={ast.unparse(given.value)} is kept"
        )
    was = ast.unparse(given.value) if given is not None else "1"
    value = expr(f'{ON_DEVICE} if device.type == "cuda" else {was}')
    if given is not None:
        given.value = value
    else:
        call.keywords.append(ast.keyword("sw_batch_size", value))
    set_code(target, call, note(NAME, f"{ON_DEVICE} windows at a time on CUDA"))
    return Change(
        NAME,
        f"SlidingWindowInferer(sw_batch_size={ON_DEVICE}) on CUDA (the config: {was})",
        "the network takes several windows at once and the GPU stays busy",
        "none: each window computes the same (on the GPU, up to the convolution "
        "algorithm chosen for the batch)",
    )
