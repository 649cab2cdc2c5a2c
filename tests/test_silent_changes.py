"""No silent changes (issue 16, rule 7): what the generated code does differently from
the config is honoured or said, found reading generated code as a MONAI expert would."""

import pytest

from claragen.transpiler.diagnostics import CompileError
from tests import scriptrunner
from tests.conftest import compile_edited_example


def _compile(tmp_path, edit=None, sets=(), target="plain"):
    _, comp = compile_edited_example(tmp_path, edit, sets, target)
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    return script, [d for d in comp.diags.warnings if d.code == "W104"]


def _train_conf(script: str) -> dict:
    namespace: dict = {"__name__": "x", "__file__": "/nonexistent/train.py"}
    exec(compile(script, "train.py", "exec"), namespace)
    return namespace["TRAIN_CONF"]


def test_the_saved_train_conf_holds_the_values_set_on_the_command_line(tmp_path):
    script, _ = _compile(tmp_path, sets=(("learning_rate", "0.5"), ("epochs", "7")))
    conf = _train_conf(script)
    assert conf["learning_rate"] == 0.5 and conf["epochs"] == 7


def test_checkpoint_saver_args_the_plain_loop_ignores_are_said(tmp_path):
    def edit(cfg):
        saver = cfg["train"]["handlers"][2]["args"]
        saver.update(n_saved=3, file_prefix="net", epoch_level=False)
        cfg["validate"]["handlers"][2]["args"].update(
            key_metric_n_saved=2, key_metric_name="val_acc", key_metric_save_state=True
        )

    _, warnings = _compile(tmp_path, edit)
    said = " ".join(w.message for w in warnings)
    assert "file_prefix" not in said  # the interval files are named as MONAI names them
    for arg in ("n_saved=3", "epoch_level=False",
                "key_metric_n_saved=2", "key_metric_name='val_acc'",
                "key_metric_save_state=True"):  # fmt: skip
        assert f"CheckpointSaver's {arg}" in said, arg


def test_default_valued_saver_args_say_nothing(tmp_path):
    def edit(cfg):
        cfg["train"]["handlers"][2]["args"].update(n_saved=None, epoch_level=True)

    _, warnings = _compile(tmp_path, edit)
    assert not warnings


def test_stats_every_n_iterations_is_said(tmp_path):
    def edit(cfg):
        cfg["train"]["handlers"][3]["args"]["iteration_log"] = 10

    _, warnings = _compile(tmp_path, edit)
    assert any("not every 10" in w.message for w in warnings)


def test_a_stats_handler_logging_other_than_the_loss_is_said(tmp_path):
    """The plain loop logs each iteration's loss under one name: a StatsHandler whose
    output_transform computes something else, or a second one with another tag, was
    ignored or replaced without a word (found by the attack on issue 28)."""

    def other(cfg):
        cfg["train"]["handlers"][3]["args"][
            "output_transform"
        ] = "#lambda x: x[0]['loss'] * 100"

    script, warnings = _compile(tmp_path / "other", other)
    assert [w.message.split(";")[0] for w in warnings] == [
        "the plain target logs each iteration's loss"
    ]

    def second(cfg):
        cfg["train"]["handlers"].append({"name": "StatsHandler", "args": {
            "tag_name": "foo", "output_transform": "lambda x: x['loss']"}})  # fmt: skip

    script, warnings = _compile(tmp_path / "second", second)
    assert "'foo' too, which it does not log" in " ".join(w.message for w in warnings)
    assert 'f"train_loss {loss_value:.4f}"' in script

    def loss(cfg):  # the forms that log the loss say nothing
        cfg["train"]["handlers"][3]["args"][
            "output_transform"
        ] = "#monai.handlers.from_engine(['loss'], first=True)"

    assert _compile(tmp_path / "loss", loss)[1] == []


def test_a_computed_handler_arg_is_said_not_replaced_silently(tmp_path):
    def edit(cfg):
        cfg["train"]["handlers"][2]["args"]["save_interval"] = "#max(2, 5)"

    script, warnings = _compile(tmp_path, edit)
    (warning,) = warnings
    assert "'save_interval'" in warning.message and "default 0" in warning.message


