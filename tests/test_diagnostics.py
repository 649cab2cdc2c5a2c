"""Diagnostic codes: every code has a case that yields it, the docs show the compiler's real
output, and every bad input named in the issues and in the corpus INDEX.tsv `notes` is
pinned by (code, line, column)."""

from __future__ import annotations

import importlib.util
import json

import pytest
from typer.testing import CliRunner

from claragen.cli import app
from claragen.transpiler.codes import CODES
from tests.conftest import CORPUS, ENV, EXAMPLE, REPO, minimal, write

spec = importlib.util.spec_from_file_location(
    "gen_diagnostics_doc", REPO / "tools" / "gen_diagnostics_doc.py"
)
gen_doc = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
spec.loader.exec_module(gen_doc)  # type: ignore[union-attr]

runner = CliRunner()
FOLDER = CORPUS / "clara-train-examples"
SPLEEN_3X = EXAMPLE.parent / "spleen_3x" / "config" / "config_train.json"


def check_json(*args) -> tuple[int, dict]:
    result = runner.invoke(app, ["check", "--format", "json", *map(str, args)])
    assert result.exception is None or isinstance(
        result.exception, SystemExit
    ), result.output
    return result.exit_code, json.loads(result.output)


def diagnose(tmp_path, cfg, *args) -> list[tuple[str, int, int]]:
    """(code, line, column) of every diagnostic of `claragen check` on `cfg`."""
    text = cfg if isinstance(cfg, str) else json.dumps(cfg, indent=2)
    config = write(tmp_path, "config/config_train.json", text)
    write(tmp_path, "config/environment.json", json.dumps(ENV))
    _, report = check_json(config, *args)
    return [(d["code"], d["line"], d["column"]) for d in report["diagnostics"]]


@pytest.mark.parametrize("code", list(CODES))
def test_every_code_has_a_case_that_yields_it(code):
    case = gen_doc.CASES / code
    assert case.is_dir(), f"tests/diagnostics/{code} is missing"
    status, output = gen_doc.run_case(case)
    assert f"[{code}]:" in output, output
    assert "Traceback" not in output
    assert status == (1 if code.startswith("E") else 0), output


def test_the_docs_show_what_the_compiler_prints():
    """docs/diagnostics.md is written by tools/gen_diagnostics_doc.py; rerun it when this
    fails, and review the diff."""
    assert gen_doc.DOC.read_text() == gen_doc.render()


def test_check_json_has_every_field(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"]["chanels"] = cfg["train"]["model"]["args"].pop(
        "channels"
    )
    config = write(tmp_path, "config/config_train.json", json.dumps(cfg, indent=2))
    status, report = check_json(config)
    assert status == 1
    (diag,) = report["diagnostics"]
    assert diag == {
        "severity": "error",
        "code": "E401",
        "name": "unknown-argument",
        "file": str(config),
        "line": 30,
        "column": 9,
        "message": "UNet takes no argument 'chanels' (monai.networks.nets.UNet)",
        "help": "did you mean 'channels'?",
    }
    assert (report["errors"], report["warnings"]) == (1, 0)


def test_check_of_a_good_config_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["check", "-m", str(EXAMPLE), "--jobs", "grid"])
    assert result.exit_code == 0, result.output
    assert "no problems (" in result.output
    assert list(tmp_path.iterdir()) == []


# -- the bad inputs the issues name -------------------------------------------------------


def with_loss(*losses):
    cfg = minimal()
    cfg["train"]["loss"] = list(losses)
    return cfg


def job_alternatives():
    cfg = minimal()
    cfg["search"] = [{"type": "enum", "args": ["d1", "d2"],
                      "targets": [[True, False], [False, False]]}]  # fmt: skip
    cfg["train"]["loss"] = [
        {"name": "DiceLoss", "apply": {"@disabled": "d1"}},
        {"name": "FocalLoss", "apply": {"@disabled": "d2"}},
    ]
    return cfg


def spleen_3x(edit):
    cfg = json.loads(SPLEEN_3X.read_text())
    edit(cfg)
    return cfg


def _rename_3x_arg(cfg):
    scale = next(
        t for t in cfg["train"]["pre_transforms"] if t["name"] == "ScaleIntensityRange"
    )
    scale["args"]["a_mx"] = scale["args"].pop("a_max")


