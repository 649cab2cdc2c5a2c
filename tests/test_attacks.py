"""Attacks on "nothing in a config runs" (issue 15): what an adversary writes, slot by slot.

Every case puts a payload into one place of a config (an expression's scopes, an attribute
chain through an allowed module, a BYOC path, a text slot that could break out of its
string, comment or docstring, unicode that rewrites how code reads) and says what claragen
must do: refuse it with a given code, or compile it into scripts that are inert. The oracle
of "inert" is what a user does: every generated file passes `compile()`, and
`python <script> --help` runs in a scratch folder without the payload's marker appearing
(a module-level constant that is code would run there). Refused cases write nothing.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from tests.conftest import ENV, EXAMPLE, copy_example, minimal, write
from tests.helprunner import HelpRunner

runner = CliRunner()
MARK = "PWNED"
RUN = f"__import__('os').system('touch {MARK}')"
TOUCH = f"open('{MARK}', 'w')"
BREAKOUT = f'"""\'\'\'");\n{TOUCH}\n#'
SET_BREAKOUT = f'"""\'\'\'");{TOUCH.replace(" ", "")};#'  # --set splits at blanks
UNICODE = (
    "a\u2028b\u2029c\u202e\u2066d\x00e\x1b[31m\ufeff"  # separators, bidi, NUL, ESC
)


@pytest.fixture(scope="module")
def helper():
    runner_ = HelpRunner()
    yield runner_
    runner_.close()


def model_arg(value):
    return lambda c: c["train"]["model"]["args"].update(channels=value)


def loss_arg(value):
    return lambda c: c["train"]["loss"]["args"].update(reduction=value)


def lambdad(func):
    return lambda c: c["train"]["pre_transforms"].append(
        {"name": "Lambdad", "args": {"keys": "image", "func": func}}
    )


def handler(comp):
    return lambda c: c["train"]["handlers"].append(comp)


def tag(value):
    return lambda c: c["train"]["handlers"][0]["args"].update(tag_name=value)


def searched(value, search_value=None):
    """A searched arg whose config value (the default job's) is `value`."""

    def edit(c):
        c["train"]["model"]["args"]["num_res_units"] = value
        c["train"]["model"]["search"] = [
            {"type": "enum", "args": ["num_res_units"],
             "targets": [[search_value if search_value is not None else 1], [2]]}
        ]  # fmt: skip

    return edit


def both(*edits):
    def edit(c):
        for e in edits:
            e(c)

    return edit


