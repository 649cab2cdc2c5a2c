"""Expand a search space into jobs: the values of every parameter, per job.

    space: enum train.model:num_res_units [[2], [1]]; float :learning_rate [1e-4, 1e-3]
    --jobs grid --float-steps 2
    -> J0001 {num_res_units: [2], learning_rate: 0.0001}
       J0002 {num_res_units: [2], learning_rate: 0.001}
       J0003 {num_res_units: [1], learning_rate: 0.0001} ...

`default` is one job with the config's own values; `grid` the product of every enum's
choices and `--float-steps` evenly spaced points of every float range (both ends
included); `random:N` N jobs drawn with `random.Random(seed)`, floats uniform in range and
enum choices uniform. Parameters vary in source order, the last fastest; job ids are
J0001, J0002, ... in that order.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass
from typing import Any

from claragen.transpiler.space import SearchParam, SearchSpace

_RANDOM = re.compile(r"^random:(\d{1,12})$")
# The most jobs one compile or search makes: the grid is counted before it is expanded, so
# that a search of 10^12 combinations is refused at once, with its size.
MAX_JOBS = 10_000


class JobSpecError(ValueError):
    """A `--jobs` value that is not default, grid or random:N."""


@dataclass(frozen=True)
class Job:
    id: str
    values: dict[str, Any]  # parameter id -> enum choice (one value per arg) or float


def job_id(index: int) -> str:
    return f"J{index + 1:04d}"


def tidy(x: float, digits: int) -> float:
    """Readable floats in generated code: 0.00039999999999999996 -> 0.0004."""
    return float(f"{x:.{digits}g}")


def float_points(param: SearchParam, steps: int) -> list[float]:
    if steps == 1:
        return [tidy((param.low + param.high) / 2, 12)]
    width = param.high - param.low
    return [tidy(param.low + width * i / (steps - 1), 12) for i in range(steps)]


def parse_jobs(spec: str) -> tuple[str, int]:
    """`--jobs` text -> (mode, count)."""
    if spec in ("default", "grid"):
        return spec, 1
    match = _RANDOM.match(spec)
    if match and 1 <= int(match.group(1)) <= MAX_JOBS:
        return "random", int(match.group(1))
    if match:
        raise JobSpecError(f"--jobs {spec!r}: N is at most {MAX_JOBS:,}")
    raise JobSpecError(f"--jobs {spec!r}: use default, grid or random:N (N >= 1)")


def expand_jobs(
    space: SearchSpace,
    defaults: dict[str, Any],
    spec: str,
    float_steps: int = 3,
    seed: int = 0,
) -> list[Job]:
    mode, count = parse_jobs(spec)
    if float_steps < 1:
        raise JobSpecError("--float-steps must be at least 1")
    if mode == "default" or not space:
        return [Job(job_id(0), dict(defaults))]
    if mode == "grid":
        size = grid_size(space, float_steps)
        if size > MAX_JOBS:
            raise JobSpecError(
                f"the grid has {size:,} jobs, more than {MAX_JOBS:,}: search fewer "
                "values, lower --float-steps, or draw some with --jobs random:N"
            )
        axes = [
            list(p.choices) if p.type == "enum" else float_points(p, float_steps)
            for p in space.params
        ]
        return [
            Job(job_id(i), {p.id: v for p, v in zip(space.params, combo, strict=True)})
            for i, combo in enumerate(itertools.product(*axes))
        ]
    rng = random.Random(seed)
    jobs = []
    for i in range(count):
        values: dict[str, Any] = {}
        for p in space.params:
            if p.type == "enum":
                values[p.id] = p.choices[rng.randrange(len(p.choices))]
            else:
                values[p.id] = tidy(rng.uniform(p.low, p.high), 6)
        jobs.append(Job(job_id(i), values))
    return jobs


def grid_size(space: SearchSpace, float_steps: int) -> int:
    """How many jobs `--jobs grid` makes."""
    size = 1
    for p in space.params:
        size *= len(p.choices) if p.type == "enum" else float_steps
    return size
