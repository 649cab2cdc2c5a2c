"""`make bench`: every benchmark, side by side in one run, into benchmarks/results.md."""

from __future__ import annotations

import json
import os
import platform
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bench_compile  # noqa: E402
import bench_fast  # noqa: E402
import bench_linear  # noqa: E402
import bench_runtime  # noqa: E402
import bench_search  # noqa: E402

GPU_RESULTS = HERE / "gpu_results.json"  # written by benchmarks/gpu.sh on a GPU machine
# the search-efficiency rows of the pruning before issue 30 (bench_search.py --claragen)
SEARCH_BEFORE = HERE / "search_before.json"


def search_section(rows: list[dict]) -> list[str]:
    s = bench_search
    before = json.loads(SEARCH_BEFORE.read_text()) if SEARCH_BEFORE.is_file() else []
    lines = [
        "",
        "## Search efficiency: the median pruner against none",
        "",
        f"The demo's search (examples/spleen_41, `--set learning_rate=1e-3`): TPE, seed "
        f"{s.SEED}, {s.JOBS} jobs of {s.EPOCHS} epochs on {s.WORKERS} CPU workers, on "
        "`make demo`'s synthetic data; once with `--pruner median`, once without. Best: "
        "the best key metric of the jobs that ran to their end; job-epochs: the epochs "
        "every job ran (a pruned one to where it was stopped). Goal: the pruned "
        f"search's best within {s.BEST_WITHIN} of the unpruned best, with at most "
        f"{s.EPOCHS_AT_MOST:.0%} of its job-epochs.",
        "",
        "| claragen | pruner | best | job-epochs | jobs pruned |",
        "|---|---|---|---|---|",
    ]
    for row in before + rows:
        lines.append(f"| {row['label']} | {row['pruner']} | {row['best']:.4f} | "
                     f"{row['job_epochs']} | {row['pruned']} of {row['jobs']} |")  # fmt: skip
    for label, group in (("before", before), ("now", rows)):
        if group:
            lines += ["", f"- {label}: {s.verdict(group)}"]
    return lines


def scaling_rows(rows: list) -> list[str]:
    out, before = [], None
    for mode, n, s in rows:
        more = ""
        if before is not None and before[0] == mode and n > before[1]:
            more = f"{(s - before[2]) / (n - before[1]) * 1000:.1f}"
        out.append(f"| {mode} | {n} | {s:.2f} | {s / n * 1000:.1f} | {more} |")
        before = (mode, n, s)
    return out


def fast_section(rows: list[dict]) -> list[str]:
    lines = [
        "",
        "## `--optimize` on the CPU: train_fast.py against train.py",
        "",
        "The example's job J0001 on the same data, compiled literally, with each rewrite "
        "alone (`--optimize --no-...` of the others) and with all; side by side in one "
        f"run, {bench_fast.RUNS} round(s). Seconds per epoch: (a 4-epoch run - a 1-epoch "
        "run) / 3, validation included; Dice: the key metric at the 4th epoch, same seed. "
        "Most rewrites act on CUDA only: on the CPU they should cost nothing and change "
        "no number.",
        "",
        "| variant | seconds per epoch | speed-up over train.py | Dice after 4 epochs |",
        "|---|---|---|---|",
    ]
    lines += [f"| {r['variant']} | {r['epoch_s']:.2f} s | {r['ratio']:.2f}x | "
              f"{r['dice']:.4f} |" for r in rows]  # fmt: skip
    return lines


def gpu_section() -> list[str]:
    lines = ["", "## `--optimize` on a GPU", ""]
    if not GPU_RESULTS.is_file():
        return lines + [
            "Not measured yet: no GPU machine has been at hand. `make gpu-prep` here, "
            "then `benchmarks/gpu.sh` there (the literal and the fast script of the "
            "example for the same epochs on 32 synthetic volumes of 224x224x128, and "
            "torchrun of the multi_gpu script), write benchmarks/gpu_results.json, which "
            "this section then shows. Goal: 5x per epoch at equal Dice (within 0.01)."
        ]
    g = json.loads(GPU_RESULTS.read_text())
    lines += [
        f"Measured on {g['device']} ({g['date']}, torch {g['torch']}): {g['cases']} "
        f"synthetic volumes of {'x'.join(map(str, g['shape']))}, {g['epochs']} epochs "
        "each; seconds per epoch without the first (which fills the cache).",
        "",
        "| | train.py | train_fast.py | ratio |",
        "|---|---|---|---|",
        f"| seconds per epoch | {g['train']['epoch_s']:.2f} s | "
        f"{g['train_fast']['epoch_s']:.2f} s | {g['ratio']:.2f}x |",
        f"| peak GPU memory | {g['train']['peak_gib']:.2f} GiB | "
        f"{g['train_fast']['peak_gib']:.2f} GiB | |",
        f"| {g['train']['key_metric']} after {g['epochs']} epochs | "
        f"{g['train']['dice']:.4f} | {g['train_fast']['dice']:.4f} | |",
        "",
        f"torchrun --nproc_per_node=1 of the multi_gpu script: exit "
        f"{g['torchrun']['exit']} in {g['torchrun']['wall_s']:.0f} s.",
    ]
    return lines


