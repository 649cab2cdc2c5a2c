"""A generated script that fails says why and exits: an error in a DataLoader worker (here
a crop larger than the image) ends the run with status 1 and the transform's own message,
instead of waiting forever for the workers, which ignore SIGTERM (see quiet_worker)."""

import subprocess
import sys

from tests.conftest import synthetic_data
from tests.test_golden import compile_example


def test_an_error_in_a_loader_worker_ends_the_run_with_its_message(tmp_path):
    out = compile_example(tmp_path)
    data = synthetic_data(
        tmp_path / "data", 2, 1, (40, 40, 32)
    )  # smaller than the crop
    done = subprocess.run(
        [sys.executable, str(out / "J0001" / "train.py"), "--epochs", "1", "--device",
         "cpu", "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
         "--mmar-ckpt-dir", str(tmp_path / "models"), "--crop-size", "32", "32", "32",
         "--roi-size", "32", "32", "32"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 1, done.stderr[-2000:]
    assert "larger than the image size" in done.stderr
    assert "Exception ignored in atexit" not in done.stderr
