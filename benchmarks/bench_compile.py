"""Compile benchmarks (make bench): one job, and the example's 256-job grid.

The grid is the example MMAR's search with `--jobs grid --float-steps 4`: 2^4 enum
combinations x 4^2 float points = 256 scripts, black included. Goal: under 5 s on one core.
The process is pinned to one core where the OS allows it. A benchmark prints figures; it
asserts nothing.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from pathlib import Path

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "spleen_41"
GRID_GOAL_S = 5.0


def compile_once(out: Path, **options) -> tuple[float, int]:
    start = time.perf_counter()
    comp = Compilation(
        EXAMPLE / "config" / "config_train.json",
        CompileOptions(**options),
        env_path=EXAMPLE / "config" / "environment.json",
        mmar_root=EXAMPLE,
    )
    manifest = compile_to_dir(comp, out)
    return time.perf_counter() - start, len(manifest["jobs"])


def main(runs: int = 5, grid_runs: int = 3) -> None:
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


if __name__ == "__main__":
    main()
