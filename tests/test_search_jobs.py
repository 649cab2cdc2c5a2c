"""A search compiled into one script per job: SPEC 5's examples, the corpus, the CLI."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import CORPUS, ENV, compilation, copy_example, minimal
from tests.test_corpus import environment_of, rows

runner = CliRunner()


def compile_jobs(tmp_path, cfg, jobs="grid", **options):
    comp = compilation(tmp_path, cfg, ENV)
    comp.options = CompileOptions(jobs=jobs, **options)
    manifest = compile_to_dir(comp, tmp_path / "out")
    return manifest, {
        job["id"]: (tmp_path / "out" / job["script"]).read_text()
        for job in manifest["jobs"]
    }


def transforms(*extra):
    cfg = minimal()
    cfg["train"]["pre_transforms"] += list(extra)
    return cfg


def test_seed_example_1_an_alias_gives_two_transforms_one_value(tmp_path):
    cfg = transforms(
        {"name": "RandAxisFlipd", "args": {"keys": "image", "prob": 0.0},
         "search": [{"domain": "transform", "args": ["prob#prob"], "type": "enum",
                     "targets": [0.0, 1.0]}]},
        {"name": "RandRotate90d", "args": {"keys": "image", "prob": 0.0},
         "apply": {"prob": "prob"}},
    )  # fmt: skip
    manifest, scripts = compile_jobs(tmp_path, cfg)
    assert [j["values"] for j in manifest["jobs"]] == [
        {"train.pre_transforms[2]:prob": [0.0]},
        {"train.pre_transforms[2]:prob": [1.0]},
    ]
    for text, value in zip(scripts.values(), ("0.0", "1.0"), strict=True):
        assert (
            f"\nPROB = {value}  # train.pre_transforms[2]:prob (transform, enum)\n"
            in text
        )
        assert 'RandAxisFlipd(keys="image", prob=PROB)' in text
        assert 'RandRotate90d(keys="image", prob=PROB)' in text


def test_seed_example_2_first_level_tags_make_transforms_exclusive(tmp_path):
    cfg = transforms(
        {
            "name": "RandAxisFlipd",
            "args": {"keys": "image"},
            "apply": {"@disabled": "d1"},
        },
        {
            "name": "RandRotate90d",
            "args": {"keys": "image"},
            "apply": {"@disabled": "d2"},
        },
    )
    cfg["search"] = [{"domain": "transform", "type": "enum", "args": ["d1", "d2"],
                      "targets": [[True, False], [False, True]]}]  # fmt: skip
    _, scripts = compile_jobs(tmp_path, cfg)
    first, second = scripts.values()
    assert "RandAxisFlipd(" not in first and "RandRotate90d(" in first
    assert "RandAxisFlipd(" in second and "RandRotate90d(" not in second


def test_seed_example_3_a_list_of_optimizers_leaves_one_per_job(tmp_path):
    cfg = minimal()
    cfg["search"] = [{"domain": "transform", "type": "enum", "args": ["d1", "d2"],
                      "targets": [[True, False], [False, True]]}]  # fmt: skip
    cfg["train"]["optimizer"] = [
        {"name": "Novograd", "args": {"params": "#@model.parameters()"},
         "apply": {"@disabled": "d1"}},
        {"name": "Adam", "args": {"params": "#@model.parameters()"},
         "apply": {"@disabled": "d2"}},
    ]  # fmt: skip
    _, scripts = compile_jobs(tmp_path, cfg)
    optimizers = [re.findall(r"optimizer = ([\w.]+)\(", t) for t in scripts.values()]
    assert optimizers == [["torch.optim.Adam"], ["Novograd"]]


def test_a_job_with_two_enabled_alternatives_names_its_values(tmp_path):
    cfg = minimal()
    cfg["search"] = [{"type": "enum", "args": ["d1", "d2"],
                      "targets": [[True, False], [False, False]]}]  # fmt: skip
    cfg["train"]["loss"] = [
        {"name": "DiceLoss", "apply": {"@disabled": "d1"}},
        {"name": "FocalLoss", "apply": {"@disabled": "d2"}},
    ]
    with pytest.raises(CompileError) as info:
        compile_jobs(tmp_path, cfg)
    (error,) = [d for d in info.value.diagnostics if d.severity == "error"]
    assert error.message == (
        "train.loss is a list of alternatives with 2 enabled; exactly one must be: "
        "DiceLoss (line 8), FocalLoss (line 14), in job J0002 with :d1,d2 = [false, false]"
    )
    assert not (tmp_path / "out").exists()


def example_grid(tmp_path, *args):
    mmar = copy_example(tmp_path)
    result = runner.invoke(
        app, ["compile", "-m", str(mmar), "-o", str(tmp_path / "out"), *args]
    )
    assert result.exit_code == 0, result.output
    return json.loads((tmp_path / "out" / "manifest.json").read_text())


def test_full_example_grid(tmp_path):
    manifest = example_grid(tmp_path, "--jobs", "grid")
    jobs = manifest["jobs"]
    assert len(jobs) == 2 * 2 * 2 * 2 * 3 * 3  # four enums of 2, two floats at 3 steps
    assert [j["id"] for j in jobs[:3]] == ["J0001", "J0002", "J0003"]
    for job in jobs:
        text = (tmp_path / "out" / job["script"]).read_text()
        assert len(re.findall(r"^    loss_function = ", text, re.M)) == 1
        loss = re.search(r"loss_function = (\w+)\(", text).group(1)
        dice_off = job["values"][":mySearchLoss1,mySearchLoss2"][0]
        assert loss == ("FocalLoss" if dice_off else "DiceLoss")
        prob = job["values"]["train.pre_transforms[5]:prob"]
        assert f"\nMY_PROB = {prob}  #" in text
        # RandShiftIntensityd and RandGaussianNoised share the alias myProb
        assert text.count("prob=MY_PROB") == 2
        # validate's {"ref": "ScaleIntensityRanged"} inherits the job's chosen a_min/a_max
        assert text.count("a_min=A_MIN, a_max=A_MAX") == 2
        assert f"\n    :learning_rate = {job['values'][':learning_rate']}\n" in text


def test_random_jobs_are_reproducible(tmp_path):
    a = example_grid(tmp_path / "a", "--jobs", "random:8", "--seed", "1")
    b = example_grid(tmp_path / "b", "--jobs", "random:8", "--seed", "1")
    c = example_grid(tmp_path / "c", "--jobs", "random:8", "--seed", "2")
    assert len(a["jobs"]) == 8 and a == b
    assert [j["values"] for j in a["jobs"]] != [j["values"] for j in c["jobs"]]
    for job in a["jobs"]:  # (each names its own MMAR copy by its absolute path)
        left = (tmp_path / "a" / "out" / job["script"]).read_text()
        right = (tmp_path / "b" / "out" / job["script"]).read_text()
        assert left == right.replace(str(tmp_path / "b"), str(tmp_path / "a"))


def expected_grid(config: Path, float_steps: int) -> int:
    """The product of the enum choice counts and float steps, read from the raw JSON."""
    size = 1

    def visit(node):
        nonlocal size
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "search":
                    for item in value:
                        size *= (
                            len(item["targets"])
                            if item["type"] == "enum"
                            else float_steps
                        )
                elif not key.startswith("__"):
                    visit(value)
        elif isinstance(node, list):
            for item in node:
                visit(item)

    visit(json.loads(config.read_text()))
    return size


SEARCH_41 = [r for r in rows() if r["version"] == "4.1" and r["has_search"] == "Y"]


@pytest.mark.corpus
@pytest.mark.parametrize("row", SEARCH_41, ids=lambda r: r["file"].split("/")[-1])
def test_corpus_search_grid(row, tmp_path):
    config = CORPUS / row["file"]
    comp = Compilation(config, CompileOptions(jobs="grid", float_steps=3),
                       env_path=environment_of(row))  # fmt: skip
    manifest = compile_to_dir(comp, tmp_path)
    assert len(manifest["jobs"]) == expected_grid(config, 3) > 1
    ruff = subprocess.run([sys.executable, "-m", "ruff", "check", "--isolated", str(tmp_path)],
                          capture_output=True, text=True)  # fmt: skip
    assert ruff.returncode == 0, ruff.stdout
    for job in manifest["jobs"]:
        script = tmp_path / job["script"]
        compile(script.read_text(), str(script), "exec")


def test_the_corpus_has_the_41_search_configs():
    assert len(SEARCH_41) == 5


def test_space_command_table_and_json(tmp_path):
    mmar = copy_example(tmp_path)
    table = runner.invoke(app, ["space", "-m", str(mmar)])
    assert table.exit_code == 0, table.output
    assert "train.pre_transforms[5]:prob" in table.output and "myProb" in table.output
    assert (
        "6 parameter(s); --jobs grid makes 144 job(s) with --float-steps 3"
        in table.output
    )
    data = json.loads(runner.invoke(app, ["space", "-m", str(mmar), "--json"]).output)
    assert data["grid_size"] == 144
    assert data["params"][0] == {
        "id": ":learning_rate", "domain": "lr", "type": "float", "targets": [0.0001, 0.001],
        "args": ["learning_rate"], "aliases": [], "constants": ["LEARNING_RATE"], "line": 11,
    }  # fmt: skip


def test_diff_two_jobs_two_outputs_and_two_configs(tmp_path):
    example_grid(tmp_path, "--jobs", "grid")
    out = tmp_path / "out"
    jobs = runner.invoke(app, ["diff", str(out / "J0001"), str(out / "J0002")])
    assert jobs.exit_code == 0
    assert "-MY_PROB = 0.0  #" in jobs.output and "+MY_PROB = 0.5  #" in jobs.output
    same = runner.invoke(app, ["diff", str(out), str(out), "--exit-code"])
    assert (same.exit_code, same.output) == (0, "")

    mmar = tmp_path / "spleen_41"
    config = mmar / "config" / "config_train.json"
    changed = mmar / "config" / "changed.json"
    changed.write_text(
        config.read_text().replace('"num_samples": 4', '"num_samples": 2')
    )
    env = str(mmar / "config" / "environment.json")
    both = runner.invoke(
        app, ["diff", str(config), str(changed), "-e", env, "--exit-code"]
    )
    assert both.exit_code == 1
    changes = [
        line for line in both.output.splitlines()
        if line[:1] in ("+", "-") and line[:3] not in ("+++", "---")
    ]  # fmt: skip
    assert changes == [
        "-                num_samples=4,",
        "+                num_samples=2,",
    ]


def test_double_underscore_keys_are_inert(tmp_path):  # SPEC 4.5: "__model", "__search"
    cfg = minimal()
    cfg["train"]["__model"] = {"name": "NoSuchNet", "__search": [{"type": "bogus"}]}
    cfg["train"]["model"]["__search"] = [
        {"type": "bogus", "args": ["x"], "targets": []}
    ]
    manifest, scripts = compile_jobs(tmp_path, cfg)
    assert manifest["space"] == [] and len(scripts) == 1
    assert "NoSuchNet" not in scripts["J0001"]
