"""Compile benchmark: how long one compile of the example MMAR takes (median of several).

    make bench

A benchmark, not a test: it prints figures and asserts nothing.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "spleen_41"


def compile_once(out: Path) -> float:
    start = time.perf_counter()
    comp = Compilation(
        EXAMPLE / "config" / "config_train.json",
        CompileOptions(),
        env_path=EXAMPLE / "config" / "environment.json",
        mmar_root=EXAMPLE,
    )
    compile_to_dir(comp, out)
    return time.perf_counter() - start


def main(runs: int = 7) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        first = compile_once(Path(tmp) / "warm")  # imports, template and table loading
        times = [compile_once(Path(tmp) / f"run{i}") for i in range(runs)]
    print(f"first compile (cold): {first * 1000:.0f} ms")
    print(f"compile, median of {runs}: {statistics.median(times) * 1000:.1f} ms")


if __name__ == "__main__":
    main()
