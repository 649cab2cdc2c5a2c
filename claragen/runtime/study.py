"""The search as an Optuna study on disk: `<run dir>/optuna.log` (JournalFileBackend).

    optuna-dashboard automl/<run id>/optuna.log
    optuna.load_study(storage=JournalStorage(JournalFileBackend(".../optuna.log")))

One trial per job, whatever the controller (grid, random, TPE or a user's own): the job's
search values as its params, with the space's distributions (a float's range, an enum's
choices as the config writes them), its per-epoch key metric as intermediate values, its
state (RUNNING, COMPLETE, PRUNED, FAIL) and its score as its value. The controller
recommends; the study records, and feeds the pruner (`--pruner`).

Exactly once, across crashes: a trial carries the user attr `job` (J3), and each step
looks its job's newest trial up before it writes. A job cut short by a crash runs again
in a new trial; the old one ends as FAIL with the user attr `replaced_by_rerun`. A job the
journal says ended but whose trial is not finished is finished on resume.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime import params as names
from claragen.transpiler.space import SearchParam

PRUNERS = ("none", "median", "asha", "hyperband")
STATES = {"ok": "COMPLETE", "pruned": "PRUNED", "failed": "FAIL"}


def choice_label(param_id: str, value: Any) -> Any:
    """An enum choice as an Optuna categorical choice: the parameter's Python value
    (runtime/params.py), or its JSON."""
    return names.label(names.value(param_id, value))


# How far a key metric must move from a job's first-epoch value to count as learning
# (Dice sits near its starting value for the first epochs of every job: that is noise)
LEARNING_TOLERANCE = 0.005


def default_warmup(epochs: int | None) -> int:
    """--pruner-warmup left out: a job's first quarter of epochs (its first epoch, when
    how many is not known)."""
    return max(1, (epochs or 0) // 4)


def make_pruner(name: str, epochs: int | None = None, warmup: int | None = None,
                startup: int | None = None):  # fmt: skip
    """--pruner -> Optuna's pruner (None for `none`); `epochs` is a job's epoch count,
    `warmup` the epochs no job is judged in (--pruner-warmup), `startup` the jobs that
    must end before any is judged (--pruner-startup, the median pruner's)."""
    import optuna

    if name == "none":
        return None
    warmup = default_warmup(epochs) if warmup is None else warmup
    if name == "median":  # below the median of the ended jobs at the same epoch
        return optuna.pruners.MedianPruner(
            n_startup_trials=2 if startup is None else startup, n_warmup_steps=warmup
        )
    if name == "asha":  # rungs at warmup * 4**k epochs: the best quarter goes on
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup))
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(
            min_resource=max(1, warmup), max_resource=epochs or "auto"
        )
    raise ValueError(f"--pruner {name!r}: use one of {', '.join(PRUNERS)}")


