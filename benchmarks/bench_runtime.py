"""Run-time benchmarks (make bench): the plain script against MONAI's bundle runner.

The same job of the 4.1 example, compiled twice (`--target plain`, `--target bundle`), runs
on the same synthetic data on the CPU:

- time to the first training step: from the process start to the log line of iteration 1
  (the plain script's `iteration 1/`, MONAI's StatsHandler's `Iter: 1/`);
- seconds per epoch: (time of a 4-epoch run - time of a 1-epoch run) / 3, validation
  included (every epoch, as the example says);
- where the plain script's epochs go: a cProfile of one run, by stage.

Each figure is the median of RUNS runs, measured side by side in one process.
"""

from __future__ import annotations

import pstats
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "spleen_41"
RUNS = 3
CASES, SHAPE = 8, (64, 64, 64)
SIZES = {"crop_size": [32, 32, 32], "roi_size": [64, 64, 64]}
FIRST_STEP = {"plain": re.compile(r"iteration 1/"), "bundle": re.compile(r"Iter: 1/")}


def prepare(root: Path) -> dict[str, list[str]]:
    """Data, both compiles, and the command line of each (without --epochs)."""
    data = root / "data"
    subprocess.run(
        [sys.executable, str(REPO / "examples" / "make_synthetic_data.py"), str(data),
         "--cases", str(CASES), "--validation", "1", "--shape", *map(str, SHAPE)],
        check=True, capture_output=True,
    )  # fmt: skip
    for target in ("plain", "bundle"):
        subprocess.run(
            [sys.executable, "-m", "claragen", "compile", "-m", str(EXAMPLE),
             "-o", str(root / target), "--target", target],
            check=True, capture_output=True,
        )  # fmt: skip
    plain = [
        sys.executable, str(root / "plain" / "J0001" / "train.py"), "--device", "cpu",
        "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
        "--mmar-ckpt-dir", str(root / "models_plain"),
        "--crop-size", *map(str, SIZES["crop_size"]),
        "--roi-size", *map(str, SIZES["roi_size"]),
    ]  # fmt: skip
    configs = root / "bundle" / "J0001" / "configs"
    bundle = [
        sys.executable, "-m", "monai.bundle", "run",
        "--config_file", str(configs / "train.json"),
        "--meta_file", str(configs / "metadata.json"),
        "--data_root", str(data), "--dataset_json", str(data / "dataset.json"),
        "--mmar_ckpt_dir", str(root / "models_bundle"), "--device", "$torch.device('cpu')",
        "--crop_size", str(SIZES["crop_size"]), "--roi_size", str(SIZES["roi_size"]),
    ]  # fmt: skip
    return {"plain": plain, "bundle": bundle}


def epochs_flag(target: str, n: int) -> list[str]:
    return ["--epochs", str(n)]


def timed(cmd: list[str], first_step: re.Pattern) -> tuple[float, float]:
    """(seconds to the first training step, seconds in all)."""
    start = time.perf_counter()
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
    )
    first = None
    assert proc.stdout is not None
    tail = []
    for line in proc.stdout:
        tail = (tail + [line])[-20:]
        if first is None and first_step.search(line):
            first = time.perf_counter() - start
    if proc.wait() != 0:
        raise RuntimeError("".join(tail))
    total = time.perf_counter() - start
    return (first if first is not None else float("nan")), total


def profile(cmd: list[str], out: Path) -> list[tuple[str, float]]:
    """Seconds by stage of one plain run, from cProfile's cumulative times."""
    start = time.perf_counter()
    subprocess.run(
        [cmd[0], "-m", "cProfile", "-o", str(out), *cmd[1:], "--epochs", "2"],
        check=True, capture_output=True,
    )  # fmt: skip
    wall = time.perf_counter() - start
    stats = pstats.Stats(str(out)).stats  # type: ignore[attr-defined]

    def cumulative(file_part: str, name: str) -> float:
        return sum(
            ct
            for (file, _, func), (_, _, _, ct, _) in stats.items()
            if func == name and file_part in file
        )

    stages = [
        ("data loading (DataLoader.__next__)", cumulative("dataloader.py", "__next__")),
        ("backward (Tensor.backward)", cumulative("_tensor.py", "backward")),
        ("optimizer step", cumulative("optimizer.py", "wrapper")),
        ("validation (validate(), sliding window)", cumulative("train.py", "validate")),
    ]
    train_main = cumulative("train.py", "main")
    rest = train_main - sum(s for _, s in stages)
    stages.append(("forward, dataset caching, the rest of main()", rest))
    stages.append(("start-up (imports, before main())", wall - train_main))
    return stages


def main() -> dict:
    results: dict = {"first_step": {}, "epoch": {}}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cmds = prepare(root)
        samples: dict = {t: {"first": [], "one": [], "four": []} for t in cmds}
        for _ in range(RUNS):  # side by side: each round runs both
            for target, cmd in cmds.items():
                first, one = timed(cmd + epochs_flag(target, 1), FIRST_STEP[target])
                _, four = timed(cmd + epochs_flag(target, 4), FIRST_STEP[target])
                samples[target]["first"].append(first)
                samples[target]["one"].append(one)
                samples[target]["four"].append(four)
        for target, s in samples.items():
            results["first_step"][target] = statistics.median(s["first"])
            results["epoch"][target] = statistics.median(
                (b - a) / 3 for a, b in zip(s["one"], s["four"], strict=True)
            )
        results["profile"] = profile(cmds["plain"], root / "plain.prof")
    return results


if __name__ == "__main__":
    r = main()
    for key in ("first_step", "epoch"):
        print(key, {k: round(v, 2) for k, v in r[key].items()})
    for stage, seconds in r["profile"]:
        print(f"  {stage}: {seconds:.2f} s")
