"""The defaults a user of Optuna expects (issue 30, item 2): TPE when no controller is
given (constant_liar with several workers), the config's own values as its first job,
and a grid that --max-jobs cuts is said to be cut."""

from claragen.cli import search as cli
from claragen.runtime.automl_conf import AutomlConf
from claragen.runtime.context import Context, ContextKey, RuntimeSpace
from claragen.runtime.controllers import GridController, TPEController
from claragen.runtime.engine import grid_cut
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
