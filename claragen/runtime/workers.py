"""Workers from Clara's `workers=` form (SPEC 6).

    "0:0:1:1"  -> four workers, on GPUs 0, 0, 1 and 1
    "0,1:2,3"  -> two workers of two GPUs each
    "2"        -> on a machine without CUDA: two CPU workers (with CUDA: one worker, GPU 2)

A job sees only its worker's GPUs (`CUDA_VISIBLE_DEVICES`); a CPU worker sees none. A
search has at most MAX_WORKERS workers and a GPU index at most four digits, checked before
any number is read (a 5,000-digit count is an error, not a hang or a traceback).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GPU_FORM = re.compile(r"\d+(,\d+)*(:\d+(,\d+)*)*")
MAX_WORKERS = 1024
_MAX_DIGITS = 4  # MAX_WORKERS and any GPU index fit in 4 digits


class WorkerSpecError(ValueError):
    pass


@dataclass(frozen=True)
class Worker:
    index: int  # 1-based, as in Clara's W<worker>_<round>_J<job>
    gpus: tuple[str, ...] = ()  # () = CPU

    @property
    def cuda_visible_devices(self) -> str:
        return ",".join(self.gpus)

    def __str__(self) -> str:
        return f"W{self.index} ({'GPU ' + ','.join(self.gpus) if self.gpus else 'CPU'})"


def parse_workers(spec: str, cuda_devices: int) -> list[Worker]:
    """`cuda_devices`: how many GPUs this machine has (0: a CPU machine)."""
    spec = spec.strip()
    shown = repr(spec) if len(spec) <= 40 else repr(spec[:30]) + f" ({len(spec)} chars)"
    if not _GPU_FORM.fullmatch(spec):
        raise WorkerSpecError(
            f"--workers {shown}: use GPU lists separated by ':' (0:0:1:1, 0,1:2,3) "
            "or, on a CPU machine, a count"
        )
    too_many = WorkerSpecError(
        f"--workers {shown}: at most {MAX_WORKERS} workers; give fewer"
    )
    if cuda_devices == 0:
        if ":" in spec or "," in spec:
            raise WorkerSpecError(
                f"--workers {shown} names GPUs, and this machine has none; "
                "give a count of CPU workers (--workers 2)"
            )
        count = _number(spec)
        if count is None or count > MAX_WORKERS:
            raise too_many
        if count < 1:
            raise WorkerSpecError("--workers: at least one worker")
        return [Worker(i + 1) for i in range(count)]
    parts = spec.split(":")
    if len(parts) > MAX_WORKERS:
        raise too_many
    workers = []
    for i, part in enumerate(parts):
        gpus = []
        for gpu in part.split(","):
            index = _number(gpu)
            if index is None or index >= cuda_devices:
                raise WorkerSpecError(
                    f"--workers {shown}: GPU {gpu[:8]}{'...' if len(gpu) > 8 else ''} "
                    f"does not exist (this machine has {cuda_devices}: "
                    f"0..{cuda_devices - 1})"
                )
            gpus.append(str(index))
        workers.append(Worker(i + 1, tuple(gpus)))
    return workers


def _number(digits: str) -> int | None:
    """The number `digits` writes, or None past _MAX_DIGITS (before int() reads it)."""
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= _MAX_DIGITS else None
