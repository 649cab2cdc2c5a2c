"""fused-optimizer: a torch optimizer that takes `fused` gets `fused=True` on CUDA.

Which optimizers have a fused kernel is torch's own word (a `fused` parameter in the
signature, in the component table: Adam, AdamW, SGD, Adagrad in torch 2.13), not a list
kept here. A fused optimizer updates every parameter in one kernel instead of a loop of
small ones per tensor. On the CPU the literal optimizer is kept (`fused=False` there). The fused
kernels compute the same update, up to the order of floating-point operations.
"""

from __future__ import annotations

import ast

from claragen.transpiler import symbols
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

NAME = "fused-optimizer"
EXACT_ON_CPU = True  # see the module's docstring


def fusable(name: str) -> bool:
    """Whether `name` (as the script calls it) is a torch optimizer that takes `fused`."""
    module, _, short = name.rpartition(".")
    sym = symbols.lookup(short)
    return (
        module in ("", "torch.optim")
        and sym is not None
        and sym.module == "torch.optim"
        and sym.params is not None
        and "fused" in sym.params
    )


def apply(script: PlainScript) -> Change | Skip:
    target = block(script, script.optimizer)
    call = call_of(target.code) if target is not None else None
    if target is None or call is None or not fusable(callee(call)):
        shown = callee(call) if call is not None else "its optimizer"
        return Skip(NAME, f"{shown} takes no `fused` (no fused kernel in torch)")
    for arg in ("fused", "foreach", "differentiable"):
        if keyword(call, arg) is not None:
            return Skip(NAME, f"the config sets the optimizer's {arg!r}; it is kept")
    call.keywords.append(ast.keyword("fused", expr('device.type == "cuda"')))
    set_code(target, call, note(NAME, "one kernel for all parameters on CUDA"))
    return Change(
        NAME,
        f"{callee(call)}(..., fused=True) on CUDA",
        "one kernel updates every parameter, instead of a few per tensor",
        "the same update up to the order of floating-point operations, on the GPU; "
        "none on the CPU",
    )
