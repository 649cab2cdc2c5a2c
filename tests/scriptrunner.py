"""Run generated scripts as `python train.py ...` would, without importing torch and MONAI
for each: one server process per test worker imports them once, then forks a child for
each run, which runs the script with `runpy` as `__main__` (its folder first on
sys.path, its own argv, cwd and environment, its stdout and stderr in files).

Importing MONAI costs about 5 s of CPU, more than many of the tests' runs train for; a
test session runs a hundred and more scripts. What a run sees differs from a fresh
`python` in what is imported already (torch, MONAI, ignite), never in what the script
itself does or in its namespace. The tests of signals, of process trees and of the
runtime's own job processes start real processes.

    proc = start([sys.executable, str(script), "--epochs", "1"], cwd=tmp_path)
    proc.wait(timeout=600)             # or poll(), kill(), returncode, like Popen's
    done = run([sys.executable, str(script), "--help"])   # like subprocess.run(...,
    done.returncode, done.stdout, done.stderr            # capture_output=True, text=True)
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SERVER = r"""
import atexit, json, os, runpy, signal, sys, threading, traceback
import torch, monai, ignite  # once, for every run
import monai.transforms, monai.networks.nets, monai.data, monai.engines, monai.handlers

signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # the children are reaped as they end
for line in sys.stdin:
    req = json.loads(line)
    pid = os.fork()
    if pid:
        print(json.dumps({"pid": pid}), flush=True)
        continue
    # the child: the script as `python script args...` would run it
    code = 1
    try:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # its own process group: a kill ends what it started too
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
        out = os.open(req["stdout"], flags, 0o644)
        err = out if req["stderr"] == req["stdout"] else os.open(req["stderr"], flags, 0o644)
        os.dup2(out, 1)
        os.dup2(err, 2)
        for fd in {out, err}:
            os.close(fd)
        sys.stdin.close()
        sys.stdin = open(os.devnull)
        os.chdir(req["cwd"])
        own = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
        os.environ.clear()
        os.environ.update(req["env"])
        sys.argv = req["argv"]
        # as python's startup makes it: the script's folder, then PYTHONPATH's
        given = [p for p in req["env"].get("PYTHONPATH", "").split(os.pathsep) if p]
        sys.path[:] = [os.path.dirname(os.path.abspath(req["argv"][0])), *given,
                       *[p for p in sys.path[1:] if p not in own]]
        try:
            runpy.run_path(req["argv"][0], run_name="__main__")
            code = 0
        except SystemExit as exc:
            if exc.code is None or isinstance(exc.code, int):
                code = exc.code or 0
            else:
                print(exc.code, file=sys.stderr)
                code = 1
        except BaseException:
            traceback.print_exc()
            code = 1
        threading._shutdown()  # as the interpreter's exit: its threads end first
        atexit._run_exitfuncs()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            with open(req["status"] + ".tmp", "w") as f:
                f.write(str(code))
            os.replace(req["status"] + ".tmp", req["status"])
        finally:
            os._exit(code)
"""

_server: subprocess.Popen | None = None


def _ask(request: dict) -> int:
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen([sys.executable, "-u", "-c", SERVER],
                                   stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                   text=True)  # fmt: skip
    assert _server.stdin is not None and _server.stdout is not None
    _server.stdin.write(json.dumps(request) + "\n")
    _server.stdin.flush()
    ready, _, _ = select.select([_server.stdout], [], [], 120)
    line = _server.stdout.readline() if ready else ""
    if not line:
        raise RuntimeError("the script server did not answer")
    return json.loads(line)["pid"]


class ScriptProcess:
    """A run of a script, as much of subprocess.Popen as the tests use."""

    def __init__(self, argv, cwd, env, stdout: Path, stderr: Path) -> None:
        self.args = argv
        self.stdout_path, self.stderr_path = stdout, stderr
        self.status = Path(str(stdout) + ".status")
        self.returncode: int | None = None
        self.pid = _ask({"argv": [str(a) for a in argv[1:]], "cwd": str(cwd),
                         "env": dict(env), "stdout": str(stdout),
                         "stderr": str(stderr), "status": str(self.status)})  # fmt: skip

    def _alive(self) -> bool:
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        try:  # a zombie of the server's (reaped at once, but not always at once)
            return Path(f"/proc/{self.pid}/stat").read_text().split()[2] != "Z"
        except OSError:
            return False

    def poll(self) -> int | None:
        if self.returncode is None and self.status.exists():
            self.returncode = int(self.status.read_text())
        elif self.returncode is None and not self._alive():
            time.sleep(0.05)  # it may be writing its status now
            self.returncode = (
                int(self.status.read_text()) if self.status.exists() else -9
            )
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        end = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while self.poll() is None:
            if end is not None and time.monotonic() > end:
                raise subprocess.TimeoutExpired(self.args, timeout)
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return self.returncode  # type: ignore[return-value]

    def kill(self) -> None:
        try:
            os.killpg(self.pid, 9)
        except ProcessLookupError:
            pass

    def output(self) -> tuple[str, str]:
        return (self.stdout_path.read_text(errors="replace"),
                self.stderr_path.read_text(errors="replace"))  # fmt: skip


def is_script(cmd) -> bool:
    """`[python, <a .py file>, ...]`: a generated script's command line."""
    return (len(cmd) >= 2 and str(cmd[0]) == sys.executable
            and str(cmd[1]).endswith(".py") and Path(str(cmd[1])).is_file())  # fmt: skip


def start(cmd, cwd=None, env=None, stdout=None, stderr=None) -> ScriptProcess:
    assert is_script(cmd), cmd
    if stdout is None:
        fd, name = tempfile.mkstemp(prefix="script-", suffix=".out")
        os.close(fd)
        stdout = Path(name)
    stderr = stderr or Path(str(stdout) + ".err")
    return ScriptProcess(cmd, cwd or os.getcwd(), os.environ if env is None else env,
                         Path(stdout), Path(stderr))  # fmt: skip


def run(
    cmd, cwd=None, env=None, timeout=600, check=False, **_
) -> subprocess.CompletedProcess:
    """subprocess.run(cmd, capture_output=True, text=True, timeout=..., check=...) of a
    script."""
    proc = start(cmd, cwd=cwd, env=env)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        if proc.returncode is None:
            proc.kill()
    out, err = proc.output()
    for path in (proc.stdout_path, proc.stderr_path, proc.status):
        path.unlink(missing_ok=True)
    if check and proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd, out, err)
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)
