"""What `make demo`'s search must show, checked on its run folder (issue 17):

the best score at least 0.7 Dice and at least 0.3 above the worst job's,
at least one job pruned, and none at an epoch where every job's key metric was still
within 0.005 of its first epoch's (issue 30: pruning judges learning, not noise),
optuna.log loads as a study with its trials, values, intermediate values and states,
report.html holds the history with the best so far, the learning curves and the
parallel coordinates.

python tools/demo_check.py build/demo/automl/demo
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend


def check(run_dir: Path) -> list[str]:
    ends = [
        e
        for e in map(json.loads, (run_dir / "journal.jsonl").read_text().splitlines())
        if e["event"] == "end"
    ]
    scores = [e["score"] for e in ends if e.get("score") is not None]
    ok = [e["score"] for e in ends if e["status"] == "ok"]
    pruned = [e for e in ends if e["status"] == "pruned"]
    problems = []
    best, worst = max(ok, default=0.0), min(scores, default=0.0)
    print(f"{len(ends)} jobs: best {best:.4f}, worst {worst:.4f}, {len(pruned)} pruned")
    if best < 0.7:
        problems.append(f"the best score {best:.4f} is under 0.7")
    if best - worst < 0.3:
        problems.append(f"best - worst is {best - worst:.4f}, under 0.3")
    if not pruned:
        problems.append("no job was pruned")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = JournalStorage(JournalFileBackend(str(run_dir / "optuna.log")))
    study = optuna.load_study(study_name=run_dir.name, storage=storage)
    states = sorted(t.state.name for t in study.trials)
    print(f"optuna.log: {len(study.trials)} trials, {states}")
    if len(study.trials) != len(ends):
        problems.append(
            f"the study has {len(study.trials)} trials for {len(ends)} jobs"
        )
    if not all(t.intermediate_values for t in study.trials):
        problems.append("a trial has no intermediate values")
    if "PRUNED" not in states or "COMPLETE" not in states:
        problems.append("the study lacks a pruned or a complete trial")
    problems += pruned_on_noise(study)
    page = (run_dir / "report.html").read_text()
    for caption in ("Optimization history", "Learning curves", "Parallel coordinates"):
        if f"<figcaption>{caption}" not in page:
            problems.append(f"report.html has no {caption!r} plot")
    return problems


def pruned_on_noise(study) -> list[str]:
    """Each pruned trial stopped at an epoch where every trial that reached it still
    sat within 0.005 of its own first-epoch value."""
    problems = []
    for trial in study.trials:
        if trial.state.name != "PRUNED" or not trial.intermediate_values:
            continue
        step = max(trial.intermediate_values)
        moved = [
            abs(
                t.intermediate_values[step]
                - t.intermediate_values[min(t.intermediate_values)]
            )
            for t in study.trials
            if step in t.intermediate_values
        ]
        if max(moved) <= 0.005:
            problems.append(
                f"trial {trial.number} was pruned at epoch {step}, where every job's key "
                "metric was within 0.005 of its first epoch's"
            )
    return problems


def main() -> int:
    problems = check(Path(sys.argv[1]))
    for problem in problems:
        print(f"demo check: {problem}", file=sys.stderr)
    if not problems:
        print("demo check: the search learned, pruned and reported as it should")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
