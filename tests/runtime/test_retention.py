"""Checkpoint retention (issue 30, item 3): every job kept every checkpoint, pruned ones
too (936 MB for the 8-job demo). --keep best (the default) keeps the best jobs'
checkpoints only; a pruned or failed job keeps its log, result.json and progress.jsonl.
"""

from pathlib import Path

import pytest

from claragen.cli.search import UsageError, with_retention
from claragen.runtime.context import Context, ContextKey
from claragen.runtime.handlers import CheckpointRetention, MMARHandler, StatsHandler

KEPT_ALWAYS = ("log.txt", "models/result.json", "models/progress.jsonl",
               "models/events.out.tfevents.1")  # fmt: skip
CHECKPOINTS = ("models/model.pt", "models/model_final.pt", "models/resume.pt",
               "models/model.ts", "models/cache/x.npy")  # fmt: skip


def job(run: Path, name: str) -> Path:
    for path in KEPT_ALWAYS + CHECKPOINTS:
        (run / name / path).parent.mkdir(parents=True, exist_ok=True)
        (run / name / path).write_text("x")
    return run / name


def ended(handler, folder: Path, status: str, score, direction="maximize"):
    ctx = Context()
    for key, value in ((ContextKey.JOB_DIR, folder), (ContextKey.JOB_STATUS, status),
                       (ContextKey.SCORE, score), (ContextKey.DIRECTION, direction)):  # fmt: skip
        ctx.set_prop(key, value)
    handler.end_job(ctx)


def has_checkpoints(folder: Path) -> bool:
    return any((folder / p).exists() for p in CHECKPOINTS)


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
def test_the_best_jobs_keep_their_checkpoints_the_others_their_records(tmp_path,
                                                                       direction):  # fmt: skip
    keep = CheckpointRetention(top=2)
    runs = [("W1_1_J1", "ok", 0.5), ("W1_2_J2", "pruned", 0.9), ("W1_3_J3", "ok", 0.7),
            ("W1_4_J4", "failed", None), ("W1_5_J5", "ok", 0.6)]  # fmt: skip
    for name, status, score in runs:
        ended(keep, job(tmp_path, name), status, score, direction)
    best = {"maximize": {"W1_3_J3", "W1_5_J5"}, "minimize": {"W1_1_J1", "W1_5_J5"}}
    for name, _, _ in runs:
        folder = tmp_path / name
        assert has_checkpoints(folder) == (name in best[direction]), name
        assert all((folder / p).exists() for p in KEPT_ALWAYS), name


def test_a_resumed_search_ranks_the_jobs_that_ended_before(tmp_path):
    keep = CheckpointRetention(top=1)
    keep.restore(job(tmp_path, "W1_1_J1"), 0.8, "ok")
    keep.restore(job(tmp_path, "W1_2_J2"), 0.95, "pruned")  # its best before pruning
    ended(keep, job(tmp_path, "W1_3_J3"), "ok", 0.7)
    assert has_checkpoints(tmp_path / "W1_1_J1")
    assert not has_checkpoints(tmp_path / "W1_3_J3")


def test_keep_best_follows_mmar_handlers_count_and_all_keeps_every_one():
    (retention,) = [h for h in with_retention([StatsHandler()], "best")
                    if isinstance(h, CheckpointRetention)]  # fmt: skip
    assert retention.top == 3
    handlers = with_retention([MMARHandler(num_mmars_to_keep=5)], "best")
    assert handlers[-1].top == 5
    assert not any(isinstance(h, CheckpointRetention)
                   for h in with_retention([StatsHandler()], "all"))  # fmt: skip
    with pytest.raises(UsageError, match="--keep 'some': use best or all"):
        with_retention([], "some")
