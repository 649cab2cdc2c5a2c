"""Run a generated train.py (argv[2:]) as this process's rank, recording what it writes.

    torchrun --nproc_per_node=2 tests/ddp/probe.py OUT train.py [options]

OUT/rank<r>.log gets everything the rank logs; OUT/rank<r>.json lists the files it saved
(torch.save), opened for writing (open) and the TensorBoard writers it created. The
test reads these to check that only rank 0 writes.
"""

import atexit
import builtins
import json
import os
import runpy
import sys

out, script, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
rank = os.environ.get("RANK", "0")
os.makedirs(out, exist_ok=True)
sys.stdout = sys.stderr = open(os.path.join(out, f"rank{rank}.log"), "w", buffering=1)
writes = {"torch.save": [], "open": [], "SummaryWriter": []}

real_open = builtins.open


def recording_open(file, mode="r", *args, **kwargs):
    if any(c in mode for c in "wax+"):
        writes["open"].append(os.fspath(file))
    return real_open(file, mode, *args, **kwargs)


builtins.open = recording_open
real_os_open = os.open


def recording_os_open(path, flags, *args, **kwargs):
    """The scripts create their files with os.open (O_EXCL | O_NOFOLLOW)."""
    if flags & (os.O_WRONLY | os.O_RDWR):
        writes["open"].append(os.fspath(path))
    return real_os_open(path, flags, *args, **kwargs)


os.open = recording_os_open

import torch  # noqa: E402
from torch.utils.tensorboard import SummaryWriter  # noqa: E402

real_save, real_writer_init = torch.save, SummaryWriter.__init__


def recording_save(obj, f, *args, **kwargs):
    # the scripts save into a file they opened themselves (open_new): its path
    path = os.readlink(f"/proc/self/fd/{f.fileno()}") if hasattr(f, "fileno") else f
    writes["torch.save"].append(os.fspath(path))
    return real_save(obj, f, *args, **kwargs)


def recording_writer_init(self, *args, **kwargs):
    writes["SummaryWriter"].append(str(kwargs.get("log_dir", args[0] if args else "")))
    return real_writer_init(self, *args, **kwargs)


torch.save, SummaryWriter.__init__ = recording_save, recording_writer_init


@atexit.register
def dump():
    with real_open(os.path.join(out, f"rank{rank}.json"), "w") as f:
        json.dump(writes, f, indent=2)


sys.argv = [script, *argv]
runpy.run_path(script, run_name="__main__")
