"""optuna-dashboard, in the `automl` extra (issue 30, item 8): started on 127.0.0.1
against a run's optuna.log, as the README says, its API lists the search's trials under
the key metric's name."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.request

from claragen.runtime.study import SearchStudy
from tests.runtime.test_progress import PARAMS


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str):
    with urllib.request.urlopen(url, timeout=5) as r:
        return json.loads(r.read())


def test_optuna_dashboard_lists_a_runs_trials(tmp_path):
    path = tmp_path / "optuna.log"
    study = SearchStudy(path, "run1", PARAMS, "TPEController", metric="val_mean_dice")
    values = {":lr": 1e-3, "net:channels": [[8, 16]], "loss:x": ["ce"]}
    for i, score in enumerate([0.4, 0.6], start=1):
        study.start(f"J{i}", f"W1_{i}_J{i}", values)
        study.report(f"J{i}", 1, score / 2)
        study.end(f"J{i}", "ok", score)
    command = shutil.which("optuna-dashboard", path=str(__import__("pathlib").Path(
        sys.executable).parent)) or "optuna-dashboard"  # fmt: skip
    port = free_port()
    server = subprocess.Popen([command, str(path), "--host", "127.0.0.1",
                               "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 60
        while True:
            try:
                summaries = get(f"{base}/studies")["study_summaries"]
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "optuna-dashboard did not answer"
                time.sleep(0.3)
        (summary,) = summaries
        assert summary["study_name"] == "run1"
        detail = get(f"{base}/studies/{summary['study_id']}")
        assert [t["values"] for t in detail["trials"]] == [[0.4], [0.6]]
        assert detail["objective_names"] == ["val_mean_dice"]  # not "Objective 0"
        assert {p["name"] for p in detail["trials"][0]["params"]} == {
            "lr", "net:channels", "loss:x"}  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
