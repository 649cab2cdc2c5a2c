"""Run one job: its generated script as a subprocess, its score from its result.json.

    python W1_2_J3/train.py --mmar-ckpt-dir W1_2_J3/models [job args]
        CUDA_VISIBLE_DEVICES=<the worker's GPUs>, output -> W1_2_J3/log.txt

A job fails, with the reason recorded, when the script exits non-zero (its error, from its
log), runs past the timeout, writes no result.json, or scores NaN. A job the pruner stops
(`stop`) gets SIGTERM: the script stops after its current iteration, saves, writes its
result.json and exits 143; it ends as `pruned`, with the best score it reached.
"""

from __future__ import annotations

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

from claragen.gates import safe_io
from claragen.runtime.workers import Worker
from claragen.script_errors import cause


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
    # CPU threads of a CPU job (OMP_NUM_THREADS, unless set): the cores shared by the
    # workers, so that jobs side by side do not oversubscribe them. None: torch's default
    threads: int | None = None


@dataclass
class JobResult:
    status: str  # "ok" | "failed" | "pruned" | "aborted"
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
        self._stopped: dict[str, str] = {}  # job -> why it was stopped (pruned)
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
        # no progress bars (MONAI's dataset caching) redrawn with carriage returns into
        # log.txt: the engine shows each job's progress itself
        env.setdefault("TQDM_DISABLE", "1")
        if spec.threads is not None and not spec.worker.gpus:
            env.setdefault("OMP_NUM_THREADS", str(spec.threads))
        start = time.monotonic()
        log_path = spec.folder / "log.txt"
        try:  # in the job's new folder; never through a link
            log = safe_io.rewrite_text(log_path)
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
                code = self._wait(proc, spec, start)
            except subprocess.TimeoutExpired:
                self._kill(proc)
                elapsed = time.monotonic() - start
                return JobResult(
                    "failed", None, f"timed out after {spec.timeout:g} s", elapsed
                )
            finally:
                with self._lock:
                    self._running.pop(spec.job, None)
                    stopped = self._stopped.pop(spec.job, None)
        elapsed = time.monotonic() - start
        if self.aborted:
            return JobResult("aborted", None, "stopped by the user", elapsed)
        result_path = spec.folder / "models" / "result.json"
        if stopped is not None:
            result = read_result(result_path, elapsed)
            if code != 0 or (result.result or {}).get("interrupted"):
                return JobResult(
                    "pruned", result.score, stopped, elapsed, result.result
                )
            return result  # it had ended its last epoch when the signal came
        if code != 0:
            return JobResult(
                "failed", None, f"exit {code}: {error_of(log_path)}", elapsed
            )
        return read_result(result_path, elapsed)

    def _wait(self, proc: subprocess.Popen, spec: JobSpec, start: float) -> int:
        """proc's exit code; a stop file in the job's folder (a Ray node's way to
        `stop`) sends it SIGTERM; past spec.timeout: TimeoutExpired."""
        signalled = False
        while True:
            try:
                return proc.wait(timeout=1.0)
            except subprocess.TimeoutExpired:
                if spec.timeout is not None and time.monotonic() - start > spec.timeout:
                    raise
            reason = None if signalled else _read_stop_file(spec.folder / STOP_FILE)
            if reason is not None:
                signalled = True
                with self._lock:
                    self._stopped.setdefault(spec.job, reason or "stopped")
                _terminate(proc)

    def stop(self, spec: JobSpec, reason: str) -> None:
        """Stop one running job early (the pruner): SIGTERM to its script (or to
        torchrun, which passes it on to its ranks)."""
        with self._lock:
            proc = self._running.get(spec.job)
            if proc is None:
                return
            self._stopped.setdefault(spec.job, reason)
        _terminate(proc)

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


STOP_FILE = (
    ".claragen-stop"  # written into a job's folder: stop it (see RayExecutor.stop)
)


def _read_stop_file(path: Path) -> str | None:
    """The reason in a stop file (None: there is none); never through a link."""
    try:
        data = safe_io.read_bytes(path, 300, tail=True)
    except OSError:  # none there, or a link, a FIFO: not the engine's
        return None
    return data.decode("utf-8", "replace").strip()


def _terminate(proc: subprocess.Popen) -> None:
    try:
        proc.send_signal(signal.SIGTERM)
    except ProcessLookupError:
        pass


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
        result = safe_io.read_json(path, safe_io.LIMITS["json"])
    except (OSError, ValueError) as exc:
        return JobResult("failed", None, f"no readable result.json ({exc})", elapsed)
    if not isinstance(result, dict):
        return JobResult("failed", None, "result.json is no JSON object", elapsed)
    score = result.get("best_value")
    if not isinstance(score, int | float) or isinstance(score, bool):
        return JobResult(
            "failed", None, f"result.json has no score ({score!r})", elapsed, result
        )
    if math.isnan(score) or math.isinf(score):
        return JobResult("failed", None, f"the score is {score}", elapsed, result)
    return JobResult("ok", float(score), "", elapsed, result)


def error_of(log: Path) -> str:
    """The error a crashed script ended with (see script_errors.cause)."""
    try:
        tail = safe_io.read_bytes(log, safe_io.LIMITS["log"], tail=True)
        return cause(tail.decode("utf-8", errors="replace"))
    except OSError:
        return "no log"
