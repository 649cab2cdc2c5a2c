"""amp: automatic mixed precision on CUDA, in bfloat16 where the GPU has it.

Convolutions and matrix products run in 16-bit floats on the tensor cores; bfloat16 keeps
float32's range, so it needs no loss scaling (float16, on older GPUs, keeps the
GradScaler). This is on even when the config had AMP off, and it is a numerics change:
16-bit products round differently from float32 ones, so a run's loss curve is not the
literal script's (the accuracy reached is the same within training noise, which the
differential test checks). On the CPU autocast stays off, as in the literal script.
"""

from __future__ import annotations

from claragen.transpiler.optimize.base import Change
from claragen.transpiler.targets.plain_script import PlainScript

NAME = "amp"
EXACT_ON_CPU = True  # see the module's docstring
ON_CUDA = 'device.type == "cuda"'


def apply(script: PlainScript) -> Change:
    assert script.fast is not None
    was = script.train.amp
    script.train.amp = ON_CUDA
    if script.val is not None:
        script.val.amp = ON_CUDA
    script.fast.amp_dtype = True
    off = "" if was == ON_CUDA else f" (the literal script: {was})"
    return Change(
        NAME,
        f"autocast on CUDA in bfloat16 where the GPU has it, else float16{off}",
        "16-bit convolutions run on the tensor cores, with half the memory traffic",
        "16-bit rounding on the GPU: the loss curve differs from float32's, the "
        "accuracy reached agrees within training noise; none on the CPU",
    )
