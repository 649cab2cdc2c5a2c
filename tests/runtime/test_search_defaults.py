"""The defaults a user of Optuna expects (issue 30, item 2): TPE when no controller is
given (constant_liar with several workers), the config's own values as its first job,
and a grid that --max-jobs cuts is said to be cut."""

import re

from claragen.cli import search as cli
from claragen.runtime.automl_conf import AutomlConf
from claragen.runtime.context import Context, ContextKey, RuntimeSpace
from claragen.runtime.controllers import GridController, TPEController
from claragen.runtime.options import grid_cut
from tests.runtime.test_parts import SPACE


def controller(**given):
    args = cli.with_defaults(cli.AutomlArgs(**given))
    return cli.build_controller(args, AutomlConf("none"), 2, [])


def test_no_controller_given_is_tpe_with_the_grids_budget_and_constant_liar():
    tpe = controller()
    assert isinstance(tpe, TPEController)
    assert tpe.sampler._constant_liar and tpe.default_first
    tpe.set_search_space(RuntimeSpace(SPACE), Context())
    assert tpe.max_rounds == 3 * 3  # the grid: 3 float steps times 3 choices
    assert isinstance(controller(controller="grid"), GridController)
    assert controller(max_jobs=4).max_rounds is None  # --max-jobs ends it instead
    one = cli.build_controller(
        cli.with_defaults(cli.AutomlArgs()), AutomlConf("none"), 1, []
    )
    assert not one.sampler._constant_liar  # one worker: nothing runs beside its ask


def recommendations(tpe, defaults):
    ctx = Context()
    ctx.set_prop(ContextKey.DEFAULT_VALUES, defaults)
    tpe.set_search_space(RuntimeSpace(SPACE), ctx)
    return [r.values for r in tpe.initial_recommendation(ctx)]


def test_tpes_first_job_is_the_configs_own_values():
    own = {":lr": 0.2, "train.model:n": [3]}
    first, second = recommendations(TPEController(seed=0, parallel=2), own)
    assert first == own and second != own
    # --no-default-first, or a value the space cannot hold: TPE's own choice
    assert recommendations(TPEController(seed=0, default_first=False), own)[0] != own
    (first,) = recommendations(
        TPEController(seed=0), {":lr": 7.0, "train.model:n": [3]}
    )
    assert first["train.model:n"] == [3] and first[":lr"] != 7.0
    assert controller(default_first=False).default_first is False
    assert controller(controller="tpe", default_first=False).default_first is False


def test_a_grid_cut_by_max_jobs_is_said():
    grid = GridController()
    message = grid_cut(grid, 144, 4)
    assert message is not None and "runs 4 of the grid's 144 jobs" in message
    assert grid_cut(grid, 144, None) is None and grid_cut(grid, 4, 4) is None
    assert grid_cut(TPEController(), 144, 4) is None


def test_enqueued_values_are_tpes_next_jobs_by_name_or_id():
    """--enqueue (issue 30, item 9): known-good values, each a job, after the config's
    own; a parameter by its one name or its id, its value as Python writes it."""
    import pytest

    from claragen.runtime.rundir import SearchError

    own = {":lr": 0.2, "train.model:n": [3]}
    tpe = TPEController(seed=0, parallel=3,
                        enqueue=("lr=0.4 train.model:n=1", ":lr=0.3"))  # fmt: skip
    first, second, third = recommendations(tpe, own)
    assert first == own
    assert second == {":lr": 0.4, "train.model:n": [1]}
    assert third[":lr"] == 0.3  # (n: TPE's own choice)
    for text, said in [("rate=0.3", "'rate' is no parameter of the search"),
                       ("lr=0.95", "out of its range"),
                       ("train.model:n=7", "not one of its choices (1, 2, 3;"),
                       ("lr", "write NAME=VALUE")]:  # fmt: skip
        with pytest.raises(SearchError, match=re.escape(said)):
            recommendations(TPEController(seed=0, enqueue=(text,)), own)
    # only TPE takes them: grid and random run their own jobs
    with pytest.raises(cli.UsageError, match="--enqueue"):
        controller(controller="grid", enqueue=("lr=0.3",))
    assert controller(enqueue=("lr=0.3",)).enqueue == ("lr=0.3",)


