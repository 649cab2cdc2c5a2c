"""Run one job: its generated script as a subprocess, its score from its result.json.

    python W1_2_J3/train.py --mmar-ckpt-dir W1_2_J3/models [job args]
        CUDA_VISIBLE_DEVICES=<the worker's GPUs>, output -> W1_2_J3/log.txt

A job fails, with the reason recorded, when the script exits non-zero (the last line of
its log says why), runs past the timeout, writes no result.json, or scores NaN.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen.runtime.workers import Worker


@dataclass(frozen=True)
class JobSpec:
    job: str  # "J3"
    name: str  # "W1_2_J3"
    folder: Path
    script: Path
    worker: Worker
    args: tuple[str, ...] = ()
    timeout: float | None = None
    # The MMAR, for a node that runs the job away from the run folder (--mmar-root).
    mmar_root: Path | None = None
    # > 1: a multi_gpu script on a worker of several GPUs, launched by torchrun with one
    # process per GPU
    processes: int = 1


@dataclass
class JobResult:
    status: str  # "ok" | "failed"
    score: float | None
    reason: str = ""
    elapsed: float = 0.0
    result: dict[str, Any] | None = field(default=None, repr=False)


class LocalExecutor:
    """Jobs as subprocesses of this machine (Clara's MMARExecutor)."""

    def __init__(self, python: str = sys.executable, cwd: str | None = None) -> None:
        self.python = python
        self.cwd = cwd  # None: the folder `claragen automl` runs in
        self._running: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self.aborted = False

    def command(self, spec: JobSpec) -> list[str]:
        models = spec.folder / "models"
        launch = [self.python]
        if spec.processes > 1:
            launch += ["-m", "torch.distributed.run", "--standalone",
                       f"--nproc_per_node={spec.processes}"]  # fmt: skip
        return [
            *launch,
            str(spec.script),
            "--mmar-ckpt-dir",
            str(models),
            *spec.args,
        ]

    def execute(self, spec: JobSpec) -> JobResult:
        env = dict(os.environ, CUDA_VISIBLE_DEVICES=spec.worker.cuda_visible_devices)
        env["PYTHONUNBUFFERED"] = "1"
        start = time.monotonic()
        log_path = spec.folder / "log.txt"
        try:  # in the job's new folder; never through a link
            log = open(log_path, "w", encoding="utf-8", opener=_no_follow)
        except OSError as exc:
            reason = f"cannot write {log_path}: {exc.strerror or exc}"
            return JobResult("failed", None, reason, time.monotonic() - start)
        with log:
            proc = subprocess.Popen(
                self.command(spec),
                cwd=self.cwd,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: a kill takes all of it
                # torchrun stops its ranks on SIGTERM; SIGKILL would leave them running
                preexec_fn=_die_with_parent_by(
                    signal.SIGTERM if spec.processes > 1 else signal.SIGKILL
                ),
            )
            with self._lock:
                self._running[spec.job] = proc
            try:
                code = proc.wait(timeout=spec.timeout)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                elapsed = time.monotonic() - start
                return JobResult(
                    "failed", None, f"timed out after {spec.timeout:g} s", elapsed
                )
            finally:
                with self._lock:
                    self._running.pop(spec.job, None)
        elapsed = time.monotonic() - start
        if self.aborted:
            return JobResult("aborted", None, "stopped by the user", elapsed)
        if code != 0:
            return JobResult(
                "failed", None, f"exit {code}: {last_line(log_path)}", elapsed
            )
        return read_result(spec.folder / "models" / "result.json", elapsed)

    def close(self) -> None:
        pass

    def abort(self) -> None:
        """Stop every running job (Ctrl-C): they count as not run."""
        self.aborted = True
        with self._lock:
            procs = list(self._running.values())
        for proc in procs:
            self._kill(proc)

    @staticmethod
    def _kill(proc: subprocess.Popen) -> None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait()


def _no_follow(path: str, flags: int) -> int:
    return os.open(path, flags | os.O_NOFOLLOW, 0o644)


def _die_with_parent_by(sig: int):
    """In the child: send it `sig` when the engine dies (Linux), so that a killed search
    leaves no job running behind it."""

    def set_death_signal() -> None:
        if sys.platform.startswith("linux"):
            import ctypes

            PR_SET_PDEATHSIG = 1
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, sig)

    return set_death_signal


def read_result(path: Path, elapsed: float) -> JobResult:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return JobResult("failed", None, f"no readable result.json ({exc})", elapsed)
    score = result.get("best_value")
    if not isinstance(score, int | float) or isinstance(score, bool):
        return JobResult(
            "failed", None, f"result.json has no score ({score!r})", elapsed, result
        )
    if math.isnan(score) or math.isinf(score):
        return JobResult("failed", None, f"the score is {score}", elapsed, result)
    return JobResult("ok", float(score), "", elapsed, result)


def last_line(log: Path) -> str:
    """The error a crashed script ended with: the last non-blank line of its log."""
    try:
        lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return "no log"
    lines = [line.strip() for line in lines if line.strip()]
    return lines[-1][:300] if lines else "no output"
