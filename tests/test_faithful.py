"""The generated script is what Clara trained (issue 28): the default job is the config's
own values, and every command-line option reaches every value derived from it."""

import json

from claragen.transpiler.pipeline import Compilation, CompileOptions, compile_to_dir
from tests.conftest import copy_example


def _compile(tmp_path, edit=None, sets=(), target="plain", jobs="default"):
    mmar = copy_example(tmp_path)
    path = mmar / "config" / "config_train.json"
    cfg = json.loads(path.read_text())
    if edit:
        edit(cfg)
    path.write_text(json.dumps(cfg, indent=2))
    options = CompileOptions(set_values=tuple(sets), target=target, jobs=jobs)
    comp = Compilation(path, options, env_path=mmar / "config" / "environment.json")
    manifest = compile_to_dir(comp, tmp_path / "out")
    return [(tmp_path / "out" / j["script"]).read_text() for j in manifest["jobs"]], comp


def test_the_default_job_keeps_each_components_own_value(tmp_path):
    """`RandGaussianNoised(prob=0.1)` applies `myProb` (0.5 on RandShiftIntensityd):
    train.sh, without AutoML, trained 0.1."""
    (script,), _ = _compile(tmp_path)
    assert 'RandGaussianNoised(keys="image", prob=0.1)' in script
    assert 'RandShiftIntensityd(keys="image", offsets=0.1, prob=MY_PROB)' in script


def test_a_searched_job_applies_its_value_to_every_user_of_the_alias(tmp_path):
    scripts, _ = _compile(tmp_path, jobs="random:2")
    for script in scripts:
        assert 'RandGaussianNoised(keys="image", prob=MY_PROB)' in script


def _cosine(cfg):
    cfg["train"]["lr_scheduler"] = {
        "name": "CosineAnnealingLR",
        "args": {"optimizer": "@optimizer", "T_max": "{epochs}"},
    }
    cfg["train"]["trainer"]["args"]["max_epochs"] = "{epochs}"


def test_epochs_reaches_every_value_derived_from_it(tmp_path):
    """`python train.py --epochs 10` anneals over 10 epochs, and the checkpoints' train_conf
    says 10 (it annealed over the compiled 1260 and said 1260)."""
    for target in ("plain", "engines"):
        (script,), _ = _compile(tmp_path / target, _cosine, target=target)
        assert "T_max=args.epochs" in script, target
        assert "TRAIN_CONF.update({'epochs': args.epochs})" in script.replace('"', "'")
        main = script[script.index("def main(") :]
        assert main.index("TRAIN_CONF.update") < main.index("T_max=args.epochs")


def test_val_interval_reaches_every_value_derived_from_it(tmp_path):
    def edit(cfg):
        cfg["train"]["handlers"][1]["args"]["interval"] = "{num_interval_per_valid}"
        cfg["train"]["lr_scheduler"]["args"]["step_size"] = "{num_interval_per_valid}"

    (script,), _ = _compile(tmp_path, edit)
    assert "step_size=args.val_interval" in script
    assert "'num_interval_per_valid': args.val_interval" in script.replace('"', "'")


def test_a_value_no_option_sets_stays_a_literal(tmp_path):
    def edit(cfg):
        cfg["train"]["lr_scheduler"]["args"]["step_size"] = "{epochs}"
        cfg["train"]["trainer"]["args"]["max_epochs"] = 7  # --epochs is not {epochs}

    (script,), _ = _compile(tmp_path, edit)
    assert "step_size=1260" in script and "TRAIN_CONF.update" not in script