def test_a_warm_start_tells_tpe_an_earlier_runs_ended_jobs(tmp_path):
    """--warm-start (issue 30, item 9): the earlier run's jobs that ran to their end
    are TPE's first trials, with their scores; a failed job, and one whose values this
    space cannot hold, are left out; a run scored the other way cannot teach."""
    import json

    import pytest

    from claragen.runtime.rundir import SearchError

    lines = [{"event": "search", "run_id": "a", "direction": "maximize"}]
    for i, (values, status, score) in enumerate([
        ({":lr": 0.2, "train.model:n": [1]}, "ok", 0.5),
        ({":lr": 0.3, "train.model:n": [2]}, "failed", None),
        ({":lr": 0.4, "train.model:n": [7]}, "ok", 0.9),  # (n=7: not in this space)
        ({":lr": 0.45, "train.model:n": [3]}, "ok", 0.7),
    ], start=1):  # fmt: skip
        lines.append({"event": "recommend", "job": f"J{i}", "rec_id": i,
                      "values": values})  # fmt: skip
        lines.append({"event": "end", "job": f"J{i}", "name": f"W1_{i}_J{i}",
                      "status": status, "score": score})  # fmt: skip
    journal = tmp_path / "a" / "journal.jsonl"
    journal.parent.mkdir()
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines))
    tpe = TPEController(seed=0, warm_start=str(journal))
    recommendations(tpe, {":lr": 0.2, "train.model:n": [3]})
    told = [t for t in tpe.study.trials if t.state.name == "COMPLETE"]
    assert [(t.params, t.value) for t in told] == [
        ({":lr": 0.2, "train.model:n": 0}, 0.5), ({":lr": 0.45, "train.model:n": 2}, 0.7)
    ]  # fmt: skip
    lines[0]["direction"] = "minimize"
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines))
    with pytest.raises(SearchError, match="its scores go the other way"):
        recommendations(TPEController(seed=0, warm_start=str(journal)), {})
    # the CLI finds it by run id in the automl folder, and refuses what is none
    args = cli.with_defaults(cli.AutomlArgs(warm_start="a", run_id="b"))
    assert cli.warm_start(args, tmp_path) == journal
    for bad in ("b", "nothing", "../a"):
        with pytest.raises(cli.UsageError, match="--warm-start"):
            cli.warm_start(cli.AutomlArgs(warm_start=bad, run_id="b"), tmp_path)


def test_the_live_tables_total_is_what_the_search_runs():
    """An attack found `3/2 ended` for --controller tpe --max-jobs 8 on 2 workers."""
    from types import SimpleNamespace

    from claragen.runtime.live import Display
    from claragen.runtime.summary import to_display

    def total(controller, max_jobs, jobs=2):
        search = SimpleNamespace(
            controller=controller, jobs=[None] * jobs, direction="maximize",
            options=SimpleNamespace(max_jobs=max_jobs, workers=[1, 2]),
            key_metric=lambda: "val_dice",
        )  # fmt: skip
        display = Display("t")
        to_display(display, search)
        return display.total

    assert total(TPEController(), 8) == 8
    assert total(TPEController(max_rounds=5), 8) == 5
    assert total(TPEController(), None) is None
    assert total(GridController(), None, jobs=12) == 12
    assert total(GridController(), 4, jobs=12) == 4


def test_a_bad_enqueue_is_said_before_the_run_folder_is_made(tmp_path):
    """An attack found the bad value recorded in the journal first: the run id could
    then be neither rerun nor resumed."""
    import pytest

    from tests.runtime.test_automl import make_mmar

    mmar = make_mmar(tmp_path)
    for bad, said in [("learnig_rate=1", "is no parameter"),
                      ("x='unbalanced", "No closing quotation")]:  # fmt: skip
        args = cli.with_defaults(cli.AutomlArgs(mmar=mmar, controller="tpe",
                                                enqueue=(bad,), tracking=False))  # fmt: skip
        with pytest.raises(cli.UsageError, match=said):
            cli.make_search(args, None)
        assert not (mmar / "automl").exists()


