"""non-blocking: pinned memory in the loaders and non-blocking copies to the device.

A batch in pinned (page-locked) host memory is copied to the GPU by DMA while the GPU
still computes, instead of the copy holding the Python thread. On the CPU pinning is off
and `non_blocking` changes nothing, so the script computes the same numbers.
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

NAME = "non-blocking"
EXACT_ON_CPU = True  # see the module's docstring
LOADERS = ("DataLoader", "ThreadDataLoader", "monai.data.DataLoader",
           "monai.data.ThreadDataLoader", "torch.utils.data.DataLoader")  # fmt: skip


def apply(script: PlainScript) -> Change | Skip:
    assert script.fast is not None
    sections = [script.train] + ([script.val] if script.val is not None else [])
    pinned, kept = [], []
    for section in sections:
        target = block(script, section.loader)
        call = call_of(target.code) if target is not None else None
        if target is None or call is None or callee(call) not in LOADERS:
            continue
        if section.loader in script.fast.device_loaders:
            continue  # device-cache: its batches are on the device already
        if keyword(call, "pin_memory") is not None:
            kept.append(section.loader)
            continue
        call.keywords.append(ast.keyword("pin_memory", expr('device.type == "cuda"')))
        set_code(
            target, call, note(NAME, "pinned batches on CUDA, copied without a wait")
        )
        pinned.append(section.loader)
    script.fast.non_blocking = True
    what = "batches copied with .to(device, non_blocking=True)"
    if pinned:
        what += f"; {', '.join(pinned)} pin their batches on CUDA"
    if kept:
        what += f"; {', '.join(kept)} keep the config's pin_memory"
    return Change(
        NAME, what, "the copy of a batch overlaps the GPU's work on the one before"
    )
