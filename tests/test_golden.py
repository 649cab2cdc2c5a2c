"""Golden files: the generated code of the example, reviewed in the diff when it changes.

Update deliberately with `CLARAGEN_UPDATE_GOLDEN=1 make test`, then read the diff.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.optimize import NAMES
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import copy_example

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("CLARAGEN_UPDATE_GOLDEN") == "1"


def compile_example(
    tmp_path: Path,
    out_name: str = "out",
    target: str = "auto",
    sets: tuple = (),
    optimize: tuple[str, ...] = (),
    edit=None,
) -> Path:
    mmar = copy_example(tmp_path)
    if edit is not None:  # a change to the example's training config
        path = mmar / "config" / "config_train.json"
        cfg = json.loads(path.read_text())
        edit(cfg)
        path.write_text(json.dumps(cfg, indent=2))
    comp = Compilation(
        mmar / "config" / "config_train.json",
        CompileOptions(target=target, set_values=sets, optimize=optimize),
        env_path=mmar / "config" / "environment.json",
        mmar_root=mmar,
        validation_path=mmar / "config" / "config_validation.json",
    )

    out = tmp_path / out_name
    compile_to_dir(comp, out)
    return out


def check_golden(produced: Path, golden: Path, tmp: Path | None = None) -> None:
    """`produced` against `golden`; the test's own folder `tmp` (where the copied MMAR
    is: scripts name it by its absolute path) reads as /path/to."""
    text = produced.read_text()
    if tmp is not None:
        text = text.replace(str(tmp.resolve()), "/path/to")
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text)
    assert (
        golden.is_file()
    ), f"no golden file {golden}; run with CLARAGEN_UPDATE_GOLDEN=1"
    assert text == golden.read_text(), (
        f"{produced} differs from {golden}; if the change is intended, "
        "update with CLARAGEN_UPDATE_GOLDEN=1 and review the diff"
    )


def test_spleen_41_train_script(tmp_path):
    out = compile_example(tmp_path)
    check_golden(
        out / "J0001" / "train.py",
        GOLDEN / "spleen_41" / "J0001" / "train.py",
        tmp_path,
    )
    check_golden(
        out / "J0001" / "validate.py",
        GOLDEN / "spleen_41" / "J0001" / "validate.py",
        tmp_path,
    )
    check_golden(
        out / "manifest.json", GOLDEN / "spleen_41" / "manifest.json", tmp_path
    )


def test_spleen_41_train_fast_script(tmp_path):
    """--optimize: train_fast.py beside train.py, every rewrite on."""
    out = compile_example(tmp_path, optimize=NAMES)
    check_golden(
        out / "J0001" / "train_fast.py",
        GOLDEN / "spleen_41_fast" / "J0001" / "train_fast.py",
        tmp_path,
    )
    # the literal script is the same with --optimize
    check_golden(
        out / "J0001" / "train.py",
        GOLDEN / "spleen_41" / "J0001" / "train.py",
        tmp_path,
    )


def test_spleen_41_multi_gpu_train_script(tmp_path):
    """multi_gpu: torchrun/DDP in the plain script (sharded cached datasets, rank 0 writes)."""
    out = compile_example(tmp_path, sets=(("multi_gpu", "true"),))
    check_golden(
        out / "J0001" / "train.py",
        GOLDEN / "spleen_41_multi_gpu" / "J0001" / "train.py",
        tmp_path,
    )


def test_spleen_41_engines_scripts(tmp_path):
    """The same example on the engines target (SupervisedTrainer/SupervisedEvaluator)."""
    out = compile_example(tmp_path, target="engines")
    for name in ("train.py", "validate.py"):
        check_golden(
            out / "J0001" / name,
            GOLDEN / "spleen_41_engines" / "J0001" / name,
            tmp_path,
        )


def test_spleen_41_bundle(tmp_path):
    """The same example as a MONAI bundle (configs/train.json, configs/metadata.json)."""
    out = compile_example(tmp_path, target="bundle")
    for name in ("train.json", "evaluate.json", "metadata.json"):
        check_golden(
            out / "J0001" / "configs" / name,
            GOLDEN / "spleen_41_bundle" / "J0001" / "configs" / name,
            tmp_path,
        )
    check_golden(
        out / "manifest.json", GOLDEN / "spleen_41_bundle" / "manifest.json", tmp_path
    )


def test_compiling_twice_gives_identical_bytes(tmp_path):
    """The same MMAR, compiled twice (its absolute path is in the scripts)."""
    a = compile_example(tmp_path, out_name="a")
    b = compile_example(tmp_path, out_name="b")
    for name in ("J0001/train.py", "J0001/validate.py", "manifest.json"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


@pytest.mark.parametrize(
    "name, target",
    [(name, target) for target in ("plain", "engines", "multi_gpu")
     for name in ("train.py", "validate.py")]
    + [("train_fast.py", "plain"), ("train_fast.py", "multi_gpu")],
)  # fmt: skip
def test_generated_script_is_black_stable_and_ruff_clean(tmp_path, name, target):
    optimize = NAMES if name == "train_fast.py" else ()
    if target == "multi_gpu":
        out = compile_example(
            tmp_path, sets=(("multi_gpu", "true"),), optimize=optimize
        )
    else:
        out = compile_example(tmp_path, target=target, optimize=optimize)
    script = out / "J0001" / name

    black = subprocess.run(
        [sys.executable, "-m", "black", "--check", "--quiet", str(script)],
        capture_output=True,
    )
    assert black.returncode == 0, black.stderr.decode()
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", "--select", "E,F,W,I,B,UP",
         "--ignore", "E501", str(script)],
        capture_output=True,
    )  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout.decode()
    compile(script.read_text(), str(script), "exec")