# name: (edit of the minimal 4.1 config, command-line args, expected: "inert" or a code)
CASES = {
    # -- scopes: a name bound in a comprehension or lambda exists only inside it
    "comprehension binds eval": (model_arg("#[0 for eval in ()] or eval('1')"), (), "E204"),
    "lambda param named eval": (model_arg("#(lambda eval: 0) or eval('1')"), (), "E204"),
    "dict comprehension binds open": (loss_arg("#{open: 0 for open in ()} or open('x')"), (), "E204"),
    "lambda variable used after it": (lambdad("lambda x: [y for y in x] and y"), (), "E204"),
    "lambda default is read outside": (lambdad("lambda x=exec: x"), (), "E204"),
    "first iterable is read outside": (model_arg("#[x for x in exec('1')]"), (), "E204"),
    "inner lambda's param outside it": (lambdad("lambda x: (lambda y: y)(x) or y"), (), "E204"),
    "nested comprehension leaks": (model_arg("#[[z for z in ()] for w in ()] or z"), (), "E204"),
    "later generator binds the first's iterable": (
        model_arg("#[0 for a in open('x') for open in ()]"), (), "E204"),
    "comprehension target is an attribute": (model_arg("#[0 for torch.x in [1]]"), (), "E206"),
    "walrus": (model_arg("#(eval := print)"), (), "E206"),
    "searched default binds eval": (searched(f"#[0 for eval in ()] or eval({RUN!r}) or 2"), (), "E204"),
    # -- frames, globals, dunders reached through attributes or strings
    "generator frame": (model_arg("#(x for x in ()).gi_frame.f_globals"), (), "E205"),
    "lambda frame": (lambdad("lambda x: x.gi_frame"), (), "E205"),
    "traceback frame": (lambdad("lambda e: e.tb_frame.f_back"), (), "E205"),
    "private attribute": (lambdad("lambda x: x._modules"), (), "E205"),
    "dunder attribute": (lambdad("lambda x: x.__class__.__base__"), (), "E205"),
    "dunder item": (lambdad("lambda x: x['__builtins__']"), (), "E206"),
    "format reaches a dunder": (lambdad("lambda x: '{0.__class__}'.format(x)"), (), "E206"),
    # -- attribute chains through an allowed module
    "torch.os": (loss_arg(f"#torch.os.system('touch {MARK}') or 'mean'"), (), "E205"),
    "torch.serialization.pickle": (model_arg("#torch.serialization.pickle.loads(b'x')"), (), "E205"),
    "monai ConfigParser": (model_arg("#monai.bundle.ConfigParser({'a': '$print(1)'}).get_parsed_content('a')"), (), "E205"),
    "monai optional_import": (model_arg("#monai.utils.optional_import('os')[0].system('x')"), (), "E205"),
    "monai instantiate": (model_arg("#monai.utils.module.instantiate('os.system', 'x')"), (), "E205"),
    "torch.hub": (model_arg("#torch.hub.load('a/b', 'c')"), (), "E205"),
    "torch.load": (model_arg("#torch.load('x.pt')"), (), "E205"),
    "numpy.load": (model_arg("#numpy.load('x.npy', allow_pickle=True)"), (), "E205"),
    "np.lib": (model_arg("#np.lib.format.pickle.loads(b'x')"), (), "E205"),
    "cpp_extension": (model_arg("#torch.utils.cpp_extension.load_inline('a', 'b')"), (), "E205"),
    "ignite's time": (model_arg("#ignite.engine.engine.time.sleep(1)"), (), "E205"),
    "math.sys": (model_arg("#math.sys.exit()"), (), "E205"),
    "torch._C": (model_arg("#torch._C._get_tracing_state()"), (), "E205"),
    "a module itself": (model_arg("#torch"), (), "E205"),
    "past a class": (model_arg("#torch.optim.Adam.step"), (), "E205"),
    "past a class, private": (model_arg("#monai.transforms.LoadImaged._x"), (), "E205"),
    "lambda reaches torch.os": (lambdad("lambda x: torch.os.system('x')"), (), "E205"),
    "attribute of a call result": (lambdad("lambda x: torch.tensor(1).__reduce__"), (), "E205"),
    # -- names
    "__import__": (model_arg("#" + RUN), (), "E204"),
    "globals": (model_arg("#globals()"), (), "E204"),
    "getattr": (model_arg("#getattr(torch, 'os')"), (), "E204"),
    "breakpoint": (lambdad("lambda x: breakpoint()"), (), "E204"),
    "open": (lambdad("lambda x: open('x', 'w')"), (), "E204"),
    "compile": (model_arg("#compile('1', 'x', 'eval')"), (), "E204"),
    "disabled is code": (lambda c: c["train"]["handlers"][0].update(disabled="#" + RUN), (), "E204"),
    # -- BYOC paths that name no class of the user's own
    "subprocess.Popen": (handler({"path": "subprocess.Popen", "args": {"args": ["touch", MARK]}}), (), "E106"),
    "os.system": (handler({"path": "os.system", "args": {"command": f"touch {MARK}"}}), (), "E106"),
    "pickle.loads": (handler({"path": "pickle.loads"}), (), "E106"),
    "builtins.eval": (handler({"path": "builtins.eval", "args": {"source": RUN}}), (), "E106"),
    "importlib": (handler({"path": "importlib.import_module", "args": {"name": "os"}}), (), "E106"),
    "shutil.rmtree": (handler({"path": "shutil.rmtree", "args": {"path": "/"}}), (), "E106"),
    "ctypes": (handler({"path": "ctypes.CDLL", "args": {"name": "libc.so.6"}}), (), "E106"),
    "torch internals": (handler({"path": "torch.serialization.load"}), (), "E106"),
    "monai bundle": (handler({"path": "monai.bundle.ConfigParser"}), (), "E106"),
    "numpy.load path": (handler({"path": "numpy.load"}), (), "E106"),
    "a table class in another module": (handler({"path": "torch.os.Adam"}), (), "E106"),
    "path with a newline": (handler({"path": f"my_mod.H\n{TOUCH}"}), (), "E105"),
    # -- computed values that would become module-level constants
    "searched default is code": (searched("#max(1, 2)"), (), "E207"),
    "engines interval is code": (
        both(lambda c: c.update(validate=json.loads(json.dumps(VALIDATE))),
             lambda c: c["train"]["handlers"].append(
                 {"name": "ValidationHandler", "args": {"validator": "@evaluator", "interval": "#max(1, 1)", "epoch_level": True}})),
        ("--target", "engines"), "E207"),
    # -- text that could break out of its string, comment or docstring
    "tag breakout": (tag(BREAKOUT), (), "inert"),
    "tag unicode": (tag(UNICODE), (), "inert"),
    "byoc arg value breakout": (handler({"path": "my_mod.H", "args": {"x": BREAKOUT, "y": UNICODE}}), (), "inert"),
    "dict key breakout": (handler({"path": "my_mod.H", "args": {"x": {BREAKOUT: UNICODE}}}), (), "inert"),
    "section key unicode": (lambda c: c["train"].update({UNICODE: {"name": "Identity"}}), (), "inert"),
    "first-level key and value": (lambda c: c.update({BREAKOUT: UNICODE, UNICODE: BREAKOUT}), (), "inert"),
    "searched string in the docstring": (
        lambda c: c["train"]["handlers"][0].update(search=[{"type": "enum", "args": ["tag_name"],
                                                            "targets": [[BREAKOUT + UNICODE], ["x"]]}]),
        ("--jobs", "grid"), "inert"),
    "first-level search value": (
        lambda c: c.update(search=[{"type": "enum", "args": ["learning_rate"],
                                    "targets": [[UNICODE], [BREAKOUT]]}]),
        ("--jobs", "grid"), "inert"),
    "dataset key attribute": (lambda c: c["train"]["dataset"].update(data_list_key=BREAKOUT + UNICODE), (), "inert"),
    "percent in paths": (lambda c: None, ("--set", "DATA_ROOT=data%s%(x)d%"), "inert"),
    "--set value": (lambda c: None, ("--set", f"learning_rate={SET_BREAKOUT}"), "inert"),
    "a lambda that prints": (lambdad("lambda x: print(x) or x"), (), "inert"),
    "duplicate arg": (lambda c: None, (), "inert"),  # text-level duplicate: see DUPLICATE
    # -- names that look like others
    "homoglyph arg name": (handler({"path": "my_mod.H", "args": {"\ufb01le": 1, "file": 2}}), (), "E104"),
    "bidi in an arg name": (handler({"path": "my_mod.H", "args": {"keys\u202e": 1}}), (), "E104"),
    "line separator in an arg name": (handler({"path": "my_mod.H", "args": {"a\u2028b": 1}}), (), "E104"),
    "NUL in a component name": (lambda c: c["train"]["inferer"].update(name="Simple\x00Inferer"), (), "E400"),
    "alias with a statement": (lambda c: c["train"]["model"].update(search=[
        {"type": "enum", "args": [f"channels#a\n{TOUCH}"], "targets": [[[4, 8]], [[8, 16]]]}]),
        ("--jobs", "grid"), "E500"),
    "free tag with a statement": (lambda c: c.update(search=[
        {"type": "enum", "args": [f"@t\n{TOUCH}"], "targets": [[True], [False]]}]),
        ("--jobs", "grid"), "E500"),
    "ref with a payload": (lambda c: c["train"]["handlers"].append({"ref": BREAKOUT}), (), "E302"),
}  # fmt: skip
VALIDATE = {
    "inferer": {"name": "SimpleInferer"},
    "metrics": [{"name": "MeanDice", "log_label": "val_mean_dice", "is_key_metric": True,
                 "args": {"include_background": False, "output_transform": "#monai.handlers.from_engine(['pred', 'label'])"}}],
    "evaluator": {"name": "SupervisedEvaluator", "args": {
        "val_data_loader": "@dataloader", "network": "@model", "inferer": "@inferer"}},
}  # fmt: skip
DUPLICATE = (
    '"keys": [\n            "image",',
    '"keys": "label", "keys": [\n            "image",',
)


