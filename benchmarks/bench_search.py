"""Search efficiency (make bench; issue 30): the demo's search with the median pruner and
without it, same seed, same jobs asked of TPE, on the demo's synthetic data on the CPU.

    python benchmarks/bench_search.py [--claragen "python -m claragen"] [--label L]

For each: the best score of the jobs that ran to their end, and the job-epochs the
search spent (the epochs every job ran, pruned ones to the epoch they were stopped at).
Goal: the pruned search's best within 0.02 of the unpruned best, with at most 60% of its
job-epochs. `--claragen` runs another checkout's claragen (the rows before the pruning
change were measured so: commit 58efb48, kept in search_before.json).
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "spleen_41"
JOBS, EPOCHS, WORKERS, SEED = 8, 16, 2, 0
WINDOW = ["--crop-size", "32", "32", "32", "--roi-size", "48", "48", "48"]
BEST_WITHIN, EPOCHS_AT_MOST = 0.02, 0.60


def search(claragen: list[str], data: Path, out: Path, pruner: str) -> dict:
    job_args = shlex.join(["--epochs", str(EPOCHS), "--device", "cpu", "--data-root",
                           str(data), "--dataset-json", str(data / "dataset.json"),
                           *WINDOW])  # fmt: skip
    subprocess.run(
        [*claragen, "automl", "-m", str(EXAMPLE), "-o", str(out), "--run-id", pruner,
         "--workers", str(WORKERS), "--controller", "tpe", "--max-jobs", str(JOBS),
         "--seed", str(SEED), "--pruner", pruner, "--no-tracking",
         "--set", "learning_rate=1e-3", "--job-args", job_args],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    run = out / pruner
    ends = [e for e in map(json.loads, (run / "journal.jsonl").read_text().splitlines())
            if e["event"] == "end"]  # fmt: skip
    spent = 0
    for e in ends:
        progress = run / e["name"] / "models" / "progress.jsonl"
        spent += len(progress.read_text().splitlines()) if progress.is_file() else 0
    ok = [e["score"] for e in ends if e["status"] == "ok" and e["score"] is not None]
    return {"pruner": pruner, "best": max(ok, default=float("nan")),
            "job_epochs": spent, "pruned": sum(e["status"] == "pruned" for e in ends),
            "jobs": len(ends)}  # fmt: skip


def main(claragen: list[str] | None = None, label: str = "now") -> list[dict]:
    claragen = claragen or [sys.executable, "-m", "claragen"]
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        subprocess.run([sys.executable, str(REPO / "examples" / "make_synthetic_data.py"),
                        str(data)], check=True, capture_output=True)  # fmt: skip
        rows = [search(claragen, data, Path(tmp) / "automl", p)
                for p in ("none", "median")]  # fmt: skip
    for row in rows:
        row["label"] = label
    return rows


def verdict(rows: list[dict]) -> str:
    none = next(r for r in rows if r["pruner"] == "none")
    median = next(r for r in rows if r["pruner"] == "median")
    gap = none["best"] - median["best"]
    share = median["job_epochs"] / max(none["job_epochs"], 1)
    met = gap <= BEST_WITHIN and share <= EPOCHS_AT_MOST
    return (f"best {gap:+.4f} below the unpruned (goal: at most {BEST_WITHIN}), "
            f"{share:.0%} of its job-epochs (goal: at most {EPOCHS_AT_MOST:.0%}): "
            + ("met" if met else "not met"))  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--claragen", default=None)
    parser.add_argument("--label", default="now")
    parser.add_argument("--json", type=Path, default=None)
    given = parser.parse_args()
    found = main(shlex.split(given.claragen) if given.claragen else None, given.label)
    print(json.dumps(found, indent=2))
    print(verdict(found))
    if given.json:
        given.json.write_text(json.dumps(found, indent=2) + "\n")
