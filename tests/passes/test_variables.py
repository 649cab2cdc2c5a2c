import pytest

from claragen.transpiler.ir import Lit, RuntimeVar, Template
from claragen.transpiler.passes.variables import resolve_variables
from tests.conftest import ENV, build, minimal


def lr_of(config):
    return config.sections["train"]["optimizer"].arg("lr")


def test_whole_string_variable_takes_the_typed_value(tmp_path):
    config, ctx = build(tmp_path, minimal(), ENV)
    out = resolve_variables(config, ctx)
    assert lr_of(out).value == 1e-4
    assert out.sections["train"]["trainer"].arg("max_epochs").value == 2
    assert out.sections["train"]["trainer"].arg("amp").value is False


def test_precedence_set_over_environment_over_first_level(tmp_path):
    config, ctx = build(
        tmp_path, minimal(), {**ENV, "learning_rate": 0.5}, sets=(("epochs", "7"),)
    )
    out = resolve_variables(config, ctx)
    assert lr_of(out).value == 0.5  # environment.json beats the first level
    assert (
        out.sections["train"]["trainer"].arg("max_epochs").value == 7
    )  # --set beats all


def test_set_values_are_typed(tmp_path):
    config, ctx = build(
        tmp_path, minimal(), ENV, sets=(("amp", "True"), ("learning_rate", "2e-4"))
    )
    out = resolve_variables(config, ctx)
    assert out.sections["train"]["trainer"].arg("amp").value is True
    assert lr_of(out).value == 2e-4


def test_path_variables_stay_runtime_options(tmp_path):
    config, ctx = build(tmp_path, minimal(), ENV)
    dataset = resolve_variables(config, ctx).sections["train"]["dataset"]
    path = dataset.attr("data_list_file_path")
    assert isinstance(path, RuntimeVar)
    assert (path.name, path.default) == ("DATASET_JSON", "config/dataset.json")


def test_templates_format_and_keep_runtime_parts(tmp_path):
    cfg = minimal()
    cfg["train"]["handlers"][0]["args"]["tag_name"] = "loss_{epochs}_{{x}}"
    cfg["train"]["dataset"]["data_file_base_dir"] = "{DATA_ROOT}/sub"
    config, ctx = build(tmp_path, cfg, ENV)
    out = resolve_variables(config, ctx)
    assert out.sections["train"]["handlers"][0].arg("tag_name") == Lit(
        out.sections["train"]["handlers"][0].arg("tag_name").span, "loss_2_{x}"
    )
    base = out.sections["train"]["dataset"].attr("data_file_base_dir")
    assert isinstance(base, Template) and base.parts[1] == "/sub"


def test_unknown_variable_is_an_error_with_a_suggestion(tmp_path):
    cfg = minimal()
    cfg["train"]["optimizer"]["args"]["lr"] = "{learning_rat}"
    config, ctx = build(tmp_path, cfg, ENV)
    resolve_variables(config, ctx)
    (err,) = ctx.diags.errors
    assert err.message == "unknown variable 'learning_rat'"
    assert err.help == "did you mean 'learning_rate'?"
    assert (err.span.line, err.span.column) == (18, 15)  # the string's opening quote


def test_a_first_level_value_that_names_a_variable_takes_its_typed_value(tmp_path):
    """`"amp": "{USE_AMP}"` with USE_AMP false in environment.json: Clara substitutes its
    first level too, so `{amp}` is False, not the text "{USE_AMP}" (bool() of which was
    True; an lr of "{LR}" crashed at the optimizer). Found by an attack on issue 28."""
    cfg = minimal()
    cfg.update({"amp": "{USE_AMP}", "learning_rate": "{LR}", "ckpt": "{MMAR_CKPT_DIR}",
                "twice": "{amp}"})  # fmt: skip
    cfg["train"]["dataset"]["data_file_base_dir"] = "{ckpt}"
    cfg["train"]["trainer"]["args"]["amp"] = "{twice}"
    config, ctx = build(tmp_path, cfg, {**ENV, "USE_AMP": False, "LR": 0.01})
    out = resolve_variables(config, ctx)
    ctx.diags.raise_if_errors()
    assert out.sections["train"]["trainer"].arg("amp").value is False
    assert lr_of(out).value == 0.01
    assert out.variables["amp"] is False and out.variables["learning_rate"] == 0.01
    # a path stays the option that sets it
    base = out.sections["train"]["dataset"].attr("data_file_base_dir")
    assert isinstance(base, RuntimeVar) and base.name == "MMAR_CKPT_DIR"


@pytest.mark.parametrize("values", [
    {"a": "{a}"}, {"a": "{b}", "b": "{a}"}, {"a": "{sz}", "sz": [16, 16]},
    {"a": "{nowhere}"},
])  # fmt: skip
def test_a_variable_that_names_no_value_is_an_error_where_it_is_used(tmp_path, values):
    """A loop of "{x}"s, or one that names a list (which is no variable) or nothing, was
    written into the script as its text (`Adam(lr="{a}")`, found by an attack on issue
    29): an E200 says so."""
    cfg = minimal()
    cfg.update(values)
    cfg["train"]["handlers"][0]["args"]["tag_name"] = "{a}"
    config, ctx = build(tmp_path, cfg, ENV)
    resolve_variables(config, ctx)
    (error,) = ctx.diags.errors
    assert error.code == "E200" and "the variable 'a' is" in error.message


def test_a_chained_variable_reaches_the_script(tmp_path):
    from tests.conftest import compile_edited_example

    def edit(cfg):
        cfg.update({"amp": "{USE_AMP}", "cudnn_benchmark": "{BENCH}", "USE_AMP": True,
                    "BENCH": True})  # fmt: skip

    compile_edited_example(
        tmp_path, edit, sets=(("USE_AMP", "False"), ("BENCH", "False"))
    )
    text = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "train_amp = False" in text and '"{USE_AMP}"' not in text
    assert "torch.backends.cudnn.benchmark = False" in text
