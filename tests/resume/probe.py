"""Run a generated train.py (argv[1:]) with a fault injected, for test_script_resume.py.

    PROBE_KILL_SAVE=N python probe.py train.py [options]

After N saves of resume.pt, the next torch.save writes half of its bytes and the process
dies at once (os._exit(137), the status of a SIGKILL): killed in the middle of a save.
Before that it names the file being written in killed.json, beside it, and copies
model.pt (if there is one) to model.pt.before.

    PROBE_SIGTERM_STEP=N python probe.py train.py [options]

In its N-th backward pass, a child of the process sends SIGTERM to its process group
(the script and its DataLoader workers), as torchrun, Slurm or systemd stop a job. (The
workers take a SIGTERM from the script itself for a shutdown request and exit quietly.)
"""

import io
import json
import os
import runpy
import shutil
import signal
import sys

import torch

KILL_SAVE = int(os.environ.get("PROBE_KILL_SAVE", "-1"))
SIGTERM_STEP = int(os.environ.get("PROBE_SIGTERM_STEP", "-1"))
real_save, real_backward = torch.save, torch.Tensor.backward
resume_saves, steps, inside = 0, 0, False


def killing_save(obj, f, *args, **kwargs):
    global resume_saves
    # the scripts save into a file they opened themselves (open_new): its path
    path = os.readlink(f"/proc/self/fd/{f.fileno()}") if hasattr(f, "fileno") else f
    path = os.fspath(path)
    if resume_saves == KILL_SAVE:
        folder = os.path.dirname(path)
        if os.path.isfile(os.path.join(folder, "model.pt")):
            shutil.copy(
                os.path.join(folder, "model.pt"),
                os.path.join(folder, "model.pt.before"),
            )
        with open(os.path.join(folder, "killed.json"), "w") as out:
            json.dump({"path": path}, out)
        buffer = io.BytesIO()
        real_save(obj, buffer, *args, **kwargs)
        f.write(buffer.getvalue()[: len(buffer.getvalue()) // 2])
        f.flush()
        os._exit(137)
    real_save(obj, f, *args, **kwargs)
    if os.path.basename(path).startswith("resume.pt"):
        resume_saves += 1


def signalling_backward(self, *args, **kwargs):
    global steps, inside
    if inside:  # MetaTensor's __torch_function__ calls backward again
        return real_backward(self, *args, **kwargs)
    steps += 1
    if steps == SIGTERM_STEP:
        sender = os.fork()
        if sender == 0:
            os.killpg(0, signal.SIGTERM)
            os._exit(0)
        os.waitpid(sender, 0)
    inside = True
    try:
        return real_backward(self, *args, **kwargs)
    finally:
        inside = False


torch.save, torch.Tensor.backward = killing_save, signalling_backward
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