def compile_case(tmp_path: Path, name: str):
    edit, args, expected = CASES[name]
    cfg = minimal()
    edit(cfg)
    text = json.dumps(cfg, indent=2, ensure_ascii=False)
    if name == "duplicate arg":
        text = text.replace(*DUPLICATE, 1)
    config = write(tmp_path, "mmar/config/config_train.json", "")
    config.write_text(text, encoding="utf-8")
    env = {**ENV, "DATA_ROOT": BREAKOUT + UNICODE}  # a payload in environment.json too
    (config.parent / "environment.json").write_text(json.dumps(env), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(config), "-o", str(out), *args])
    return result, out, expected


def test_there_are_enough_cases():
    assert len(CASES) >= 60


@pytest.mark.parametrize("name", list(CASES))
def test_an_attack_is_refused_or_inert(tmp_path, monkeypatch, helper, name):
    monkeypatch.chdir(tmp_path)
    result, out, expected = compile_case(tmp_path, name)
    assert result.exception is None or isinstance(
        result.exception, SystemExit
    ), result.output
    assert not list(tmp_path.rglob(MARK)), "the payload ran at compile time"
    if expected != "inert":
        assert result.exit_code == 1, result.output
        assert f"error[{expected}]" in result.output, result.output
        assert "Traceback" not in result.output
        assert not out.exists()
        return
    assert result.exit_code == 0, result.output
    scripts = sorted(out.rglob("*.py"))
    assert scripts
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    for script in scripts:
        source = script.read_text(encoding="utf-8")
        compile(source, str(script), "exec", dont_inherit=True)
        assert (
            "\x00" not in source and "\u202e" not in source and "\u2028" not in source
        )
        code, output = helper.help(script, scratch)
        assert code == 0, output
        assert "usage:" in output
        assert not list(tmp_path.rglob(MARK)), f"--help of {script} ran the payload"