def test_a_warm_start_of_another_space_teaches_nothing(tmp_path):
    """Jobs of a run that searched other parameters scored with values this space does
    not know: left out (an attack found them told to TPE without the extra one)."""
    import json

    lines = [{"event": "search", "run_id": "a", "direction": "maximize"},
             {"event": "recommend", "job": "J1", "rec_id": 1,
              "values": {":lr": 0.2, "train.model:n": [1], ":other": [3]}},
             {"event": "end", "job": "J1", "name": "W1_1_J1", "status": "ok",
              "score": 0.9}]  # fmt: skip
    journal = tmp_path / "a" / "journal.jsonl"
    journal.parent.mkdir()
    journal.write_text("".join(json.dumps(x) + "\n" for x in lines))
    tpe = TPEController(seed=0, warm_start=str(journal))
    recommendations(tpe, {})
    assert not [t for t in tpe.study.trials if t.state.name == "COMPLETE"]


def test_a_warm_start_from_a_run_of_another_config_is_a_warning_naming_both(
    tmp_path, caplog
):
    """TPE still learns (the user asked), but the scores came from another config: the
    warning names the earlier run's config and this search's."""
    import json
    import logging

    from claragen.cli.search import AutomlArgs, warm_start

    mine, other = tmp_path / "a" / "config_train.json", tmp_path / "b" / "config.json"
    for run, config in (("r1", other), ("r2", mine)):
        (tmp_path / "automl" / run).mkdir(parents=True)
        (tmp_path / "automl" / run / "journal.jsonl").write_text(json.dumps(
            {"event": "search", "run_id": run, "config": str(config)}) + "\n")  # fmt: skip
    args = AutomlArgs(run_id="r3", warm_start="r1")
    with caplog.at_level(logging.WARNING, logger="claragen"):
        assert warm_start(args, tmp_path / "automl", mine).name == "journal.jsonl"
    (warning,) = [r.getMessage() for r in caplog.records]
    assert repr(str(other)) in warning and repr(str(mine)) in warning
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="claragen"):
        warm_start(AutomlArgs(run_id="r3", warm_start="r2"), tmp_path / "automl", mine)
    assert not caplog.records  # the same config: nothing to say


def test_a_warm_start_compares_the_resolved_config_and_survives_odd_paths(
    tmp_path, caplog
):
    """The header's config as typed (relative) is the same file as this search's: no
    warning (the recorded options hold it resolved); a path that cannot be resolved (a
    null byte) is another config, said, not a traceback (both found by an attack)."""
    import json
    import logging

    from claragen.cli.search import AutomlArgs, warm_start

    mine = tmp_path / "mmar" / "config" / "config_train.json"
    mine.parent.mkdir(parents=True)
    mine.write_text("{}")
    for run, header in (
        ("rel", {"config": "config/config_train.json",
                 "options": {"config": str(mine.resolve())}}),
        ("nul", {"config": "/x/\u0000y.json"}),
    ):  # fmt: skip
        (tmp_path / "automl" / run).mkdir(parents=True)
        (tmp_path / "automl" / run / "journal.jsonl").write_text(
            json.dumps({"event": "search", "run_id": run, **header}) + "\n"
        )
    with caplog.at_level(logging.WARNING, logger="claragen"):
        warm_start(AutomlArgs(run_id="x", warm_start="rel"), tmp_path / "automl", mine)
    assert not caplog.records
    with caplog.at_level(logging.WARNING, logger="claragen"):
        warm_start(AutomlArgs(run_id="x", warm_start="nul"), tmp_path / "automl", mine)
    (warning,) = [r.getMessage() for r in caplog.records]
    assert "\\x00" in warning