class SearchStudy:
    def __init__(self, path: Path, run_id: str, params: tuple[SearchParam, ...],
                 controller: str, pruner: str = "none",
                 epochs: int | None = None, direction: str = "maximize",
                 warmup: int | None = None, startup: int | None = None,
                 metric: str | None = None) -> None:  # fmt: skip
        import optuna
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        safe_io.check_regular(path, safe_io.LIMITS["study"])  # Optuna opens it itself
        self.optuna = optuna
        self.path = path
        self.storage = JournalStorage(JournalFileBackend(str(path)))
        self.study = optuna.create_study(
            study_name=run_id, storage=self.storage, direction=direction,
            load_if_exists=True,
            pruner=make_pruner(pruner, epochs, warmup, startup) or optuna.pruners.NopPruner(),
        )  # fmt: skip
        self.pruner_name = pruner
        self.params = params
        names.names_of(params)  # one name each, or a SearchError that says which
        self.distributions = {p.id: self.distribution(p) for p in params}
        if metric and self.study.metric_names != [metric]:
            with warnings.catch_warnings():  # ("experimental" since Optuna 3.2)
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                self.study.set_metric_names([metric])  # (optuna-dashboard shows it)
        attrs = self.study.user_attrs
        for key, value in (("controller", controller), ("pruner", pruner)):
            if attrs.get(key) != value:
                self.study.set_user_attr(key, value)
        self.trials: dict[str, int] = {}  # job -> trial id
        for trial in self.study.get_trials(deepcopy=False):  # in order: the newest wins
            job = trial.user_attrs.get("job")
            if isinstance(job, str):
                self.trials[job] = trial._trial_id

    def distribution(self, p: SearchParam):
        d = self.optuna.distributions
        if p.type == "float":
            return d.FloatDistribution(p.low, p.high)
        # two alike to Optuna's `==` (True and 1): the values' JSON; two alike once
        # unwrapped: the choices' own
        for labels in (
            [choice_label(p.id, c) for c in p.choices],
            [json.dumps(names.value(p.id, c), ensure_ascii=False) for c in p.choices],
            [json.dumps(c, ensure_ascii=False) for c in p.choices],
        ):
            if not any(a == b for i, a in enumerate(labels) for b in labels[i + 1 :]):
                break
        return d.CategoricalDistribution(labels)

    def params_of(self, values: dict[str, Any]) -> dict[str, Any]:
        """A job's values as its trial's params: each by its name (runtime/params.py)."""
        out = {}
        for p in self.params:
            if p.id not in values:
                continue
            value = values[p.id]
            if p.type == "float":
                out[names.name(p.id)] = float(value)
            else:
                dist = self.distributions[p.id]
                index = next(
                    (i for i, c in enumerate(p.choices) if names.same(c, value)), None
                )
                if index is None:
                    continue
                out[names.name(p.id)] = dist.choices[index]
        return out

    def distributions_of(self, params: dict[str, Any]) -> dict[str, Any]:
        by_name = {names.name(p.id): self.distributions[p.id] for p in self.params}
        return {k: by_name[k] for k in params}

    def state(self, job: str):
        trial_id = self.trials.get(job)
        return None if trial_id is None else self.storage.get_trial(trial_id).state

    def start(self, job: str, name: str, values: dict[str, Any]) -> None:
        """The job's trial, RUNNING: a new one, or its own again when it reruns."""
        TrialState = self.optuna.trial.TrialState
        trial_id = self.trials.get(job)
        finished = (
            trial_id is not None
            and self.storage.get_trial(trial_id).state.is_finished()
        )
        # A finished trial of a job that starts again: one that Ctrl-C interrupted, or
        # the study and the journal disagree (a study from a run the journal lost, an
        # edited journal); the journal is the record, so the job gets a new trial and
        # the old one stays.
        if trial_id is not None and not finished:
            # an attempt a crash cut short: ended as FAIL, marked, and the rerun gets a
            # trial of its own (a pruner must not judge it on the old attempt's epochs)
            self.storage.set_trial_user_attr(trial_id, "replaced_by_rerun", True)
            self.storage.set_trial_state_values(trial_id, TrialState.FAIL)
        params = self.params_of(values)
        template = self.optuna.trial.create_trial(
            state=TrialState.RUNNING,
            params=params,
            distributions=self.distributions_of(params),
            user_attrs={"job": job, "name": name},
        )
        self.trials[job] = self.storage.create_new_trial(
            self.study._study_id, template_trial=template
        )

    def report(self, job: str, step: int, value: float) -> bool:
        """An epoch's key metric; True when the pruner says to stop the job."""
        trial_id = self.trials.get(job)
        if trial_id is None or self.storage.get_trial(trial_id).state.is_finished():
            return False  # (a finished trial takes no values: Optuna would raise)
        self.storage.set_trial_intermediate_value(trial_id, step, value)
        if self.pruner_name == "none" or not self.learning_started(step):
            return False
        trial = self.storage.get_trial(trial_id)
        return bool(self.study.pruner.prune(self.study, trial))

    def learning_started(self, step: int) -> bool:
        """Whether any job's key metric at `step` has moved from its first epoch's value
        by more than LEARNING_TOLERANCE. Before, every job still sits where it started,
        and a pruner would judge noise: none is judged (Optuna's pruner judges the
        rest)."""
        for trial in self.study.get_trials(deepcopy=False):
            values = trial.intermediate_values
            if step in values and values:
                first = values[min(values)]
                if abs(values[step] - first) > LEARNING_TOLERANCE:
                    return True
        return False

    def intermediate(self, job: str) -> dict[int, float]:
        """The job's key metric by epoch, as its trial holds it."""
        trial_id = self.trials.get(job)
        if trial_id is None:
            return {}
        return dict(self.storage.get_trial(trial_id).intermediate_values)

    def fail(self, job: str, why: str) -> None:
        """The job's RUNNING trial ends FAIL, with the user attr `why` (True):

        - `retried`: a failed attempt that runs again (--retries), in a trial of its
          own, as Optuna's RetryFailedTrialCallback has it;
        - `interrupted`: Ctrl-C (or SIGTERM) stopped it, at once (a resume runs the job
          again in a trial of its own: Optuna reopens no finished trial);
        - `not_run_again`: a crash cut its attempt short and the search did not run it
          again before it ended (--max-jobs or a stop came first).
        A finished trial stays as it is."""
        trial_id = self.trials.get(job)
        if trial_id is None or self.storage.get_trial(trial_id).state.is_finished():
            return
        self.storage.set_trial_user_attr(trial_id, why, True)
        self.storage.set_trial_state_values(trial_id, self.optuna.trial.TrialState.FAIL)

    def end(self, job: str, status: str, score: float | None) -> None:
        """The job's trial finished as the job ended (once: a finished trial stays)."""
        TrialState = self.optuna.trial.TrialState
        trial_id = self.trials.get(job)
        if trial_id is None or self.storage.get_trial(trial_id).state.is_finished():
            return
        state = TrialState[STATES.get(status, "FAIL")]
        values = [score] if state == TrialState.COMPLETE and score is not None else None
        if state == TrialState.COMPLETE and values is None:
            state = TrialState.FAIL
        self.storage.set_trial_state_values(trial_id, state, values)