def test_the_oracle_sees_code_that_runs_at_import(tmp_path, helper):
    """--help would show a module-level payload: the oracle above can fail."""
    script = tmp_path / "train.py"
    script.write_text(f"{TOUCH}\nimport sys\nprint('usage: x')\nsys.exit(0)\n")
    assert helper.help(script, tmp_path)[0] == 0
    assert (tmp_path / MARK).exists()


def test_a_3x_config_holds_text_as_text(tmp_path, monkeypatch, helper):
    """The 3.x dialect has no code strings: '#' and 'lambda' text stays text."""
    monkeypatch.chdir(tmp_path)
    cfg = json.loads(
        (EXAMPLE.parent / "spleen_3x/config/config_train.json").read_text()
    )
    cfg["train"]["model"]["args"]["pretrain_weight_name"] = "#" + RUN + BREAKOUT
    cfg["train"]["pre_transforms"][0]["args"]["fields"] = ["image", "label"]
    config = write(tmp_path, "mmar/config/config_train.json", json.dumps(cfg))
    for name in ("environment.json", "dataset_0.json"):
        source = EXAMPLE.parent / "spleen_3x/config" / name
        (config.parent / name).write_text(source.read_text())
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(config), "-o", str(out)])
    assert not list(tmp_path.rglob(MARK))
    assert result.exit_code in (0, 1), result.output
    for script in out.rglob("*.py"):
        compile(script.read_text(), str(script), "exec")
        assert helper.help(script, tmp_path)[0] == 0
        assert not list(tmp_path.rglob(MARK))


def test_a_file_name_that_rewrites_text_is_shown_escaped(tmp_path, helper):
    """Bidi controls and line separators in a config's name reach the docstring, the
    comments and the diagnostics as escapes."""
    name = "config_\u202etxt.\u2028x.json"
    cfg = json.dumps(minimal()).replace(
        '"batch_size": 1', '"batch_size": 1, "batch_size": 1'
    )
    config = write(tmp_path, "mmar/config/" + name, cfg)
    (config.parent / "environment.json").write_text(json.dumps(ENV))
    out = tmp_path / "out"
    result = runner.invoke(app, ["compile", str(config), "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "config_\\u202etxt.\\u2028x.json" in result.output  # the W108 warning's file
    assert "\u202e" not in result.output and "\u2028" not in result.output
    source = (out / "J0001" / "train.py").read_text(encoding="utf-8")
    assert "\u202e" not in source and "\u2028" not in source
    assert "config_\\u202etxt" in source
    assert helper.help(out / "J0001" / "train.py", tmp_path)[0] == 0


def test_a_metric_transform_that_is_data_is_refused(tmp_path):
    """Found by make fuzz: `"output_transform": true` became `True(items)`, a script that
    compiled (with a SyntaxWarning) and could never run."""
    mmar = copy_example(tmp_path)
    path = mmar / "config" / "config_train.json"
    cfg = json.loads(path.read_text())
    cfg["validate"]["key_metric"]["args"]["output_transform"] = True
    path.write_text(json.dumps(cfg, indent=2))
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["compile", "-m", str(mmar), "-o", str(out), "--target", "plain"]
    )
    assert result.exit_code == 1, result.output
    assert (
        "error[E602]: MeanDice's output_transform must be a callable" in result.output
    )


def test_a_metric_transform_that_is_a_list_is_refused(tmp_path):
    """Found by make fuzz: a list of lambdas there crashed the diagnostic itself."""
    mmar = copy_example(tmp_path)
    path = mmar / "config" / "config_train.json"
    cfg = json.loads(path.read_text())
    cfg["validate"]["key_metric"]["args"]["output_transform"] = ["lambda x: x", 1]
    path.write_text(json.dumps(cfg, indent=2))
    result = runner.invoke(
        app,
        ["compile", "-m", str(mmar), "-o", str(tmp_path / "o"), "--target", "plain"],
    )
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert (
        result.exit_code == 1
        and "callable" in result.output
        and "a list" in result.output
    )