def case_config(code):
    return (gen_doc.CASES / code / "config" / "config_train.json").read_text()


ISSUE_BAD_INPUTS = {
    # issue 2 (the 4.1 skeleton)
    "malformed JSON": (case_config("E101"), (), [("E101", 3, 10)]),
    "unknown variable": (case_config("E200"), (), [("E200", 18, 15)]),
    "reference to nothing": (case_config("E300"), (), [("E300", 88, 20)]),
    "reference cycle": (case_config("E301"), (), [("E301", 17, 19)]),
    "#expr not one expression": (case_config("E203"), (), [("E203", 27, 23)]),
    "no alternative enabled": (
        with_loss({"name": "DiceLoss", "disabled": True},
                  {"name": "FocalLoss", "disabled": True}), (), [("E304", 8, 7)]),
    "two alternatives enabled": (case_config("E304"), (), [("E304", 8, 7)]),
    "unknown component": (case_config("E400"), (), [("E400", 73, 15)]),
    # issue 3 (search spaces)
    "apply of an undefined alias": (case_config("E506"), (), [("E506", 62, 19)]),
    "alias defined twice": (case_config("E505"), (), [("E505", 81, 11)]),
    "search arg the class does not take": (case_config("E504"), (), [("E504", 65, 15)]),
    "enum choice of the wrong length": (case_config("E502"), (), [("E502", 42, 22)]),
    "float targets not min < max": (case_config("E501"), (), [("E501", 26, 22)]),
    "unknown search type": (case_config("E503"), (), [("E503", 22, 19)]),
    "a job with two alternatives enabled": (job_alternatives(), ("--jobs", "grid"),
                                            [("E304", 8, 7)]),
    # issue 4 (legacy dialects)
    "unknown legacy component": (
        spleen_3x(lambda c: c["train"]["pre_transforms"][1].update(
            name="ScaleIntensityRang")), (), [("E400", 50, 17)]),
    "unknown 3.x arg": (spleen_3x(_rename_3x_arg), (), [("E402", 59, 17), ("E401", 66, 11)]),
    "pipeline without a datalist": (
        spleen_3x(lambda c: c["train"]["image_pipeline"]["args"].pop(
            "data_list_file_path")), (), [("E405", 112, 23)]),
}  # fmt: skip


@pytest.mark.parametrize("name", list(ISSUE_BAD_INPUTS))
def test_issue_bad_input(tmp_path, name):
    cfg, args, expected = ISSUE_BAD_INPUTS[name]
    found = [d for d in diagnose(tmp_path, cfg, *args) if d[0].startswith("E")]
    assert found == expected


# -- the defects the corpus INDEX.tsv `notes` column lists ---------------------------------

CORPUS_DEFECTS = {
    # "invalid JSON: "use_amp": ture (typo in original)"
    "Tensorflow-Deprecated__Performance__configDemo__trn1_AMP.json": [("E101", 7, 14)],
    # "invalid JSON: trailing comma in original; FL config"
    "PyTorch-Early-Access__NoteBooks__FL__adminMMAR_privacy__config__"
    "config_fed_client_w_SVT@fe48246.json": [("E101", 32, 9)],
    # "apply {"probability": "myProb"} on RandGaussianNoise whose arg is prob"
    "PyTorch-Early-Access__NoteBooks__AutoML__config__trn_autoML_TransformProb@"
    "f38ab4f.json": [("W106", 26, 15), ("W110", 57, 17), ("E504", 124, 34)],
    # "mixed: 4.0 layout but still TF names Focal/NovoGrad/aux_ops DiceMaskedOutput"
    "PyTorch-Early-Access__NoteBooks__AutoML__config__trn_autoML_Loss_Optimizer@"
    "f38ab4f.json": [("W101", 28, 30), ("W106", 37, 17), ("W101", 46, 30),  # issue 28:
                     ("W106", 52, 15), ("W101", 57, 7),  # the default job's choices
                     ("W106", 66, 15), ("W110", 97, 17),
                     ("W111", 182, 23)],  # epochs 1, validation every 20 (issue 28)
    # "4.0 layout; lr_scheduler ReducePoly (Clara medl class)"
    "PyTorch-Early-Access__NoteBooks__AutoML__config__trn_autoML_LR_LP@f38ab4f.json": [
        ("W106", 21, 15), ("W101", 32, 7), ("W106", 41, 15), ("W110", 80, 17),
        ("W111", 181, 23)],  # epochs 1, validation every 20: never scored
}  # fmt: skip


