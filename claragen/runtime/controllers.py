"""Controllers recommend the search values of the next jobs (SPEC 6, Clara's API).

    set_search_space(space, ctx)          the space, once
    initial_recommendation(ctx)           -> the first recommendations (at least one)
    refine_recommendation(outcome, ctx)   -> more after each finished job (0..n)

`grid` and `random` recommend the jobs of `claragen compile --jobs grid|random:N` all at
once; `tpe` asks Optuna's TPE sampler for one job per free worker and tells it each score.
All are deterministic for a seed: a resumed search replays the journal through a new
controller and gets the same recommendations back.
"""

from __future__ import annotations

import abc
import logging
from pathlib import Path
from typing import Any

from claragen.runtime.context import (
    Context,
    ContextKey,
    Outcome,
    Recommendation,
    RuntimeSpace,
    SearchResult,
)
from claragen.runtime.params import parse, same
from claragen.runtime.rundir import SearchError
from claragen.transpiler.passes.expand_jobs import expand_jobs, tidy

log = logging.getLogger("claragen.automl")


class Controller(abc.ABC):
    """Base class of controllers, built-in and bring-your-own (which may also just have
    Clara's three methods)."""

    def __init__(self, max_rounds: int | None = None, **_: Any) -> None:
        self.max_rounds = max_rounds
        self.space: RuntimeSpace | None = None
        self._next_id = 1

    def set_search_space(self, space: RuntimeSpace, ctx: Context) -> None:
        self.space = space

    @abc.abstractmethod
    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        """The first recommendations: at least one, or the search ends at once."""

    def refine_recommendation(
        self, outcome: Outcome, ctx: Context
    ) -> list[Recommendation]:
        return []

    def recommend(self, values: dict[str, Any]) -> Recommendation:
        assert self.space is not None
        rec = Recommendation(self._next_id, SearchResult(self.space, dict(values)))
        self._next_id += 1
        return rec


class ListController(Controller):
    """Recommends a fixed list of jobs at once (grid, random); `max_rounds` caps it."""

    def __init__(
        self,
        max_rounds: int | None = None,
        seed: int = 0,
        float_steps: int = 3,
        count: int = 8,
        **kw: Any,
    ) -> None:
        super().__init__(max_rounds, **kw)
        self.seed, self.float_steps, self.count = seed, float_steps, count

    spec = "grid"

    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        assert self.space is not None
        jobs = expand_jobs(
            self.space.space, {}, self.spec_text(), self.float_steps, self.seed
        )
        if self.max_rounds is not None:
            jobs = jobs[: self.max_rounds]
        return [self.recommend(job.values) for job in jobs]

    def spec_text(self) -> str:
        return self.spec


class GridController(ListController):
    """Every combination: enum choices times `float_steps` points per float range."""


class RandomController(ListController):
    """`count` (or `max_rounds`) jobs drawn uniformly with `random.Random(seed)`."""

    spec = "random"

    def spec_text(self) -> str:
        return f"random:{self.max_rounds or self.count}"


