"""Clara 3.x aux ops averaged by ComputeAverage (issue 29, item 4): NegLoss, the negated
loss, is written out into the script (ClaraNegLoss) rather than left out."""

import json
import re
import runpy

import pytest
import torch

from claragen.smoke import smoke
from claragen.transpiler import written
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests.conftest import CORPUS
from tests.dialects.test_clara3 import SPLEEN_3X

TRN_BASE = (
    CORPUS / "clara-train-examples"
    / "Tensorflow-Deprecated__GettingStarted__config__trn_base.json"
)  # fmt: skip
ENV = TRN_BASE.with_name(
    "Tensorflow-Deprecated__GettingStarted__config__environment.json"
)
needs_corpus = pytest.mark.skipif(
    not TRN_BASE.is_file(), reason="needs ../shared/corpus"
)


def neg_loss_class():
    return runpy.run_path(str(written.FOLDER / "ClaraNegLoss.py"))["ClaraNegLoss"]


def test_the_written_neg_loss_averages_the_negated_loss_of_each_case():
    """NegLoss emitted -loss under its tag; ComputeAverage averaged it over the cases."""
    from monai.losses import DiceLoss

    torch.manual_seed(0)
    loss = DiceLoss(to_onehot_y=True, softmax=True)
    metric = neg_loss_class()(loss)
    preds = [torch.randn(2, 8, 8) for _ in range(5)]
    labels = [torch.randint(0, 2, (1, 8, 8)).float() for _ in range(5)]
    metric(preds[:3], labels[:3])  # two batches, as the loop calls it
    metric(preds[3:], labels[3:])
    want = -torch.stack(
        [loss(p[None], y[None]) for p, y in zip(preds, labels, strict=True)]
    ).mean()
    assert metric.aggregate().item() == pytest.approx(want.item(), rel=1e-6)
    metric.reset()
    assert metric.aggregate().item() == 0.0


def test_the_written_neg_loss_is_a_handler_metric_of_monai_engines():
    """Attached to MONAI's evaluator, it reads the copies the post-transforms keep of
    the raw output and the label (not the argmax and the one-hot label after them)."""
    from monai.engines import SupervisedEvaluator
    from monai.losses import DiceLoss
    from monai.transforms import AsDiscreted, Compose, CopyItemsd

    torch.manual_seed(0)
    loss = DiceLoss(to_onehot_y=True, softmax=True)
    net = torch.nn.Conv2d(1, 2, 3, padding=1)
    data = [{"image": torch.randn(1, 8, 8),
             "label": torch.randint(0, 2, (1, 8, 8)).float()} for _ in range(4)]  # fmt: skip
    post = Compose([
        CopyItemsd(keys=["pred", "label"], names=["pred_raw", "label_raw"]),
        AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=2),
    ])  # fmt: skip
    evaluator = SupervisedEvaluator(
        device=torch.device("cpu"), val_data_loader=torch.utils.data.DataLoader(
            data, batch_size=2), network=net, postprocessing=post,
        key_val_metric={"negloss": neg_loss_class()(loss)},
    )  # fmt: skip
    evaluator.run()
    with torch.no_grad():
        want = -torch.stack(
            [loss(net(d["image"][None]), d["label"][None]) for d in data]
        ).mean()
    assert evaluator.state.metrics["negloss"] == pytest.approx(want.item(), rel=1e-5)


def with_neg_loss(key=False, **average):
    cfg = json.loads(SPLEEN_3X.read_text())
    cfg["train"]["aux_ops"] = [{"name": "NegLoss", "args": {"tag": "negloss"}}]
    cfg["validate"]["metrics"].append({"name": "ComputeAverage", "args": {
        "name": "negloss", "field": "negloss", "is_key_metric": key, **average}})  # fmt: skip
    if key:
        for m in cfg["validate"]["metrics"][:-1]:
            m["args"]["is_key_metric"] = False
    return cfg


@pytest.mark.parametrize("target", ["plain", "engines"])
def test_a_neg_loss_metric_compiles_on_both_targets(tmp_path, target):
    path = tmp_path / "config" / "config_train.json"
    path.parent.mkdir()
    path.write_text(json.dumps(with_neg_loss()))
    comp = Compilation(path, CompileOptions(target=target))
    compile_to_dir(comp, tmp_path / "out")
    text = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert not [d for d in comp.diags.warnings if "NegLoss" in d.message]
    assert "class ClaraNegLoss:" in text
    assert re.search(r"ClaraNegLoss\(\s*loss=loss_function", text)
    # the copies come first, before the activation and the argmax
    post = text.index("val_post_transforms = Compose(")
    copy = text.index(
        'CopyItemsd(keys=["pred", "label"], names=["pred_raw", "label_raw"])'
    )
    assert post < copy < text.index("AsDiscreted(", post)
    assert 'from_engine(["pred_raw", "label_raw"])' in text