def linear_section(rows: list[dict]) -> list[str]:
    return [
        "",
        "## Linear time on adversarial inputs",
        "",
        "benchmarks/bench_linear.py: each input doubled twice, the best of "
        f"{bench_linear.RUNS} runs; a pass that is linear takes twice as long for twice "
        f"the input, a quadratic one four times (the check fails above "
        f"{bench_linear.MAX_RATIO}x). `scan`: the raw-text depth scan and the JSON parse; "
        "`passes`: the build and every pass of a compile.",
        "",
        *bench_linear.table(rows),
    ]


def machine() -> list[str]:
    import monai
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return [
        f"- date: {time.strftime('%Y-%m-%d')}",
        f"- machine: {cpu}, {os.cpu_count()} cores, {platform.system()} "
        f"{platform.release()}",
        f"- Python {platform.python_version()}, torch {torch.__version__}, "
        f"MONAI {monai.__version__}, torch threads {torch.get_num_threads()}",
    ]


def main() -> None:
    cores = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    compile_figures = bench_compile.main()  # pins this process to one core
    if cores is not None:
        os.sched_setaffinity(0, cores)  # the scripts get every core, as users run them
    linear = bench_linear.main()
    run = bench_runtime.main()
    fast = bench_fast.main()
    search = bench_search.main()
    first, epoch = run["first_step"], run["epoch"]
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (benchmarks/report.py); every figure is a median of "
        "several runs, measured side by side in one run.",
        "",
        *machine(),
        "",
        "## The plain script against `python -m monai.bundle run`",
        "",
        f"The 4.1 example (examples/spleen_41), job J0001, compiled with `--target plain` "
        f"and `--target bundle`, on the same synthetic data ({bench_runtime.CASES} "
        f"training cases of {'x'.join(map(str, bench_runtime.SHAPE))} voxels, crops "
        f"{bench_runtime.SIZES['crop_size'][0]}^3), CPU, median of {bench_runtime.RUNS}.",
        "",
        "| | plain script | monai.bundle run | ratio plain / bundle |",
        "|---|---|---|---|",
        f"| time to the first training step | {first['plain']:.2f} s | "
        f"{first['bundle']:.2f} s | {first['plain'] / first['bundle']:.2f} |",
        f"| seconds per epoch (with validation) | {epoch['plain']:.2f} s | "
        f"{epoch['bundle']:.2f} s | {epoch['plain'] / epoch['bundle']:.2f} |",
        "",
        "Time to the first step: from the process start to the log line of iteration 1. "
        "Seconds per epoch: (a 4-epoch run - a 1-epoch run) / 3.",
        "",
        "## Where the plain script's time goes",
        "",
        "One 2-epoch run under cProfile (profiling slows Python-level code, so the shares "
        "matter more than the seconds):",
        "",
        "| stage | seconds |",
        "|---|---|",
        *(f"| {stage} | {seconds:.2f} |" for stage, seconds in run["profile"]),
        "",
        "## Compiling",
        "",
        f"- first compile in a process (imports, templates, tables): "
        f"{compile_figures['cold_ms']:.0f} ms",
        f"- one job: {compile_figures['one_ms']:.1f} ms",
        f"- the example's {compile_figures['grid_jobs']}-job grid (`--jobs grid "
        f"--float-steps 4`), one core: {compile_figures['grid_s']:.2f} s "
        f"({compile_figures['grid_s'] / compile_figures['grid_jobs'] * 1000:.1f} ms a "
        f"job; goal < {bench_compile.GRID_GOAL_S:.0f} s)",
    ]
    random_1000 = [
        s for mode, n, s in compile_figures["scaling"] if mode == "random" and n == 1000
    ]
    lines += [
        "",
        "Jobs against seconds (one core; each job is a train.py and a validate.py, "
        "written, as `claragen compile -m examples/spleen_41 --jobs ...` makes them; "
        "the per-job cost should stay flat; goal: 1,000 "
        f"random jobs under {bench_compile.RANDOM_GOAL_S:.0f} s"
        + (f", now {random_1000[0]:.1f} s" if random_1000 else "")
        + "):",
        "",
        "| mode | jobs | seconds | ms a job | ms a job more (from the row above) |",
        "|---|---|---|---|---|",
        *scaling_rows(compile_figures["scaling"]),
        "",
        "The models of the enum combinations (16 in the example) go through the passes "
        "and black; the other jobs are stamped from them (claragen/transpiler/stamp.py), "
        "so the cost is a fixed part plus about the last column a job.",
        "",
    ]
    if "largest" in compile_figures:
        name, jobs, mib = compile_figures["largest"]
        lines.append(
            f"- the largest corpus search ({name}, `--jobs grid`, {jobs} jobs): peak "
            f"resident memory {mib:.0f} MiB"
        )
    lines += linear_section(linear) + fast_section(fast) + search_section(search)
    lines += gpu_section()
    bad = [r["family"] for r in linear if r["ratio"] > bench_linear.MAX_RATIO]
    out = HERE / "results.md"
    out.write_text("\n".join(lines) + "\n")
    print(f"-> {out}")
    if bad:
        sys.exit(f"not linear (a doubling took over {bench_linear.MAX_RATIO}x): {bad}")


if __name__ == "__main__":
    main()