class TPEController(Controller):
    """Optuna's TPE sampler (ask/tell): one recommendation per free worker, then one more
        after every score, until `max_rounds` recommendations. Enum parameters are searched as
        the index of their choice; failed jobs are told as failed trials, pruned ones as pruned
        with their key metric by epoch (which TPE ranks them by).
    This study is the sampler's own, in memory (a resumed search replays it); the study on
    disk (study.py) records every job of every controller."""

    def __init__(
        self,
        max_rounds: int | None = None,
        seed: int = 0,
        parallel: int = 1,
        n_startup_trials: int = 4,
        default_first: bool = True,
        enqueue: tuple[str, ...] = (),
        warm_start: str | None = None,
        grid_budget: bool = False,
        float_steps: int = 3,
        **kw: Any,
    ) -> None:
        super().__init__(max_rounds, **kw)
        import optuna  # the runtime's dependency, not the compiler's

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        # several workers ask before the running jobs score: constant_liar counts each
        # running trial as a poor one, so that parallel asks do not pile on one point
        sampler = optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=n_startup_trials, constant_liar=parallel > 1
        )
        self.default_first, self.enqueue = default_first, tuple(enqueue)
        self.warm_start = warm_start  # an earlier run's journal, whose jobs TPE learns
        # no max_rounds given: as many jobs as the grid of the space has (grid_budget)
        self.grid_budget, self.float_steps, self.seed = grid_budget, float_steps, seed
        self.sampler = sampler
        self.study: Any = None  # made with the scores' direction (set_search_space)
        self.parallel = max(1, parallel)
        self.asked = 0
        self.trials: dict[int, Any] = {}

    def set_search_space(self, space: RuntimeSpace, ctx: Context) -> None:
        super().set_search_space(space, ctx)
        direction = ctx.get_prop(ContextKey.DIRECTION) or "maximize"
        self.study = self.optuna.create_study(direction=direction, sampler=self.sampler)
        if self.max_rounds is None and self.grid_budget:
            self.max_rounds = len(expand_jobs(space.space, {}, "grid", self.float_steps,
                                              self.seed))  # fmt: skip
        if self.warm_start is not None:
            self.learn_from(Path(self.warm_start), direction)
        defaults = ctx.get_prop(ContextKey.DEFAULT_VALUES)
        if self.default_first and isinstance(defaults, dict):
            first = self.params_of(defaults)
            if first:  # the config's own values are the first job (enqueue_trial)
                self.study.enqueue_trial(first)
        for text in self.enqueue:  # --enqueue: known-good values, each a job, next
            values = parse(space.params, text, "--enqueue")
            self.study.enqueue_trial(self.params_of(values))

    def learn_from(self, journal: Path, direction: str) -> None:
        """--warm-start: the jobs of an earlier run that ran to their end, told to TPE as
        finished trials (add_trial) before it asks; a job whose values this space cannot
        hold is left out, said with how many."""
        from claragen.runtime.journal import Journal, JournalState

        assert self.space is not None
        state = JournalState.of(Journal(journal).read())
        if (state.header or {}).get("direction", direction) != direction:
            raise SearchError(f"--warm-start {journal.parent.name}: its scores go the "
                              f"other way ({state.header.get('direction')}, this search "  # type: ignore[union-attr]
                              f"{direction}); it cannot teach this search")  # fmt: skip
        d = self.optuna.distributions
        dists = {p.id: d.FloatDistribution(p.low, p.high) if p.type == "float"
                 else d.CategoricalDistribution(list(range(len(p.choices))))
                 for p in self.space.params}  # fmt: skip
        told = left = 0
        for rec in state.recommended:
            end = state.ended.get(rec["job"], {})
            params = self.params_of(rec["values"])
            if end.get("status") != "ok" or end.get("score") is None:
                continue
            if set(rec["values"]) != set(dists) or set(params) != set(dists):
                left += 1  # (another space: its score depended on other values)
                continue
            self.study.add_trial(self.optuna.trial.create_trial(
                params=params, distributions=dists, value=end["score"]))  # fmt: skip
            told += 1
        log.info("--warm-start %s: TPE learns from %d of its jobs%s",
                 journal.parent.name, told,
                 f" ({left} left out: not of this space's parameters and values)"
                 if left else "")  # fmt: skip

    def params_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """Search values as this study's params: a float as it is, in its range; an
        enum as the index of its choice. A value the space cannot hold is left to TPE.
        """
        assert self.space is not None
        out: dict[str, Any] = {}
        for p in self.space.params:
            value = values.get(p.id)
            if value is None or isinstance(value, bool) and p.type == "float":
                continue
            if p.type == "float":
                if isinstance(value, int | float) and p.low <= value <= p.high:
                    out[p.id] = float(value)
            else:  # (type and all: True is not the choice 1)
                index = next(
                    (i for i, c in enumerate(p.choices) if same(c, value)), None
                )
                if index is not None:
                    out[p.id] = index
        return out

    def _ask(self) -> list[Recommendation]:
        if self.max_rounds is not None and self.asked >= self.max_rounds:
            return []
        assert self.space is not None
        trial = self.study.ask()
        values: dict[str, Any] = {}
        for p in self.space.params:
            if p.type == "float":
                # 6 significant digits: what a person would write in a config
                values[p.id] = tidy(trial.suggest_float(p.id, p.low, p.high), 6)
            else:
                index = trial.suggest_categorical(p.id, list(range(len(p.choices))))
                values[p.id] = p.choices[index]
        self.asked += 1
        rec = self.recommend(values)
        self.trials[rec.rec_id] = trial
        return [rec]

    def initial_recommendation(self, ctx: Context) -> list[Recommendation]:
        recs: list[Recommendation] = []
        for _ in range(self.parallel):
            recs += self._ask()
        return recs

    def refine_recommendation(
        self, outcome: Outcome, ctx: Context
    ) -> list[Recommendation]:
        trial = self.trials.pop(outcome.recommendation_id, None)
        if trial is not None:
            if outcome.status == "pruned":
                # its key metric by epoch: TPE ranks a pruned trial by its last value
                for step, value in sorted(
                    outcome.extra.get("intermediate", {}).items()
                ):
                    trial.report(value, step)
                self.study.tell(trial, state=self.optuna.trial.TrialState.PRUNED)
            elif outcome.score is None:
                self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
            else:
                self.study.tell(trial, outcome.score)
        return self._ask()


# Clara's names and ours -> the class. ReinforcementController (Clara's RL search, not
# public) is served by TPE, the model-based search that learns from scores the same way.
BUILTIN: dict[str, type[Controller]] = {
    "grid": GridController,
    "GridController": GridController,
    "random": RandomController,
    "RandomController": RandomController,
    "tpe": TPEController,
    "TPEController": TPEController,
    "ReinforcementController": TPEController,
}
