"""`--optimize` on the CPU (make bench): train_fast.py against train.py, a row per rewrite.

The 4.1 example's job J0001 on the synthetic data of bench_runtime (8 cases of 64^3, crops
of 32^3), compiled literally, with each rewrite alone, and with all of them. Every
variant runs side by side in one round: seconds per epoch = (a 4-epoch run - a 1-epoch
run) / 3, validation included, and the key metric (Dice) at the last epoch of the
4-epoch run, from the same seed. Most rewrites act on CUDA only, so on the CPU they
should cost nothing and change no number; the GPU figures come from benchmarks/gpu.sh.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import bench_runtime

from claragen.transpiler.optimize import NAMES

REPO = Path(__file__).resolve().parent.parent
RUNS = 1  # rounds (each runs every variant twice); raise for steadier figures


def compile_variant(out: Path, rewrites: tuple[str, ...]) -> Path:
    off = [f"--no-{n}" for n in NAMES if n not in rewrites]
    cmd = [sys.executable, "-m", "claragen", "compile", "-m", str(bench_runtime.EXAMPLE),
           "-o", str(out), "--target", "plain"]  # fmt: skip
    if rewrites:
        cmd += ["--optimize", *off]
    subprocess.run(cmd, check=True, capture_output=True)
    return out / "J0001" / ("train_fast.py" if rewrites else "train.py")


def command(script: Path, data: Path, ckpt: Path) -> list[str]:
    sizes = bench_runtime.SIZES
    return [sys.executable, str(script), "--device", "cpu", "--data-root", str(data),
            "--dataset-json", str(data / "dataset.json"), "--mmar-ckpt-dir", str(ckpt),
            "--crop-size", *map(str, sizes["crop_size"]),
            "--roi-size", *map(str, sizes["roi_size"])]  # fmt: skip


def main() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench_runtime.prepare(root)  # the data (and compiles this bench does not use)
        data = root / "data"
        variants = {"train.py (literal)": ()}
        variants |= {n: (n,) for n in NAMES}
        variants["all rewrites"] = NAMES
        cmds = {
            name: command(compile_variant(root / f"v{i}", rw), data, root / f"m{i}")
            for i, (name, rw) in enumerate(variants.items())
        }
        samples: dict = {name: [] for name in cmds}
        dice: dict = {}
        first = bench_runtime.FIRST_STEP["plain"]
        for _ in range(RUNS):
            for name, cmd in cmds.items():
                _, one = bench_runtime.timed(cmd + ["--epochs", "1"], first)
                _, four = bench_runtime.timed(cmd + ["--epochs", "4"], first)
                samples[name].append((four - one) / 3)
                result = json.loads((Path(cmd[cmd.index("--mmar-ckpt-dir") + 1])
                                     / "result.json").read_text())  # fmt: skip
                dice[name] = result["values"][-1]
    literal = statistics.median(samples["train.py (literal)"])
    rows = []
    for name, s in samples.items():
        epoch = statistics.median(s)
        rows.append({"variant": name, "epoch_s": epoch, "ratio": literal / epoch,
                     "dice": dice[name]})  # fmt: skip
    return rows


if __name__ == "__main__":
    for row in main():
        print(row)
