"""The corpus as a conformance suite: every Clara 4.1 train config of ../shared/corpus compiles.

Each config is compiled with the environment.json of its own MMAR folder, as Clara ran it;
the scripts it yields (train.py, and train_fast.py of --optimize with every rewrite) must
pass `ruff check` and `compile()` (black stability is checked by every render).
"""

import subprocess
import sys
from pathlib import Path

import pytest

from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.optimize import NAMES
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import CORPUS

pytestmark = pytest.mark.corpus


def rows() -> list[dict]:
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        pytest.skip(
            f"no corpus at {CORPUS} (../shared beside the checkout)",
            allow_module_level=True,
        )
    lines = index.read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"), strict=False)) for line in lines[1:]]


def environment_of(row: dict) -> Path | None:
    """The environment.json stored from the same folder of the same repository."""
    folder = row["path"].rsplit("/", 1)[0].replace("/", "__")
    candidates = sorted(
        (CORPUS / "clara-train-examples").glob(f"{folder}__environment*.json")
    )
    return candidates[0] if candidates else None


TRAIN_41 = [r for r in rows() if r["version"] == "4.1" and r["kind"] == "train"]


def test_the_corpus_has_the_41_train_configs():
    assert len(TRAIN_41) == 10


@pytest.mark.parametrize("row", TRAIN_41, ids=lambda r: r["file"].split("/")[-1])
def test_41_train_config_compiles_to_a_clean_script(row, tmp_path):
    config = CORPUS / row["file"]
    options = CompileOptions(optimize=NAMES)
    comp = Compilation(config, options, env_path=environment_of(row))
    try:
        manifest = compile_to_dir(comp, tmp_path)
    except CompileError as exc:
        pytest.fail(format_all(exc.diagnostics, comp.sources))
    (job,) = manifest["jobs"]
    scripts = [tmp_path / job["script"]] + (
        [tmp_path / job["fast"]] if job.get("fast") else []
    )
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--isolated", *map(str, scripts)],
        capture_output=True,
        text=True,
    )
    assert ruff.returncode == 0, ruff.stdout
    for script in scripts:
        compile(script.read_text(), str(script), "exec")


def test_most_41_train_configs_get_a_train_fast_py(tmp_path):
    """--optimize applies to the plain target's loop: the configs lowered through the
    engines target (W104) get none, which must stay the exception."""
    fast = 0
    for i, row in enumerate(TRAIN_41):
        comp = Compilation(CORPUS / row["file"], CompileOptions(optimize=NAMES),
                           env_path=environment_of(row))  # fmt: skip
        manifest = compile_to_dir(comp, tmp_path / str(i))
        fast += bool(manifest["jobs"][0].get("fast"))
    assert fast >= 7, fast