@pytest.mark.skipif(not FOLDER.is_dir(), reason="needs ../shared/corpus")
@pytest.mark.parametrize("name", list(CORPUS_DEFECTS))
def test_corpus_defect(name):
    status, report = check_json(FOLDER / name)
    found = [(d["code"], d["line"], d["column"]) for d in report["diagnostics"]]
    assert found == CORPUS_DEFECTS[name]
    assert status == (1 if any(c.startswith("E") for c, _, _ in found) else 0)


@pytest.mark.skipif(not FOLDER.is_dir(), reason="needs ../shared/corpus")
def test_every_noted_defect_is_pinned():
    """A new defect note in INDEX.tsv needs its entry above."""
    rows = (CORPUS / "INDEX.tsv").read_text().splitlines()
    head = rows[0].split("\t")
    noted = set()
    for row in rows[1:]:
        cells = dict(zip(head, row.split("\t"), strict=False))
        note = cells.get("notes", "")
        if any(w in note for w in ("invalid JSON", "bug in original", "half-ported",
                                   "medl class")):  # fmt: skip
            noted.add(cells["file"].split("/", 1)[1])
    assert noted == set(CORPUS_DEFECTS)


# -- --import-byoc: the one switch that runs user code -------------------------------------


def byoc_config(tmp_path, module, source, args):
    write(tmp_path, f"custom/{module}.py", source)
    cfg = minimal()
    cfg["train"]["model"] = {"path": f"{module}.MyNet", "args": args}
    return cfg


def test_byoc_classes_are_imported_and_checked_only_when_asked(tmp_path):
    source = """
        from pathlib import Path

        Path(__file__).with_name("imported").touch()


        class MyNet:
            def __init__(self, width: int, depth: int = 2):
                pass
        """
    cfg = byoc_config(tmp_path, "byoc_net_a", source, {"widht": 3, "depth": "2"})
    assert diagnose(tmp_path, cfg) == []
    assert not (tmp_path / "custom" / "imported").exists(), "imported without asking"
    found = diagnose(tmp_path, cfg, "--import-byoc")
    assert (tmp_path / "custom" / "imported").exists()
    assert found == [("E401", 24, 9), ("W105", 25, 18)]


def test_a_byoc_module_that_fails_to_import_is_a_diagnostic(tmp_path):
    source = 'raise RuntimeError("no GPU here")\n'
    cfg = byoc_config(tmp_path, "byoc_net_b", source, {})
    config = write(tmp_path, "config/config_train.json", json.dumps(cfg, indent=2))
    status, report = check_json(config, "--import-byoc")
    assert status == 1
    (diag,) = report["diagnostics"]
    assert (diag["code"], diag["line"], diag["column"]) == ("E410", 22, 15)
    assert "importing 'byoc_net_b' raised RuntimeError: no GPU here" in diag["message"]


def test_pythonpath_names_another_folder_of_byoc_modules(tmp_path):
    write(tmp_path, "elsewhere/byoc_net_c.py", "class MyNet:\n    def __init__(self, width):\n        pass\n")  # fmt: skip
    cfg = minimal()
    cfg["train"]["model"] = {"path": "byoc_net_c.MyNet", "args": {"width": 1}}
    assert diagnose(tmp_path, cfg, "--import-byoc") == [("E410", 22, 15)]
    found = diagnose(
        tmp_path, cfg, "--import-byoc", "--pythonpath", tmp_path / "elsewhere"
    )
    assert found == []


# -- shapes the fuzzer found -------------------------------------------------------------


def test_a_section_slot_must_hold_components(tmp_path):
    cfg = minimal()
    cfg["train"]["handlers"] = 1
    cfg["train"]["pre_transforms"].append({})
    cfg["train"]["metrics"] = [{"name": "Accuracy"}, "MeanDice"]
    found = diagnose(tmp_path, cfg)
    assert found == [("E104", 55, 7), ("E104", 76, 17), ("E104", 90, 16)]


def test_a_bad_expression_is_not_also_a_string_where_a_number_goes(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"]["dropout"] = "lambda x: open('f')"
    assert diagnose(tmp_path, cfg) == [("E204", 34, 20)]
