"""train_fast.py against train.py on the CPU (issue 18): with every rewrite that is exact
on the CPU (all of them: each one's change is CUDA-only, or changes no number), the two
scripts reach the same loss at each of the first 20 iterations (within 1e-5) and the same
validation metric, for the 4.1 example and two corpus configs.
"""

from __future__ import annotations

import ast
import json

import pytest
import torch

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
from tests.test_golden import GOLDEN, compile_example

pytestmark = pytest.mark.e2e
EXACT_ON_CPU = tuple(m.NAME for m in REWRITES if m.EXACT_ON_CPU)
GOLDEN_FAST = GOLDEN / "spleen_41_fast" / "J0001" / "train_fast.py"


def test_every_rewrite_says_whether_it_is_exact_on_the_cpu():
    assert EXACT_ON_CPU == NAMES  # none changes a number on the CPU


def same_training(runs: dict) -> None:
    for name, run in runs.items():
        assert len(run["losses"]) >= ITERATIONS, (name, len(run["losses"]))
    assert first_divergence(runs) is None, first_divergence(runs)
    metrics = {n: r["metric"] for n, r in runs.items()}
    assert max(metrics.values()) - min(metrics.values()) <= TOLERANCE, metrics
    literal, fast = runs["train"]["epochs"], runs["train_fast"]["epochs"]
    assert len(literal) == len(fast)
    for a, b in zip(literal, fast, strict=True):  # every metric of every epoch
        assert a.keys() == b.keys(), (a, b)
        for key in a.keys() - {"time", "epoch_s", "lr"}:
            assert abs(a[key] - b[key]) <= TOLERANCE, (a["epoch"], key, a[key], b[key])


def test_the_metrics_train_fast_py_stacks_give_what_they_give_case_by_case():
    """batched-metrics' `batched()` (the generated function, run here) stacks the
    per-case post-transformed tensors into batches: every metric the plain target lowers
    gives those batches the values it gives the cases."""
    from monai import metrics as monai_metrics

    from claragen.transpiler.targets.metrics import METRICS

    fast = (GOLDEN_FAST).read_text()
    tree = ast.parse(fast)
    (func,) = [
        n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "batched"
    ]
    scope = {"torch": torch}
    exec(compile(ast.Module([func], []), "batched", "exec"), scope)  # generated code
    batched = scope["batched"]
    torch.manual_seed(0)

    def one_hot(*shape):
        return torch.nn.functional.one_hot(torch.randint(0, 2, shape), 2).movedim(-1, 0)

    images = ([one_hot(8, 8, 8).float() for _ in range(3)],
              [one_hot(8, 8, 8).float() for _ in range(3)])  # fmt: skip
    scores = ([torch.rand(2) for _ in range(4)], [one_hot().float() for _ in range(4)])
    for rule in METRICS.values():
        if (
            not rule.per_case
        ):  # batched-metrics skips it (tests/dialects/test_aux_ops.py)
            continue
        make = getattr(monai_metrics, rule.metric)
        kwargs = dict(rule.fixed)
        by_case, by_batch = make(**kwargs), make(**kwargs)
        preds, labels = scores if rule.metric == "ROCAUCMetric" else images
        by_case(preds, labels)
        stacked = batched((preds, labels))
        assert all(isinstance(x, torch.Tensor) for x in stacked)
        by_batch(*stacked)
        a, b = by_case.aggregate(), by_batch.aggregate()
        a, b = (torch.as_tensor(x[0] if isinstance(x, list) else x) for x in (a, b))
        assert torch.allclose(a, b, equal_nan=True), (rule.metric, a, b)


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


def test_smoke_optimize_runs_train_fast_py_of_a_config_without_validation(tmp_path):
    """`claragen smoke --optimize` runs train_fast.py: here of a cached config with no
    validation, whose AMP set-up once named a function only validation defined."""
    from claragen.smoke import smoke
    from tests.conftest import ENV, minimal, write
    from tests.optimize.test_rewrites import cached

    config = write(tmp_path, "mmar/config/config_train.json",
                   json.dumps(cached(minimal()), indent=2))  # fmt: skip
    env = write(tmp_path, "mmar/config/environment.json", json.dumps(ENV))
    result = smoke(config, env, workdir=tmp_path / "work", optimize=NAMES)
    assert result.passed, result.reason
    assert result.reason.endswith("(train_fast.py)"), result.reason
    fast = next((tmp_path / "work" / "out").glob("J*/train_fast.py")).read_text()
    assert "EnsureTyped(" in fast and "amp_dtype(device)" in fast
