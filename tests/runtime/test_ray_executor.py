"""RayExecutor on a local Ray instance: a job that runs away from the run folder (as on a
node without a shared filesystem) comes back into it; archives stay inside the folder.
"""

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from claragen.runtime.executor import JobSpec
from claragen.runtime.ray_executor import RayExecutor, pack, unpack
from claragen.runtime.workers import Worker
from tests.conftest import REPO, copy_example, synthetic_data

pytestmark = pytest.mark.e2e


def test_a_job_run_in_a_scratch_folder_comes_back_to_the_run_folder(tmp_path):
    data = synthetic_data(tmp_path / "data", 3, 1, (32, 32, 24))
    mmar = copy_example(tmp_path)
    out = tmp_path / "out"
    subprocess.run([sys.executable, "-m", "claragen", "compile", "-m", str(mmar), "-o",
                    str(out)], check=True, capture_output=True, cwd=REPO)  # fmt: skip
    folder = out / "J0001"
    script = (folder / "train.py").read_bytes()
    args = ("--epochs", "1", "--device", "cpu", "--data-root", str(data),
            "--dataset-json", str(data / "dataset.json"), "--crop-size", "16", "16",
            "16", "--roi-size", "32", "32", "32")  # fmt: skip
    spec = JobSpec("J1", "W1_1_J1", folder, folder / "train.py", Worker(1), args,
                   mmar_root=mmar)  # fmt: skip
    executor = RayExecutor(in_place=False)  # as a node that does not see `folder`
    try:
        result = executor.execute(spec)
    finally:
        executor.close()
    assert result.status == "ok", result.reason
    assert 0 <= result.score <= 1
    assert (folder / "models" / "result.json").is_file()  # synchronised back
    assert (folder / "models" / "model.pt").is_file()
    assert "val_mean_dice" in (folder / "log.txt").read_text()
    assert (folder / "train.py").read_bytes() == script


def test_archives_round_trip_and_cannot_leave_the_folder(tmp_path):
    src = tmp_path / "src"
    (src / "models").mkdir(parents=True)
    (src / "models" / "result.json").write_text("{}")
    (src / "train.py").write_text("pass")
    dest = tmp_path / "dest"
    unpack(pack(src, leave_out="train.py"), dest)
    assert sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*")) == [
        "models",
        "models/result.json",
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escaped.txt")
        tar.addfile(info, io.BytesIO(b""))
    with pytest.raises(tarfile.OutsideDestinationError):
        unpack(buffer.getvalue(), dest)
    assert not Path(tmp_path / "escaped.txt").exists()


@pytest.mark.parametrize(
    "options, message",
    [
        (["--executor", "slurm"], "'slurm' is not one of 'local', 'ray'"),
        (["--ray-address", "auto"], "--ray-address needs --executor ray"),
    ],
)
def test_bad_executor_options_are_refused(tmp_path, options, message):
    proc = subprocess.run(
        [sys.executable, "-m", "claragen", "automl", "-m", str(copy_example(tmp_path)),
         "--run-id", "x", *options],
        capture_output=True, text=True, cwd=REPO, env={**os.environ, "COLUMNS": "300"},
    )  # fmt: skip
    assert proc.returncode == 2 and message in proc.stderr, proc.stdout + proc.stderr
