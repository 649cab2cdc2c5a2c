"""Run `python <script> --help` as a user would, fast: one worker process (torch and MONAI
imported once) runs each generated script with `runpy` as `__main__` in a scratch folder.

    runner = HelpRunner()
    code, output = runner.help(script, scratch)   # (exit status, what it printed)

This is the safety oracle of tests/test_attacks.py and tests/test_fuzz.py: a script that
runs config code at import (a module-level constant that is code) does it here, and the
payload's marker file shows in the scratch folder. A script that hangs is killed after
`timeout` seconds and reported as exit 124; the worker is started anew.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

WORKER = r"""
import contextlib, io, json, os, runpy, sys
import torch, monai  # imported once for every script
for line in sys.stdin:
    req = json.loads(line)
    os.chdir(req["cwd"])
    buf, code = io.StringIO(), 0
    sys.argv = [req["script"], "--help"]
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            runpy.run_path(req["script"], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    except BaseException as exc:  # a script that fails at import: the test says so
        code, _ = 99, buf.write(f"{type(exc).__name__}: {exc}")
    print(json.dumps({"code": code, "out": buf.getvalue()[-4000:]}), flush=True)
"""


class HelpRunner:
    def __init__(self, timeout: float = 60.0) -> None:
        self.timeout = timeout
        self.proc: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen(
                [sys.executable, "-u", "-c", WORKER],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
        return self.proc

    def help(self, script: Path, cwd: Path) -> tuple[int, str]:
        proc = self._start()
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"script": str(script), "cwd": str(cwd)}) + "\n")
        proc.stdin.flush()
        ready, _, _ = select.select([proc.stdout], [], [], self.timeout)
        line = proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            return 124, f"--help gave no answer within {self.timeout:g} s"
        reply = json.loads(line)
        return reply["code"], reply["out"]

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None
