"""`--optimize`: train_fast.py, the fast-training rewrite of a job's lowered train.py.

Each rewrite is a module with its NAME, whether it is EXACT (the same numbers as the
literal script on any device) and `apply(script)`, which changes the render model
(`PlainScript`, a copy) and returns a `Change` saying what it changed and why, or a
`Skip` saying why it cannot apply to this config. The rewrites run in REWRITES order;
each is on under `--optimize` unless `--no-<name>` turns it off. The docstring of
train_fast.py lists every change and skip, and each changed block carries a comment, so
`claragen diff J0001/train.py J0001/train_fast.py` reads as the list of changes.

The choices follow MONAI's fast-training guide (docs/fast_training): cuDNN autotuning,
fused optimizers, pinned memory with non-blocking copies, AMP (bfloat16 where the GPU
has it), no per-iteration decollate of the images, and larger sliding-window batches on
the device.
"""

from __future__ import annotations

import copy
import textwrap
from types import ModuleType

from claragen.transpiler.optimize import (
    amp,
    batched_metrics,
    cudnn_benchmark,
    device_cache,
    fused_optimizer,
    non_blocking,
    sw_batch_size,
)
from claragen.transpiler.optimize.base import Change, Skip
from claragen.transpiler.render import docstring_line
from claragen.transpiler.targets.plain_script import FastLoop, PlainScript

__all__ = ["NAMES", "OVERRIDE", "REWRITES", "Change", "Skip", "optimize"]
REWRITES: tuple[ModuleType, ...] = (
    device_cache,  # first: non-blocking pins no batch that is on the device already
    cudnn_benchmark,
    fused_optimizer,
    non_blocking,
    amp,
    batched_metrics,
    sw_batch_size,
)
NAMES = tuple(m.NAME for m in REWRITES)
# Not a rewrite: with it, a rewrite may replace what the config asked for determinism
# (cudnn_benchmark: false, a determinism block); without it, such a config is kept.
OVERRIDE = "override-determinism"


def optimize(script: PlainScript, names: tuple[str, ...]) -> tuple[PlainScript, list]:
    """train_fast.py's render model: a copy of `script` with the rewrites `names` applied
    in REWRITES order; and what each did (Change or Skip)."""
    fast = copy.deepcopy(script)
    fast.fast = FastLoop(override_determinism=OVERRIDE in names)
    done = []
    for module in REWRITES:
        if module.NAME in names:
            done.append(module.apply(fast))
        else:
            done.append(Skip(module.NAME, f"turned off (--no-{module.NAME})"))
    fast.docstring = (
        script.docstring
        + "\n"
        + "\n".join(docstring_line(line) for line in summary(done))
    )
    return fast, done


def summary(done: list) -> list[str]:
    """The docstring lines that say what --optimize did."""
    lines = ["", "Optimized (claragen compile --optimize): the rewrites of train.py below;",
             "`claragen diff train.py train_fast.py` shows each. --no-<name> turns one",
             "off."]  # fmt: skip
    for item in done:
        if isinstance(item, Change):
            exact = "exact" if not item.numerics else f"numerics: {item.numerics}"
            lines += ["", *wrap(f"- {item.name}: {item.what}."),
                      *wrap(f"  Why: {item.why} ({exact}).")]  # fmt: skip
        else:
            lines += ["", *wrap(f"- {item.name}: not applied: {item.why}.")]
    return lines


def wrap(text: str) -> list[str]:
    return textwrap.wrap(text, width=84, subsequent_indent="  ", break_on_hyphens=False)
