import pytest

from claragen.transpiler.passes.expand_jobs import (
    JobSpecError,
    expand_jobs,
    float_points,
    grid_size,
    parse_jobs,
)
from claragen.transpiler.space import SearchArg, SearchParam, SearchSpace

LR = SearchParam(
    ":lr", "", "variable", "lr", "float", (SearchArg("lr"),), low=1e-4, high=1e-3
)
UNITS = SearchParam("m:u", "m", "component", "net", "enum", (SearchArg("u"),),
                    choices=([2], [1]))  # fmt: skip
SPACE = SearchSpace([UNITS, LR])
DEFAULTS = {"m:u": [2], ":lr": 2e-4}


def test_default_is_one_job_with_the_given_values():
    (job,) = expand_jobs(SPACE, DEFAULTS, "default")
    assert (job.id, job.values) == ("J0001", DEFAULTS)


def test_grid_is_the_product_in_source_order_last_fastest():
    jobs = expand_jobs(SPACE, DEFAULTS, "grid", float_steps=3)
    assert [j.id for j in jobs] == [f"J{i:04d}" for i in range(1, 7)]
    assert [(j.values["m:u"], j.values[":lr"]) for j in jobs] == [
        ([2], 0.0001), ([2], 0.00055), ([2], 0.001),
        ([1], 0.0001), ([1], 0.00055), ([1], 0.001),
    ]  # fmt: skip
    assert grid_size(SPACE, 3) == 6 and grid_size(SPACE, 4) == 8


def test_float_points_are_tidy_and_include_both_ends():
    assert float_points(LR, 4) == [0.0001, 0.0004, 0.0007, 0.001]
    assert float_points(LR, 1) == [0.00055]


def test_random_is_seeded():
    a = expand_jobs(SPACE, DEFAULTS, "random:8", seed=1)
    b = expand_jobs(SPACE, DEFAULTS, "random:8", seed=1)
    c = expand_jobs(SPACE, DEFAULTS, "random:8", seed=2)
    assert len(a) == 8 and a == b and a != c
    assert all(
        1e-4 <= j.values[":lr"] <= 1e-3 and j.values["m:u"] in ([2], [1]) for j in a
    )


@pytest.mark.parametrize("spec", ["grid:2", "random", "random:0", "all"])
def test_bad_job_specs(spec):
    with pytest.raises(JobSpecError):
        parse_jobs(spec)
