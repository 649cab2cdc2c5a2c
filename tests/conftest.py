"""Shared helpers: compile configs given as text, and find the corpus and the examples."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

# One torch thread in every script a test runs (and in this process): two jobs or ranks,
# or the three targets of a differential test, run side by side, and two threads each on
# two cores thrash (a corpus differential test took 2.5 times as long).
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The key that seals a search's recorded options (claragen/runtime/seal.py): one of the
# test session's own, not the user's.
os.environ.setdefault(
    "CLARAGEN_KEY_FILE",
    os.path.join(__import__("tempfile").mkdtemp(prefix="claragen-key-"), "run.key"),
)

from claragen.transpiler.context import CompileOptions, PassContext
from claragen.transpiler.diagnostics import CompileError, Diagnostics
from claragen.transpiler.ir import Config
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests import scriptrunner

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "spleen_41"
SHARED = REPO.parent / "shared"
CORPUS = SHARED / "corpus"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def compilation(tmp_path: Path, config: str | dict, env: dict | None = None,
                sets: tuple = (), target: str = "auto") -> Compilation:  # fmt: skip
    text = json.dumps(config, indent=2) if isinstance(config, dict) else config
    path = write(tmp_path, "config/config_train.json", text)
    env_path = None
    if env is not None:
        env_path = write(tmp_path, "config/environment.json", json.dumps(env, indent=2))
    options = CompileOptions(set_values=tuple(sets), target=target)
    return Compilation(path, options, env_path=env_path)


def run_passes(tmp_path: Path, config: str | dict, env: dict | None = None,
               until: str | None = None, sets: tuple = ()) -> Config:  # fmt: skip
    comp = compilation(tmp_path, config, env, sets)
    built, ctx = comp.build()
    return comp.run_passes(built, ctx, stop_after=until)


def errors_of(tmp_path: Path, config: str | dict, env: dict | None = None,
              target: str = "auto") -> list[str]:  # fmt: skip
    """`line:col: message` of every error of a full compile."""
    comp = compilation(tmp_path, config, env, target=target)
    with pytest.raises(CompileError) as info:
        compile_to_dir(comp, tmp_path / "out")

    return [
        f"{d.span.line}:{d.span.column}: {d.message}"
        for d in info.value.diagnostics
        if d.severity == "error"
    ]


def context(tmp_path: Path) -> PassContext:
    return PassContext(CompileOptions(), Diagnostics(), tmp_path / "c.json", tmp_path)


def copy_example(tmp_path: Path) -> Path:
    """The example MMAR copied under tmp_path, so that generated relative paths are stable."""
    dest = tmp_path / "spleen_41"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("data", "models"),
                    dirs_exist_ok=True)  # fmt: skip
    return dest


def compile_edited_example(tmp_path: Path, edit=None, sets: tuple = (),
                           target: str = "plain", jobs: str = "default"):  # fmt: skip
    """The example MMAR copied, its training config changed by `edit(cfg)`, compiled
    into tmp_path/out: (the manifest, the Compilation)."""
    mmar = copy_example(tmp_path)
    path = mmar / "config" / "config_train.json"
    cfg = json.loads(path.read_text())
    if edit:
        edit(cfg)
    path.write_text(json.dumps(cfg, indent=2))
    options = CompileOptions(set_values=tuple(sets), target=target, jobs=jobs)
    comp = Compilation(path, options, env_path=mmar / "config" / "environment.json")
    return compile_to_dir(comp, tmp_path / "out"), comp


# A minimal valid 4.1 train config that the tests vary.
MINIMAL = {
    "CLARA_TRAIN_VERSION": "4.1.0",
    "epochs": 2,
    "learning_rate": 1e-4,
    "amp": False,
    "train": {
        "loss": {"name": "DiceLoss", "args": {"to_onehot_y": True, "softmax": True}},
        "optimizer": {
            "name": "Adam",
            "args": {"params": "#@model.parameters()", "lr": "{learning_rate}"},
        },
        "model": {
            "name": "UNet",
            "args": {"dimensions": 3, "in_channels": 1, "out_channels": 2,
                     "channels": [4, 8], "strides": [2]},
        },
        "pre_transforms": [
            {"name": "LoadImaged", "args": {"keys": ["image", "label"]}},
            {"name": "EnsureChannelFirstd", "args": {"keys": ["image", "label"]}},
        ],
        "dataset": {
            "name": "Dataset",
            "data_list_file_path": "{DATASET_JSON}",
            "data_file_base_dir": "{DATA_ROOT}",
            "data_list_key": "training",
            "args": {"transform": "@pre_transforms"},
        },
        "dataloader": {"name": "DataLoader", "args": {"dataset": "@dataset", "batch_size": 1}},
        "inferer": {"name": "SimpleInferer"},
        "handlers": [{"name": "StatsHandler", "args": {"tag_name": "train_loss"}}],
        "trainer": {
            "name": "SupervisedTrainer",
            "args": {
                "max_epochs": "{epochs}",
                "train_data_loader": "@dataloader",
                "network": "@model",
                "loss_function": "@loss",
                "optimizer": "@optimizer",
                "inferer": "@inferer",
                "train_handlers": "@handlers",
                "amp": "{amp}",
            },
        },
    },
}  # fmt: skip
ENV = {
    "DATA_ROOT": "data",
    "DATASET_JSON": "config/dataset.json",
    "MMAR_CKPT_DIR": "models",
}


def minimal() -> dict:
    return json.loads(json.dumps(MINIMAL))


def build(
    tmp_path: Path, config: str | dict, env: dict | None = None, sets: tuple = ()
):
    """The IR of a config and its pass context, before any pass."""
    comp = compilation(tmp_path, config, env, sets)
    return comp.build()


def synthetic_data(
    out: Path, cases: int, validation: int, shape: tuple[int, int, int]
) -> Path:
    """examples/make_synthetic_data.py into `out`: NIfTI cases and out/dataset.json."""
    scriptrunner.run(
        [sys.executable, str(REPO / "examples" / "make_synthetic_data.py"), str(out),
         "--cases", str(cases), "--validation", str(validation),
         "--shape", *(str(n) for n in shape)],
        check=True, capture_output=True,
    )  # fmt: skip
    return out


# The heaviest test files first (by the time each takes on two cores): `make test` hands
# whole files to its two xdist workers in collection order (--dist loadfile), and a heavy
# file handed out last leaves the other worker idle until it ends (longest first is the
# classic remedy). The others keep their order.
@pytest.fixture(autouse=True)
def _scripts_run_preloaded(monkeypatch):
    """`claragen smoke` runs each generated script through tests/scriptrunner.py (torch
    and MONAI imported once a worker) rather than a fresh interpreter: the same run, 5 s
    of imports less. Anything else it starts is started as it would be."""
    import claragen.smoke

    def run(cmd, *args, **kwargs):
        if scriptrunner.is_script(cmd):
            return scriptrunner.run(cmd, **kwargs)
        return subprocess.run(cmd, *args, **kwargs)

    shim = __import__("types").SimpleNamespace(**vars(subprocess))
    shim.run = run
    monkeypatch.setattr(claragen.smoke, "subprocess", shim)


HEAVY_FIRST = (
    "tests/runtime/test_automl.py",
    "tests/runtime/test_automl_resume.py",
    "tests/runtime/test_automl_mlflow.py",
    "tests/runtime/test_automl_ctrl_c.py",
    "tests/test_differential.py",
    "tests/test_ddp.py",
    "tests/dialects/test_ports.py",
    "tests/test_stamp.py",
    "tests/test_fuzz.py",
    "tests/optimize/test_fast_differential.py",
    "tests/test_e2e.py",
    "tests/runtime/test_ray_executor.py",
    "tests/test_script_resume.py",
    "tests/runtime/test_run_safety.py",
    "tests/runtime/test_export_best.py",
    "tests/runtime/test_retries.py",
)


def pytest_collection_modifyitems(session, config, items):
    rank = {path: i for i, path in enumerate(HEAVY_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::", 1)[0], len(rank)))
