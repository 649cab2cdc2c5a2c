"""The command line: outputs, and bad input reported as file:line:col diagnostics, exit 1."""

import json

from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import ENV, copy_example, minimal, write

runner = CliRunner()


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_compile_an_mmar_writes_the_script_and_the_manifest(tmp_path):
    mmar = copy_example(tmp_path)
    result = run("compile", "-m", mmar, "-o", tmp_path / "out")
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "out" / "manifest.json").read_text())
    (job,) = manifest["jobs"]
    assert (job["id"], job["script"]) == ("J0001", "J0001/train.py")
    assert (
        job["values"]["train.pre_transforms[5]:prob"] == 0.5
    )  # the config's own value
    assert manifest["space"] == list(job["values"])
    assert (tmp_path / "out" / "J0001" / "train.py").is_file()


def test_set_overrides_a_variable(tmp_path):
    mmar = copy_example(tmp_path)
    result = run("compile", "-m", mmar, "-o", tmp_path / "out", "--set", "epochs=3")
    assert result.exit_code == 0, result.output
    assert "EPOCHS = 3  #" in (tmp_path / "out" / "J0001" / "train.py").read_text()


def test_set_splits_where_a_key_begins_not_at_every_space(tmp_path):
    from claragen.cli.options import parse_sets

    assert parse_sets(["INPUT_CHANNELS=[1, 2]", "a=1 b.c=x y", "d="]) == (
        ("INPUT_CHANNELS", "[1, 2]"), ("a", "1"), ("b.c", "x y"), ("d", "")
    )  # fmt: skip
    mmar = copy_example(tmp_path)
    out = tmp_path / "out"
    result = run("compile", "-m", mmar, "-o", out, "--set", "epochs=3 amp=false",
                 "--set", "INPUT_CHANNELS=[1]")  # fmt: skip
    assert result.exit_code == 0, result.output
    script = (out / "J0001" / "train.py").read_text()
    assert "EPOCHS = 3  #" in script and '"amp": False,' in script
    assert "in_channels=[1]," in script  # a JSON list, as a config holds one
    result = run("compile", "-m", mmar, "-o", out, "--set", "not a pair")
    assert result.exit_code == 2 and "is not KEY=VALUE" in result.output


def test_set_of_an_unknown_variable_is_an_error_with_a_did_you_mean(tmp_path):
    mmar = copy_example(tmp_path)
    result = run("compile", "-m", mmar, "-o", tmp_path / "out", "--set", "epoch=3")
    assert result.exit_code == 1
    assert (
        "error[E208]: --set epoch: the config has no variable 'epoch'" in result.output
    )
    assert "did you mean 'epochs'?" in result.output
    assert not (tmp_path / "out").exists()


def bad(tmp_path, cfg, env=ENV):
    text = json.dumps(cfg, indent=2) if isinstance(cfg, dict) else cfg
    config = write(tmp_path, "config/config_train.json", text)
    write(tmp_path, "config/environment.json", json.dumps(env))
    result = run("compile", config, "-o", tmp_path / "out")
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists(), "nothing is written on error"
    return result.output, str(config)


def test_malformed_json(tmp_path):
    out, path = bad(tmp_path, '{\n  "epochs": 2,\n  "amp": ture\n}\n')
    assert out.startswith(
        f"{path}:3:10: error[E101]: invalid JSON: unknown literal 'ture'\n"
    )
    assert (
        "    3 |   \"amp\": ture\n      |          ^\nhelp: did you mean 'true'?" in out
    )


def test_all_errors_of_a_file_are_reported_in_one_run(tmp_path):
    cfg = minimal()
    cfg["train"]["optimizer"]["args"]["lr"] = "{learning_rat}"  # unknown variable
    cfg["train"]["trainer"]["args"]["network"] = "@modle"  # reference to nothing
    cfg["train"]["inferer"]["name"] = "SimpleInfer"  # unknown component
    cfg["train"]["model"]["args"]["channels"] = "#[4, 8"  # not one expression
    cfg["train"]["loss"] = [{"name": "DiceLoss"}, {"name": "FocalLoss"}]  # two enabled
    out, path = bad(tmp_path, cfg)
    lines = [line for line in out.splitlines() if ": error[" in line]
    assert lines == [
        f"{path}:8:7: error[E304]: train.loss is a list of alternatives with 2 enabled; exactly one "
        "must be: DiceLoss (line 8), FocalLoss (line 11)",
        f"{path}:19:15: error[E200]: unknown variable 'learning_rat'",
        f"{path}:28:23: error[E203]: the '#' expression '[4, 8' is not a single Python expression",
        f"{path}:71:15: error[E400]: unknown component 'SimpleInfer' (train.inferer)",
        f"{path}:86:20: error[E300]: '@modle' refers to nothing: no section has a 'modle'",
    ]
    assert '   71 |       "name": "SimpleInfer"\n      |               ^\n' in out
    assert "help: did you mean 'SimpleInferer'?" in out
    assert out.rstrip().endswith("5 errors")


def test_reference_cycle(tmp_path):
    cfg = minimal()
    cfg["train"]["optimizer"]["args"]["params"] = "@lr_scheduler"
    cfg["train"]["lr_scheduler"] = {
        "name": "StepLR",
        "args": {"optimizer": "@optimizer"},
    }
    out, path = bad(tmp_path, cfg)
    assert (
        "error[E301]: reference cycle: @lr_scheduler -> @optimizer -> @lr_scheduler"
        in out
    )


def test_legacy_component_without_equivalent_names_the_byoc_way_out(tmp_path):
    cfg = {
        "epochs": 1,
        "train": {
            "pre_transforms": [
                {"name": "LoadNifti", "args": {"fields": "image"}},
                {"name": "BoundaryDiceLoss", "args": {"fields": "image"}},
            ],
            "image_pipeline": {"name": "SegmentationImagePipeline", "args": {}},
        },
    }
    out, path = bad(tmp_path, cfg)
    assert (
        f"{path}:12:17: error[E403]: the Clara 3.x component 'BoundaryDiceLoss' has no MONAI "
        "equivalent (no MONAI loss; train.pre_transforms[1])" in out
    )
    assert 'help: write one and give it as "path": "my_module.BoundaryDiceLoss"' in out
    assert (
        f"{path}:18:23: error[E405]: SegmentationImagePipeline needs a 'data_list_file_path'"
        in out
    )


def test_missing_config_file(tmp_path):
    result = run("compile", tmp_path / "nope.json", "-o", tmp_path / "out")
    assert result.exit_code == 1
    assert (
        "error[E100]: cannot read" in result.output and "Traceback" not in result.output
    )


def test_version_and_help():
    assert run("--version").output.startswith("claragen ")
    assert "compile" in run("--help").output