def test_a_metrics_saver_of_the_train_config_writes_its_reports(tmp_path):
    """The plain train.py honours a MetricsSaver among the validate handlers: after each
    validation, MONAI's write_metrics_reports writes what the handler would."""
    import sys

    from tests.conftest import synthetic_data

    def edit(cfg):
        cfg["validate"]["handlers"].append({"name": "MetricsSaver", "args": {
            "save_dir": "{MMAR_CKPT_DIR}/eval", "metrics": "*",
            "metric_details": ["val_mean_dice"], "summary_ops": ["mean", "max"]}})  # fmt: skip

    script, warnings = _compile(tmp_path, edit)
    assert "save_metrics_report(" in script and not warnings
    data = synthetic_data(tmp_path / "data", 2, 1, (48, 48, 40))
    ckpt = tmp_path / "models"
    done = scriptrunner.run(
        [sys.executable, str(tmp_path / "out" / "J0001" / "train.py"), "--epochs", "1",
         "--device", "cpu", "--data-root", str(data), "--dataset-json",
         str(data / "dataset.json"), "--mmar-ckpt-dir", str(ckpt), "--crop-size", "32",
         "32", "32", "--roi-size", "32", "32", "32"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    written = {p.name for p in (ckpt / "eval").iterdir()}
    assert {
        "metrics.csv",
        "val_mean_dice_raw.csv",
        "val_mean_dice_summary.csv",
    } <= written
    assert "max" in (ckpt / "eval" / "val_mean_dice_summary.csv").read_text()


def test_a_validation_tensorboard_folder_of_its_own_is_said(tmp_path):
    """The plain loop has one SummaryWriter, the trainer's: a validation handler's other
    log_dir got nothing, without a word (found by a review of issue 28)."""

    def edit(cfg):
        for section, folder in (("train", "train"), ("validate", "val")):
            for handler in cfg[section]["handlers"]:
                if handler["name"] == "TensorBoardStatsHandler":
                    handler["args"]["log_dir"] = "{MMAR_CKPT_DIR}/" + folder

    _, warnings = _compile(tmp_path / "two", edit)
    (warning,) = warnings
    assert "into the trainer's folder" in warning.message and "/val" in warning.message
    assert _compile(tmp_path / "one")[1] == []  # the example: one folder for both


def test_auto_says_why_a_config_runs_on_the_engines(tmp_path):
    """--target auto fell back to the engines saying nothing but the docstring's target
    (a review of issue 28): W113 names what the plain target could not lower."""

    def edit(cfg):
        cfg["validate"]["handlers"][2]["args"]["key_metric_negative_sign"] = True

    _, comp = compile_edited_example(tmp_path, edit, target="auto", jobs="random:2")
    (warning,) = [d for d in comp.diags.items if d.code == "W113"]
    assert "'key_metric_negative_sign'" in warning.message
    _, comp = compile_edited_example(tmp_path / "e", edit, target="engines")
    assert not [d for d in comp.diags.items if d.code == "W113"]
    _, comp = compile_edited_example(tmp_path / "p", target="auto")
    assert not [d for d in comp.diags.items if d.code == "W113"]


def test_a_trainers_key_metric_saver_runs_on_the_engines(tmp_path):
    """A CheckpointSaver with save_key_metric among the train handlers: MONAI scores it
    by the trainer's key metric, every epoch; the plain loop saved it on validation's
    (found by an attack on issue 28). Plain says it cannot; auto takes the engines."""

    def edit(cfg):
        cfg["train"]["handlers"].append({"name": "CheckpointSaver", "args": {
            "save_dir": "{MMAR_CKPT_DIR}", "save_dict": {"model": "@model"},
            "save_key_metric": True, "key_metric_filename": "train_best.pt"}})  # fmt: skip

    with pytest.raises(CompileError) as raised:
        compile_edited_example(tmp_path / "p", edit, target="plain")
    (error,) = [d for d in raised.value.diagnostics if d.code == "E600"]
    assert "save_key_metric" in error.message and "on the trainer" in error.message
    manifest, comp = compile_edited_example(tmp_path / "a", edit, target="auto")
    (warning,) = [d for d in comp.diags.items if d.code == "W113"]
    assert "save_key_metric" in warning.message
    assert "SupervisedTrainer(" in (tmp_path / "a/out/J0001/train.py").read_text()


def test_val_interval_says_what_it_counts(tmp_path):
    """A ValidationHandler with epoch_level false counts iterations; --val-interval's
    help said epochs (an attack on issue 28)."""

    def edit(cfg):
        cfg["train"]["handlers"][1]["args"]["epoch_level"] = False

    compile_edited_example(tmp_path / "i", edit, target="engines")
    text = (tmp_path / "i/out/J0001/train.py").read_text()
    assert "validate every N iterations" in text
    compile_edited_example(tmp_path / "e", target="engines")
    assert "validate every N epochs" in (tmp_path / "e/out/J0001/train.py").read_text()


def test_set_mmar_root_is_the_scripts_mmar(tmp_path):
    """--set MMAR_ROOT was taken and then ignored for the -m folder (an attack on issue
    28): the script's MMAR is the one --set gave."""
    compile_edited_example(tmp_path, sets=(("MMAR_ROOT", "/data/mmars/spleen"),))
    text = (tmp_path / "out/J0001/train.py").read_text()
    assert 'MMAR_ROOT = "/data/mmars/spleen"  # the MMAR --set MMAR_ROOT gave' in text


def test_auto_says_the_engines_run_a_config_only_where_they_do(tmp_path):
    """Where the engines cannot lower the config either, W113 said "MONAI's engines run
    it" next to their error, and nothing was written (an attack on issue 28)."""

    def edit(cfg):
        cfg["search"].append({"domain": "net", "type": "enum", "args": ["epochs"],
                              "targets": [[10], [20]]})  # fmt: skip

    with pytest.raises(CompileError) as raised:
        compile_edited_example(tmp_path, edit, target="auto")
    codes = [d.code for d in raised.value.diagnostics]
    assert "E602" in codes and "W113" not in codes
