"""cudnn-benchmark: `torch.backends.cudnn.benchmark = True` on CUDA.

cuDNN then times its convolution algorithms on the first batch of each shape and keeps
the fastest. A 3D segmentation network sees one crop shape in training and one window
shape in validation, so the search costs a few batches and every later one gains. On the
CPU the flag does nothing. The algorithm cuDNN picks may differ from run to run, so the
last bits of a GPU result are not reproducible: a config that asks for
`cudnn_benchmark: false` or has a determinism block keeps it, and the rewrite says why,
unless --override-determinism asks to replace it (then the change says what it replaced).
"""

from __future__ import annotations

from claragen.transpiler.optimize.base import Change, Skip
from claragen.transpiler.targets.plain_script import PlainScript

NAME = "cudnn-benchmark"
EXACT_ON_CPU = True  # see the module's docstring
FLAG = "torch.backends.cudnn.benchmark"


def apply(script: PlainScript) -> Change | Skip:
    before = [f for f in script.backend_flags if f.startswith(FLAG + " =")]
    own = before[0].split("= ", 1)[1] if before else ""  # the config's value
    if own.startswith("True"):
        return Skip(NAME, "the config turns it on itself (cudnn_benchmark: True)")
    asked = []  # what the config says for reproducible results
    if own.startswith("False"):
        asked.append("cudnn_benchmark: False")
    if script.seed is not None:
        asked.append("a determinism block")
    assert script.fast is not None
    if asked and not script.fast.override_determinism:
        return Skip(
            NAME,
            f"the config asks for reproducible results ({' and '.join(asked)}); "
            "--override-determinism lets cuDNN autotune all the same",
        )
    flags = [f for f in script.backend_flags if f not in before]
    line = f'{FLAG} = device.type == "cuda"  # --optimize {NAME}'
    script.backend_flags = [*flags, line]
    was = f" (the config's cudnn_benchmark: {own})" if before else ""
    return Change(
        NAME,
        f"cuDNN autotuning on CUDA{was}",
        "cuDNN keeps the fastest convolution algorithm for each input shape",
        "on the GPU, the algorithm may differ between runs, so the last bits of the "
        "results may too; none on the CPU",
    )
