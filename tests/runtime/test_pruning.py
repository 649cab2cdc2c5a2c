"""Pruning that judges learning, not noise (issue 30, item 1): no job is judged before
some job's key metric has moved from its first epoch's, nor within --pruner-warmup
epochs; Optuna's pruner judges the rest; a pruned job's epochs reach the sampler."""

import json

import pytest

from claragen.runtime.context import Context, Outcome, RuntimeSpace
from claragen.runtime.controllers import TPEController
from claragen.runtime.journal import check_record
from claragen.runtime.study import LEARNING_TOLERANCE, SearchStudy, make_pruner
from tests.runtime.test_parts import SPACE

PARAMS = SPACE.params


def study_of(tmp_path, pruner="median", epochs=8, warmup=None, startup=None):
    return SearchStudy(tmp_path / "optuna.log", "r", PARAMS, "TPEController", pruner,
                       epochs, "maximize", warmup, startup)  # fmt: skip


def run_job(study, job, values, end=True):
    """The job's epochs reported in turn: the epoch the pruner stopped it at, or None."""
    study.start(job, f"W1_{job[1:]}_{job}", {":lr": 0.1, "train.model:n": [1]})
    for epoch, value in enumerate(values, start=1):
        if study.report(job, epoch, value):
            study.end(job, "pruned", max(values[:epoch]))
            return epoch
    if end:
        study.end(job, "ok", max(values))
    return None


def test_no_job_is_judged_while_every_job_sits_at_its_first_value(tmp_path):
    """The demo's failure: every job at its initial Dice for the first epochs, and the
    median pruner stopped those a hair below the others' median."""
    study = study_of(tmp_path, warmup=0, startup=2)
    flat = [0.033] * 4
    assert run_job(study, "J1", flat + [0.3, 0.6, 0.8, 0.9]) is None
    assert run_job(study, "J2", flat + [0.2, 0.5, 0.7, 0.85]) is None
    # a hair below the median while every job still sits where it started: not judged
    below = [0.0325, 0.0326, 0.0325, 0.0326]
    assert run_job(study, "J3", below + [0.01, 0.01, 0.01, 0.01]) == 5
    assert study.intermediate("J3") == {1: 0.0325, 2: 0.0326, 3: 0.0325, 4: 0.0326,
                                        5: 0.01}  # fmt: skip


def test_once_a_job_learns_the_pruner_judges(tmp_path):
    study = study_of(tmp_path, warmup=0, startup=2)
    run_job(study, "J1", [0.03, 0.3, 0.6, 0.8])
    run_job(study, "J2", [0.03, 0.2, 0.5, 0.7])
    # at epoch 2 the others moved by more than the tolerance: J3, behind, is stopped
    assert run_job(study, "J3", [0.03, 0.03 + LEARNING_TOLERANCE / 2, 0.1, 0.1]) == 2
    assert study.learning_started(2) and not study.learning_started(1)


def test_the_warmup_and_the_startup_are_the_users(tmp_path):
    pruner = make_pruner("median", epochs=40, warmup=3, startup=5)
    assert pruner._n_warmup_steps == 3 and pruner._n_startup_trials == 5
    default = make_pruner("median", epochs=40)
    assert default._n_warmup_steps == 10 and default._n_startup_trials == 2
    assert make_pruner("asha", epochs=40, warmup=0)._min_resource == 1
    study = study_of(tmp_path, warmup=3, startup=2)
    run_job(study, "J1", [0.0, 0.5, 0.6, 0.7, 0.8])
    run_job(study, "J2", [0.0, 0.5, 0.6, 0.7, 0.8])
    # moved and far behind from epoch 2, but not judged before epoch 3 (Optuna judges a
    # step once it reaches n_warmup_steps)
    assert run_job(study, "J3", [0.0, 0.1, 0.1, 0.1, 0.1]) == 3


def test_the_sampler_sees_a_pruned_jobs_epochs():
    """TPE ranks a pruned trial by its last intermediate value: told PRUNED without
    them, it could not tell a job pruned at 0.19 from one pruned at 0.033."""
    controller = TPEController(seed=0, parallel=1)
    ctx = Context()
    controller.set_search_space(RuntimeSpace(SPACE), ctx)
    (rec,) = controller.initial_recommendation(ctx)
    outcome = Outcome(rec.rec_id, None, rec, "W1_1_J1",
                      {"intermediate": {1: 0.03, 2: 0.19}, "pruned_score": 0.19},
                      "pruned")  # fmt: skip
    controller.refine_recommendation(outcome, ctx)
    (trial,) = [t for t in controller.study.trials if t.state.name == "PRUNED"]
    assert trial.intermediate_values == {1: 0.03, 2: 0.19}


@pytest.mark.parametrize("values, ok", [
    ([[1, 0.1], [2, 0.2]], True),
    ([], True),
    ([[0, 0.1]], False),  # epochs count from 1
    ([[1, "0.1"]], False),
    ([[1]], False),
    ({"1": 0.1}, False),
])  # fmt: skip
def test_a_journal_end_records_the_jobs_epochs_checked(values, ok):
    record = {"event": "end", "job": "J1", "name": "W1_1_J1", "status": "pruned",
              "values": values}  # fmt: skip
    problem = check_record(json.loads(json.dumps(record)), 1)
    assert (problem is None) == ok, problem


@pytest.mark.parametrize("given, message", [
    ({"pruner_warmup": 2}, "--pruner-warmup tunes a pruner: give --pruner too"),
    ({"pruner_startup": 3}, "--pruner-startup tunes a pruner: give --pruner too"),
    ({"pruner": "asha", "pruner_startup": 3}, "--pruner-startup is the median pruner's"),
])  # fmt: skip
def test_pruner_settings_without_their_pruner_are_usage_errors(tmp_path, capsys, given,
                                                               message):  # fmt: skip
    from claragen.cli import search as cli
    from tests.conftest import copy_example

    args = cli.AutomlArgs(mmar=copy_example(tmp_path), run_id="x", tracking=False,
                          **given)  # fmt: skip
    assert cli.run_automl(args) == 2
    assert message in capsys.readouterr().err


def test_the_demo_check_finds_a_job_pruned_on_noise(tmp_path):
    """tools/demo_check.py (make demo): a study in which a job was stopped while every
    job sat at its first value is named; one where the others had moved is not."""
    import runpy

    from tests.conftest import REPO

    pruned_on_noise = runpy.run_path(str(REPO / "tools" / "demo_check.py"))[
        "pruned_on_noise"
    ]
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    study = study_of(tmp_path / "a", pruner="none")
    run_job(study, "J1", [0.03, 0.031, 0.5])
    run_job(study, "J2", [0.03, 0.5, 0.6])
    run_job(study, "J3", [0.03, 0.0301], end=False)
    study.end("J3", "pruned", 0.0301)
    assert pruned_on_noise(study.study) == []  # J2 had moved at epoch 2
    study = study_of(tmp_path / "b", pruner="none")
    run_job(study, "J1", [0.03, 0.031, 0.5])
    run_job(study, "J2", [0.03, 0.0302], end=False)
    study.end("J2", "pruned", 0.0302)
    (problem,) = pruned_on_noise(study.study)
    assert "trial 1 was pruned at epoch 2" in problem
