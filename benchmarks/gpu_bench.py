"""The GPU figures of `--optimize` (issue 18), and the CUDA, AMP and torchrun checks of a
generated script: run by benchmarks/gpu.sh on a CUDA machine.

It needs only python3 with torch there, plus MONAI, pytorch-ignite and nibabel installed
from the wheels `make gpu-prep` put beside the scripts (that machine reaches no
registry, and compiling needs claragen's own dependencies, so the scripts are compiled
here). It builds its own synthetic spleen-sized data (32 volumes of 224x224x128), then:

1. runs the example's literal train.py and its train_fast.py (every rewrite) for the same
   epochs, same seed, one after the other: seconds per epoch (from progress.jsonl, the
   first epoch left out: it fills the cache), peak GPU memory, and the Dice of the last
   epoch;
2. runs the multi_gpu script under `torchrun --nproc_per_node=1` for one epoch.

and writes it all to one JSON file that benchmarks/report.py folds into results.md.
Deterministic for its seed; nothing is downloaded.

    python3 benchmarks/gpu_bench.py BUILD_DIR OUT.json [--epochs 5] [--device cuda]
        [--cases 32] [--shape 224 224 128]

(`--device cpu --cases 4 --shape 64 64 64 --epochs 2 --script-args "--crop-size 32 32
32 --roi-size 64 64 64"` runs the same steps on a CPU, to check the script itself.)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

RUNNER = """
import json, runpy, sys, torch
script, out = sys.argv[1], sys.argv[2]
sys.argv = [script, *sys.argv[3:]]
if torch.cuda.is_available():
    torch.cuda.reset_peak_memory_stats()
try:
    runpy.run_path(script, run_name="__main__")
except SystemExit as exc:
    if exc.code not in (None, 0):
        raise
peak = torch.cuda.max_memory_allocated() if torch.cuda.is_available() else 0
json.dump({"peak_bytes": peak}, open(out, "w"))
"""


def run(cmd: list[str], log: Path, timeout: float) -> float:
    start = time.perf_counter()
    with open(log, "w") as out:
        proc = subprocess.run(
            cmd, stdout=out, stderr=subprocess.STDOUT, timeout=timeout
        )
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:3])} failed; see {log}:\n"
                         + log.read_text()[-3000:])  # fmt: skip
    return time.perf_counter() - start


def train(script: Path, data: Path, ckpt: Path, args: argparse.Namespace) -> dict:
    ckpt.mkdir(parents=True, exist_ok=True)
    peak = ckpt / "peak.json"
    cmd = [sys.executable, "-c", RUNNER, str(script), str(peak),
           "--device", args.device, "--epochs", str(args.epochs),
           "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
           "--mmar-ckpt-dir", str(ckpt), *args.script_args.split()]  # fmt: skip
    wall = run(cmd, ckpt.parent / f"{ckpt.name}.log", args.timeout)
    epochs = [
        json.loads(line) for line in (ckpt / "progress.jsonl").read_text().splitlines()
    ]
    result = json.loads((ckpt / "result.json").read_text())
    steady = [e["epoch_s"] for e in epochs[1:]] or [epochs[0]["epoch_s"]]
    return {
        "epoch_s": sum(steady) / len(steady),
        "first_epoch_s": epochs[0]["epoch_s"],
        "peak_gib": json.loads(peak.read_text())["peak_bytes"] / 2**30,
        "dice": result["values"][-1],
        "key_metric": result["key_metric"],
        "wall_s": wall,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("build", type=Path, help="what `make gpu-prep` wrote")
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--cases", type=int, default=32)
    parser.add_argument("--shape", type=int, nargs=3, default=[224, 224, 128])
    parser.add_argument("--timeout", type=float, default=300)
    parser.add_argument(
        "--script-args",
        default="",
        help='more options of the scripts: "--crop-size 32 32 32"',
    )
    args = parser.parse_args(argv)
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("no CUDA device here")
    data = args.build / "data"
    made = {"cases": args.cases, "shape": args.shape}
    marker = data / "made.json"
    if not marker.is_file() or json.loads(marker.read_text()) != made:
        run([sys.executable, str(args.build / "make_synthetic_data.py"), str(data),
             "--cases", str(args.cases), "--validation", str(max(1, args.cases // 4)),
             "--shape", *map(str, args.shape)],
            args.build / "data.log", args.timeout)  # fmt: skip
        marker.write_text(json.dumps(made))
    scripts = args.build / "out" / "J0001"
    figures = {"device": torch.cuda.get_device_name(0) if args.device == "cuda" else
               platform.processor() or "cpu",
               "torch": torch.__version__, "epochs": args.epochs, "cases": args.cases,
               "shape": args.shape, "date": time.strftime("%Y-%m-%d")}  # fmt: skip
    for name in ("train", "train_fast"):
        figures[name] = train(
            scripts / f"{name}.py", data, args.build / f"m_{name}", args
        )
        print(name, figures[name], flush=True)
    figures["ratio"] = figures["train"]["epoch_s"] / figures["train_fast"]["epoch_s"]
    # torchrun: the multi_gpu script, one process, one epoch
    ddp = args.build / "out_ddp" / "J0001" / "train.py"
    ckpt = args.build / "m_ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "4"}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=1",
           "--standalone", str(ddp), "--device", args.device, "--epochs", "1",
           "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
           "--mmar-ckpt-dir", str(ckpt), *args.script_args.split()]  # fmt: skip
    start = time.perf_counter()
    with open(args.build / "ddp.log", "w") as out:
        code = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT, env=env,
                              timeout=args.timeout).returncode  # fmt: skip
    figures["torchrun"] = {"exit": code, "wall_s": time.perf_counter() - start,
                           "result": (ckpt / "result.json").is_file()}  # fmt: skip
    args.out.write_text(json.dumps(figures, indent=2) + "\n")
    print(
        f"-> {args.out}: literal {figures['train']['epoch_s']:.2f} s/epoch, fast "
        f"{figures['train_fast']['epoch_s']:.2f} s/epoch ({figures['ratio']:.2f}x); "
        f"Dice {figures['train']['dice']:.4f} / {figures['train_fast']['dice']:.4f}; "
        f"torchrun exit {code}"
    )


if __name__ == "__main__":
    main()
