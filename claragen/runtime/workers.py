"""Workers from Clara's `workers=` form (SPEC 6).

    "0:0:1:1"  -> four workers, on GPUs 0, 0, 1 and 1
    "0,1:2,3"  -> two workers of two GPUs each
    "2"        -> on a machine without CUDA: two CPU workers (with CUDA: one worker, GPU 2)

A job sees only its worker's GPUs (`CUDA_VISIBLE_DEVICES`); a CPU worker sees none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_GPU_FORM = re.compile(r"^\d+(,\d+)*(:\d+(,\d+)*)*$")


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
    if not _GPU_FORM.match(spec):
        raise WorkerSpecError(
            f"--workers {spec!r}: use GPU lists separated by ':' (0:0:1:1, 0,1:2,3) "
            "or, on a CPU machine, a count"
        )
    if cuda_devices == 0:
        if ":" in spec or "," in spec:
            raise WorkerSpecError(
                f"--workers {spec!r} names GPUs, and this machine has none; "
                "give a count of CPU workers (--workers 2)"
            )
        count = int(spec)
        if count < 1:
            raise WorkerSpecError("--workers: at least one worker")
        return [Worker(i + 1) for i in range(count)]
    workers = []
    for i, part in enumerate(spec.split(":")):
        gpus = tuple(part.split(","))
        for gpu in gpus:
            if int(gpu) >= cuda_devices:
                raise WorkerSpecError(
                    f"--workers {spec!r}: GPU {gpu} does not exist "
                    f"(this machine has {cuda_devices}: 0..{cuda_devices - 1})"
                )
        workers.append(Worker(i + 1, gpus))
    return workers
