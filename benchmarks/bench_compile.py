"""Compile benchmarks (make bench): one job, and the example's 256-job grid.

The grid is the example MMAR's search with `--jobs grid --float-steps 4`: 2^4 enum
combinations x 4^2 float points = 256 scripts, black included. Goal: under 5 s on one core.
The process is pinned to one core where the OS allows it. A benchmark prints figures; it
asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "spleen_41"
GRID_GOAL_S = 5.0


def compile_once(out: Path, validation: bool = False, **options) -> tuple[float, int]:
    """Seconds and jobs of one compile of the example into `out`; with `validation`, as
    `claragen compile -m examples/spleen_41` does it: train.py and validate.py."""
    start = time.perf_counter()
    comp = Compilation(
        EXAMPLE / "config" / "config_train.json",
        CompileOptions(**options),
        env_path=EXAMPLE / "config" / "environment.json",
        mmar_root=EXAMPLE,
        validation_path=(
            EXAMPLE / "config" / "config_validation.json" if validation else None
        ),
    )
    manifest = compile_to_dir(comp, out)
    return time.perf_counter() - start, len(manifest["jobs"])


PEAK = """
import resource, sys
from pathlib import Path
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
comp = Compilation(Path(sys.argv[1]), CompileOptions(jobs="grid"))
jobs = len(compile_to_dir(comp, Path(sys.argv[2]))["jobs"])
print(jobs, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def largest_corpus_search(corpus: Path) -> tuple[Path, int] | None:
    """The corpus config whose `--jobs grid` makes the most jobs, and that number."""
    from claragen.transpiler.diagnostics import CompileError
    from claragen.transpiler.passes.expand_jobs import grid_size

    best = None
    rows = (corpus / "INDEX.tsv").read_text().splitlines()
    head = rows[0].split("\t")
    for row in rows[1:]:
        cells = dict(zip(head, row.split("\t"), strict=False))
        if cells.get("has_search") != "Y" or cells.get("kind") != "train":
            continue
        path = corpus / cells["file"]
        try:
            _, ctx = Compilation(path, CompileOptions()).build()
        except CompileError:
            continue
        size = grid_size(ctx.space, 3)
        if best is None or size > best[1]:
            best = (path, size)
    return best


def peak_memory(config: Path, out: Path) -> tuple[int, float]:
    """(jobs, peak resident MiB) of compiling `config --jobs grid` in a fresh process."""
    proc = subprocess.run(
        [sys.executable, "-c", PEAK, str(config), str(out)],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    jobs, kib = proc.stdout.split()
    return int(jobs), int(kib) / 1024


RANDOM_GOAL_S = 5.0  # 1,000 random jobs (issue 17)


def scaling() -> list[tuple[str, int, float]]:
    """(mode, jobs, seconds): random:N for N = 100, 300, 1000, and grids of 16, 256 and
    576 jobs (--float-steps 1, 4, 6), each job a train.py and a validate.py, written, as
    `claragen compile -m examples/spleen_41 --jobs ...` does; the per-job cost should stay
    flat. Then the command itself for random:1000, process start included."""
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (100, 300, 1000):
            seconds, jobs = compile_once(Path(tmp) / f"r{n}", True, jobs=f"random:{n}")
            rows.append(("random", jobs, seconds))
            print(f"random:{n}: {jobs} jobs in {seconds:6.2f} s "
                  f"({seconds / jobs * 1000:.1f} ms/job)")  # fmt: skip
        for steps in (1, 4, 6):
            seconds, jobs = compile_once(Path(tmp) / f"g{steps}", True, jobs="grid",
                                         float_steps=steps)  # fmt: skip
            rows.append(("grid", jobs, seconds))
            print(f"grid, --float-steps {steps}: {jobs} jobs in {seconds:6.2f} s "
                  f"({seconds / jobs * 1000:.1f} ms/job)")  # fmt: skip
        command = [sys.executable, "-m", "claragen", "compile", "-m", str(EXAMPLE),
                   "--jobs", "random:1000", "-o", str(Path(tmp) / "cli")]  # fmt: skip
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        seconds = time.perf_counter() - start
        rows.append(("random, the command", 1000, seconds))
        print(f"claragen compile --jobs random:1000: {seconds:6.2f} s")
    return rows


def main(runs: int = 5, grid_runs: int = 3) -> dict:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cold, _ = compile_once(root / "cold")  # imports, template and table loading
        single = [compile_once(root / f"one{i}")[0] for i in range(runs)]
        grid = [
            compile_once(root / f"grid{i}", jobs="grid", float_steps=4)
            for i in range(grid_runs)
        ]
    jobs = grid[0][1]
    median = statistics.median(t for t, _ in grid)
    print(f"first compile (cold):             {cold * 1000:7.0f} ms")
    print(
        f"one job, median of {runs}:            {statistics.median(single) * 1000:7.1f} ms"
    )
    print(
        f"{jobs}-job grid, median of {grid_runs}:        {median:7.2f} s "
        f"({median / jobs * 1000:.1f} ms/job; goal < {GRID_GOAL_S:.0f} s: "
        f"{'met' if median < GRID_GOAL_S else 'NOT met'})"
    )
    result = {"cold_ms": cold * 1000, "one_ms": statistics.median(single) * 1000,
              "grid_jobs": jobs, "grid_s": median,
              "scaling": scaling()}  # fmt: skip
    corpus = REPO.parent / "shared" / "corpus"
    found = largest_corpus_search(corpus) if corpus.is_dir() else None
    if found is not None:
        with tempfile.TemporaryDirectory() as tmp:
            n, mib = peak_memory(found[0], Path(tmp) / "out")
        result["largest"] = (found[0].name, n, mib)
        print(f"largest corpus search ({found[0].name}): {n} jobs, peak {mib:.0f} MiB")
    return result


if __name__ == "__main__":
    main()
