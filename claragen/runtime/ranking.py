"""Which way a search's scores go, and the one order of its jobs (live table, report,
retrain, the best job, MMARHandler's stop_threshold, the studies).

A job's score is its key metric. Clara's key metrics (Dice, accuracy, AUC) are better
higher; a config with no key metric is scored by its mean training loss, better lower
(the script says so in result.json: "direction").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

MAXIMIZE, MINIMIZE = "maximize", "minimize"
DIRECTIONS = (MAXIMIZE, MINIMIZE)
LOSS = "loss"  # the key metric of a config without one (the templates' fallback)

T = TypeVar("T")


def direction_of(key_metric: str | None) -> str:
    return MINIMIZE if key_metric == LOSS else MAXIMIZE


def order(score: float, direction: str) -> float:
    """A sort key: the best score first."""
    return score if direction == MINIMIZE else -score


def better(a: float, b: float, direction: str) -> bool:
    return a < b if direction == MINIMIZE else a > b


def reached(score: float, threshold: float, direction: str) -> bool:
    """MMARHandler's stop_threshold: a score at least as good as it."""
    return score <= threshold if direction == MINIMIZE else score >= threshold


def best(items: Iterable[T], score: Callable[[T], float], direction: str) -> T | None:
    """The item of the best score (the first of equals), or None."""
    return min(items, key=lambda i: order(score(i), direction), default=None)


def ranked(rows: Iterable[T], status: Callable[[T], str],
           score: Callable[[T], Any], direction: str) -> tuple[list[T], list[T], list[T]]:  # fmt: skip
    """(ok jobs by score, best first; pruned jobs by the score they reached, those with
    none last; the others, failed ones, in their order)."""
    rows = list(rows)
    ok = [r for r in rows if status(r) == "ok" and score(r) is not None]
    ok.sort(key=lambda r: order(score(r), direction))
    pruned = [r for r in rows if status(r) == "pruned"]
    pruned.sort(key=lambda r: (score(r) is None, order(score(r) or 0.0, direction)))
    placed = {id(r) for r in ok + pruned}
    failed = [r for r in rows if id(r) not in placed]
    return ok, pruned, failed


def ties(scores: Iterable[float]) -> set[float]:
    """The scores (to 4 digits, as shown) that more than one job has."""
    seen: set[float] = set()
    tied: set[float] = set()
    for s in scores:
        key = round(s, 4)
        (tied if key in seen else seen).add(key)
    return tied
