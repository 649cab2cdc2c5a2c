"""train_fast.py against train.py on the CPU (issue 18): with every rewrite that is exact
on the CPU (all of them: each one's change is CUDA-only, or changes no number), the two
scripts reach the same loss at each of the first 20 iterations (within 1e-5) and the same
validation metric, for the 4.1 example and two corpus configs.
"""

from __future__ import annotations

import json

import pytest

from claragen.smoke import SMOKE_SETS, make_data
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.optimize import NAMES, REWRITES
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.test_differential import (
    CORPUS_EPOCHS,
    CROP,
    FOLDER,
    ITERATIONS,
    TOLERANCE,
    VAL_INTERVAL,
    first_divergence,
    start_script,
    wait_all,
)
from tests.test_differential import data as data  # noqa: F401 (the fixture)
from tests.test_golden import compile_example

pytestmark = pytest.mark.e2e
EXACT_ON_CPU = tuple(m.NAME for m in REWRITES if m.EXACT_ON_CPU)


def test_every_rewrite_says_whether_it_is_exact_on_the_cpu():
    assert EXACT_ON_CPU == NAMES  # none changes a number on the CPU


def same_training(runs: dict) -> None:
    for name, run in runs.items():
        assert len(run["losses"]) >= ITERATIONS, (name, len(run["losses"]))
    assert first_divergence(runs) is None, first_divergence(runs)
    metrics = {n: r["metric"] for n, r in runs.items()}
    assert max(metrics.values()) - min(metrics.values()) <= TOLERANCE, metrics


def test_the_examples_fast_script_trains_as_its_literal_one(
    tmp_path, data
):  # noqa: F811
    out = compile_example(tmp_path, optimize=EXACT_ON_CPU) / "J0001"
    runs = wait_all({
        name: start_script(out / f"{name}.py", data, tmp_path / f"{name}_m")
        for name in ("train", "train_fast")
    })  # fmt: skip
    same_training(runs)


@pytest.mark.skipif(not FOLDER.is_dir(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("name", [
    "PyTorch__NoteBooks__GettingStarted__config__config_train_Unet.json",
    "PyTorch__NoteBooks__GettingStarted__config__config_train_segresnet.json",
])  # fmt: skip
def test_a_corpus_configs_fast_script_trains_as_its_literal_one(tmp_path, name):
    config = FOLDER / name
    sets = tuple((k, v) for k, v in SMOKE_SETS if k in config.read_text())
    comp = Compilation(config, CompileOptions(set_values=sets, optimize=EXACT_ON_CPU))
    config_ir = comp.run_passes(*comp.build())
    data = tmp_path / "data"
    make_data(data, config_ir, config_ir.sections["train"].get("model"))
    compile_to_dir(comp, tmp_path / "out")
    started = {}
    for script in ("train", "train_fast"):
        path = tmp_path / "out" / "J0001" / f"{script}.py"
        text = path.read_text()
        extra = []
        for flag, value in (("--crop-size", CROP), ("--roi-size", CROP),
                            ("--val-interval", [VAL_INTERVAL])):  # fmt: skip
            if f'"{flag}"' in text:
                extra += [
                    flag,
                    *map(str, value[: 3 if flag != "--val-interval" else 1]),
                ]
        started[script] = start_script(path, data, tmp_path / f"{script}_m", extra,
                                       CORPUS_EPOCHS)  # fmt: skip
    runs = wait_all(started)
    same_training(runs)
    fast = (tmp_path / "out" / "J0001" / "train_fast.py").read_text()
    assert "Optimized (claragen compile --optimize)" in fast
    assert json.loads((tmp_path / "out" / "manifest.json").read_text())["jobs"][0][
        "fast"
    ]