def test_a_neg_loss_key_metric_is_the_score(tmp_path):
    path = tmp_path / "config" / "config_train.json"
    path.parent.mkdir()
    path.write_text(json.dumps(with_neg_loss(key=True)))
    compile_to_dir(Compilation(path, CompileOptions()), tmp_path / "out")
    text = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert 'KEY_METRIC = "negloss"' in text


@needs_corpus
@pytest.mark.e2e
def test_the_getting_started_mmar_reports_its_negloss(tmp_path):
    """The corpus's 3.x getting-started config (NegLoss + ComputeAverage): every epoch
    records negloss beside mean_dice, the negated Dice loss (in [-1, 0])."""
    result = smoke(TRN_BASE, ENV, workdir=tmp_path)
    assert result.passed, result
    progress = json.loads((tmp_path / "models" / "progress.jsonl").read_text())
    assert -1.0 <= progress["metrics"]["negloss"] < 0.0


def test_batched_metrics_keeps_a_neg_loss_metric_case_by_case(tmp_path):
    """The loss of a stacked batch is not the mean of its cases' losses: the train
    metric is computed case by case, as the literal loop does, and the rewrite says so.
    """
    from claragen.transpiler.optimize import batched_metrics
    from claragen.transpiler.optimize.base import Skip
    from tests.optimize.test_rewrites import lowered

    cfg = with_neg_loss()
    cfg["train"]["metrics"] = [cfg["validate"]["metrics"].pop()]  # 3.x's train metrics
    result = batched_metrics.apply(lowered(tmp_path, cfg))
    assert isinstance(result, Skip) and "'negloss' computes on what it is given" in (
        result.why
    )


def test_compute_averages_negate_value_negates_the_neg_loss_again():
    """negate_value=True: ComputeAverage negated NegLoss's -loss, averaging the loss."""
    from monai.losses import DiceLoss

    torch.manual_seed(0)
    loss = DiceLoss(to_onehot_y=True, softmax=True)
    pred, label = torch.randn(2, 2, 8, 8), torch.randint(0, 2, (2, 1, 8, 8)).float()
    metric = neg_loss_class()(loss, negate_value=True)
    metric(list(pred), list(label))
    assert metric.aggregate().item() == pytest.approx(loss(pred, label).item(), 1e-6)


def compile_average(tmp_path, **average):
    path = tmp_path / "config" / "config_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(with_neg_loss(**average)))
    comp = Compilation(path, CompileOptions())
    try:
        compile_to_dir(comp, tmp_path / "out")
    except Exception:  # (the test reads the errors)
        return comp, None
    return comp, (tmp_path / "out" / "J0001" / "train.py").read_text()


def test_every_compute_average_arg_is_honoured_or_said(tmp_path):
    """negate_value goes to the written metric; the args the script does without,
    given other than Clara's defaults, are each a W102 that says what it does instead
    (an attack found them dropped without a word); Clara's defaults say nothing."""
    comp, text = compile_average(tmp_path / "a", negate_value=True,
                                 report_path="r.csv", invalid_value=-1,
                                 do_print=False, do_summary=False)  # fmt: skip
    assert re.search(r"ClaraNegLoss\(\s*loss=loss_function,\s*negate_value=True", text)
    said = {d.message.split("=")[0]: d.message for d in comp.diags.warnings
            if d.code == "W102" and "ComputeAverage" in d.message}  # fmt: skip
    assert set(said) == {f"ComputeAverage's {a}" for a in
                         ("report_path", "invalid_value", "do_print", "do_summary")}  # fmt: skip
    assert "writes no per-case report" in said["ComputeAverage's report_path"]
    comp, _ = compile_average(tmp_path / "b", negate_value=False, report_path=None,
                              invalid_value=float("nan"), do_print=True)  # fmt: skip
    assert not [d for d in comp.diags.warnings if "ComputeAverage" in d.message]


def test_an_unknown_compute_average_arg_is_an_error(tmp_path):
    """ComputeAverage's args are documented in full: a misspelt one is E401."""
    comp, text = compile_average(tmp_path, negate_valu=True)
    assert text is None
    (error,) = comp.diags.errors
    assert error.code == "E401"
    assert error.message.startswith("ComputeAverage takes no argument 'negate_valu'")
    assert "negate_value" in str(error.help)


@needs_corpus
@pytest.mark.e2e
def test_a_neg_loss_train_metric_runs_on_its_own_copies(tmp_path):
    """3.x train metrics average aux ops too: the train post-transforms keep the raw
    output and label for it (an attack's follow-up found the copies made for validation
    only, a KeyError on the first batch)."""
    cfg = json.loads(TRN_BASE.read_text())
    (average,) = [
        m for m in cfg["validate"]["metrics"] if m["args"]["field"] == "negloss"
    ]
    cfg["validate"]["metrics"].remove(average)
    cfg["train"]["metrics"] = [average]
    path = tmp_path / "mmar" / "config" / "config_train.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(cfg))
    result = smoke(path, ENV, workdir=tmp_path / "work")
    assert result.passed, result
