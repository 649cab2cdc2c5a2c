"""Clara 4.0: implicit wiring lowered to 4.1's explicit references (SPEC 4.2)."""

from claragen.transpiler.ir import DictV, Expr, Ref, Var, to_python
from claragen.transpiler.passes.lower_dialect import lower_dialect
from tests.conftest import build, minimal


def config_40():
    cfg = minimal()
    del cfg["CLARA_TRAIN_VERSION"]
    train = cfg["train"]
    train["optimizer"]["args"] = {"lr": "{learning_rate}"}
    train["dataset"]["args"] = {}
    train["dataloader"]["args"] = {"batch_size": 1}
    train["lr_scheduler"] = {"name": "StepLR", "args": {"step_size": 5}}
    train["handlers"] = [
        {"name": "LrScheduleHandler", "args": {"print_lr": True}},
        {"name": "CheckpointSaver",
         "args": {"save_dir": "{MMAR_CKPT_DIR}", "save_dict": ["model", "train_conf"]}},
        {"name": "CheckpointLoader", "args": {"load_path": "{MMAR_CKPT}"}},
        {"name": "SegmentationSaver", "args": {"output_dir": "out",
                                                 "batch_transform": "lambda x: x"}},
    ]  # fmt: skip
    train["metrics"] = [
        {"name": "Accuracy", "log_label": "acc",
         "args": {"output_transform": "lambda x: (x['pred'], x['label'])"}},
        {"name": "MeanDice", "log_label": "dice", "is_key_metric": True, "args": {}},
    ]  # fmt: skip
    train["post_transforms"] = [{"name": "Activationsd", "args": {"keys": "pred"}}]
    train["trainer"] = {"name": "SupervisedTrainer", "args": {"max_epochs": "{epochs}"}}
    return cfg


def lowered(tmp_path):
    config, ctx = build(tmp_path, config_40())
    assert config.dialect == "4.0"
    out = lower_dialect(config, ctx)
    assert not ctx.diags.errors, ctx.diags.errors
    return out.sections["train"]


def test_engine_and_components_get_their_wiring(tmp_path):
    train = lowered(tmp_path)
    trainer = dict(train["trainer"].args)
    assert {k: v.name for k, v in trainer.items() if isinstance(v, Ref)} == {
        "train_data_loader": "dataloader", "network": "model", "loss_function": "loss",
        "optimizer": "optimizer", "inferer": "inferer", "postprocessing": "post_transforms",
        "key_train_metric": "key_metric", "additional_metrics": "additional_metrics",
        "train_handlers": "handlers",
    }  # fmt: skip
    assert trainer["amp"] == Var(trainer["amp"].span, "amp")
    assert train["dataloader"].args[0][0] == "dataset"  # wired args come first
    assert isinstance(train["optimizer"].arg("params"), Expr)
    assert train["lr_scheduler"].arg("optimizer").name == "optimizer"
    assert train["handlers"][0].arg("lr_scheduler").name == "lr_scheduler"


def test_section_name_lists_become_object_dicts(tmp_path):
    handlers = lowered(tmp_path)["handlers"]
    save = handlers[1].arg("save_dict")
    assert isinstance(save, DictV)
    assert [(k, v.name) for k, v in save.items] == [
        ("model", "model"),
        ("train_conf", "conf"),
    ]
    assert [(k, v.name) for k, v in handlers[2].arg("load_dict").items] == [
        ("model", "model")
    ]


def test_metrics_split_and_lambdas_read_decollated_items(tmp_path):
    train = lowered(tmp_path)
    assert train["key_metric"].class_name == "MeanDice"
    (acc,) = train["additional_metrics"]
    assert (
        acc.arg("output_transform").source
        == "monai.handlers.from_engine(['pred', 'label'])"
    )
    assert "decollated" in acc.notes[-1]


def test_removed_handlers_become_post_transforms(tmp_path):
    train = lowered(tmp_path)
    assert [h.class_name for h in train["handlers"]] == [
        "LrScheduleHandler", "CheckpointSaver", "CheckpointLoader",
    ]  # fmt: skip
    saver = train["post_transforms"][-1]
    assert saver.class_name == "SaveImaged"
    # what MONAI 0.5's SegmentationSaver wrote: <image>_seg.nii.gz on the original grid,
    # each of its defaults written out (issue 28, item 5)
    assert {k: to_python(v) for k, v in saver.args} == {
        "output_dir": "out", "keys": "pred", "output_postfix": "seg",
        "output_ext": ".nii.gz", "resample": True, "mode": "nearest",
        "padding_mode": "border", "output_dtype": "float32", "squeeze_end_dims": True,
    }  # fmt: skip


def test_a_savers_output_transform_chooses_its_keys(tmp_path):
    """Three SegmentationSavers of pred_tc, pred_wt and pred_et (a corpus validation
    config) became three saves of "pred"; they save their own keys, and the savers that
    share one folder and postfix, as MONAI 0.5's did, are W102 (a review of issue 28).
    """
    cfg = config_40()
    cfg["train"]["handlers"][3:] = [
        {"name": "SegmentationSaver", "args": {
            "output_dir": "out", "output_transform": f"lambda x: x['pred_{k}']"}}
        for k in ("tc", "wt", "et")
    ] + [{"name": "SegmentationSaver", "args": {
        "output_dir": "other", "output_transform": "lambda x: x['pred'][0]"}}]  # fmt: skip
    config, ctx = build(tmp_path, cfg)
    train = lower_dialect(config, ctx).sections["train"]
    savers = [c for c in train["post_transforms"] if c.class_name == "SaveImaged"]
    assert [to_python(s.arg("keys")) for s in savers] == [
        "pred_tc", "pred_wt", "pred_et", "pred"]  # fmt: skip
    warned = [d.message for d in ctx.diags.warnings if d.code == "W102"]
    assert len(warned) == 3
    assert "SegmentationSaver's output_transform has no counterpart" in warned[0]
    assert "each case's 'pred_wt' replaces its 'pred_tc'" in warned[1]


def test_an_interaction_loop_is_wired_and_runs_on_the_engines(tmp_path):
    """DeepGrow's `iteration` (a click interaction) must not vanish from the training:
    the plain target names it as not lowered; auto hands the loop to MONAI's engines."""
    from claragen.transpiler.pipeline import compile_to_dir
    from tests.conftest import compilation, errors_of

    cfg = config_40()
    cfg["train"]["iteration"] = {
        "path": "deepgrow.interaction.ClickInteraction",
        "args": {"transforms": [], "max_interactions": 2, "train": True},
    }
    errors = errors_of(tmp_path, cfg, target="plain")
    assert any(
        "the plain target cannot lower SupervisedTrainer's argument 'iteration_update'"
        in e
        for e in errors
    )
    comp = compilation(tmp_path, cfg)
    manifest = compile_to_dir(comp, tmp_path / "auto")
    assert manifest["jobs"][0]["target"] == "engines"
    script = (tmp_path / "auto" / "J0001" / "train.py").read_text()
    assert "from monai.apps.deepgrow.interaction import Interaction" in script
    assert "iteration_update=train_iteration" in script
    assert "train_iteration = Interaction(transforms=[], max_interactions=2" in script


def test_lambdas_that_import_monai_read_the_module_the_script_imports(tmp_path):
    """NVIDIA's 4.0 MMARs wrote `__import__('monai')` in output_transform lambdas."""
    from claragen.transpiler.pipeline import compile_to_dir
    from tests.conftest import compilation

    cfg = config_40()
    text = "lambda x: __import__('monai').handlers.from_engine(['pred', 'label'])(x)"
    cfg["train"]["metrics"][0]["args"]["output_transform"] = text
    cfg["train"]["metrics"][1]["args"] = {
        "output_transform": "lambda x: (__import__('torch').stack(x['pred']), x['label'])"
    }
    comp = compilation(tmp_path, cfg, target="engines")
    compile_to_dir(comp, tmp_path / "out")
    script = (tmp_path / "out" / "J0001" / "train.py").read_text()
    assert "__import__" not in script
    assert "monai.handlers.from_engine(['pred', 'label'])(x)" in script.replace(
        '"', "'"
    )
    assert "torch.stack(x['pred'])" in script.replace('"', "'")


def test_any_other_import_in_a_lambda_stays_refused(tmp_path):
    from tests.conftest import errors_of

    for module in ("os", "monai.utils", "subprocess"):
        cfg = config_40()
        cfg["train"]["metrics"][0]["args"][
            "output_transform"
        ] = f"lambda x: __import__({module!r})"
        (error,) = errors_of(tmp_path, cfg)
        assert "__import__" in error, error
    cfg = config_40()
    cfg["train"]["metrics"][0]["args"][
        "output_transform"
    ] = "lambda x: __import__('monai', fromlist=['x'])"
    assert errors_of(tmp_path, cfg)


def test_a_smart_cache_handler_gets_the_dataset(tmp_path):
    """Clara 4.0's SmartCacheHandler took no args: it drove the section's dataset."""
    cfg = config_40()
    cfg["train"]["handlers"].append({"name": "SmartCacheHandler"})
    config, ctx = build(tmp_path, cfg)
    train = lower_dialect(config, ctx).sections["train"]
    assert train["handlers"][-1].arg("smartcacher").name == "dataset"


def test_a_loader_written_inside_the_trainer_gets_the_wired_dataset(tmp_path):
    """4.0 wired a loader's dataset in the loader's slot only: a loader written inside
    its trainer was built without one, which the renderer's binding check refused as
    an internal error (an attack on issue 29). It takes its slot first."""
    cfg = config_40()
    cfg["train"]["trainer"]["args"]["train_data_loader"] = cfg["train"].pop(
        "dataloader"
    )
    config, ctx = build(tmp_path, cfg)
    from claragen.transpiler.passes.lower_dialect import lower_dialect as lower

    train = lower(config, ctx).sections["train"]
    assert not ctx.diags.errors
    assert train["trainer"].arg("train_data_loader").name == "dataloader"
    assert train["dataloader"].arg("dataset").name == "dataset"


def test_a_validation_handler_without_an_evaluator_to_wire_is_an_error(tmp_path):
    """MONAI's ValidationHandler takes validator=None and fails when training starts."""
    from tests.conftest import errors_of

    cfg = config_40()
    cfg["train"]["handlers"].append(
        {"name": "ValidationHandler", "args": {"interval": 1}}
    )
    (error,) = errors_of(tmp_path, cfg)
    assert (
        "ValidationHandler (train.handlers[4]) needs 'validator', which Clara wired"
        in (error)
    )


def test_lambdas_that_read_a_column_of_the_collated_batch_read_the_items(tmp_path):
    """MONAI 0.5 (Clara 4.0) gave the engine's handlers one collated batch dict; MONAI
    1.x's engines decollate it: a column read of it reads the same column of the items,
    and the loss, one value then, the first item's."""
    cfg = config_40()
    cfg["train"]["handlers"].append({"name": "StatsHandler", "args": {
        "iteration_print_logger": "lambda engine: print(engine.state.batch['name'][0], "
                                  "engine.state.output['loss'].item(), engine.state.x['y'])",
    }})  # fmt: skip
    config, ctx = build(tmp_path, cfg)
    handler = lower_dialect(config, ctx).sections["train"]["handlers"][-1]
    code = handler.arg("iteration_print_logger")
    assert isinstance(code, Expr)
    assert __import__("ast").unparse(code.tree.body) == (
        "lambda engine: print(monai.data.list_data_collate(engine.state.batch)['name']"
        "[0], monai.handlers.from_engine(['loss'], first=True)(engine.state.output)"
        ".item(), engine.state.x['y'])"
    )
    assert any("reads engine.state.batch['name'], engine.state.output['loss']" in n
               for n in handler.notes)  # fmt: skip


def test_a_column_read_again_is_the_collated_batchs():
    """What MONAI 0.5's lambda read of its collated batch, it reads of MONAI 1.x's
    decollated items collated again: the batch tensor (its shape), every patch's row,
    the meta data's file names (an attack found from_engine's lists of items wrong)."""
    import torch
    from monai.data import decollate_batch, list_data_collate

    batch = {"image": torch.zeros(3, 1, 4, 4), "name": ["a", "b", "c"],
             "mask_location": [torch.tensor([1, 2, 3]), torch.tensor([4, 5, 6])],
             "image_meta_dict": {"filename_or_obj": ["x", "y", "z"]}}  # fmt: skip
    again = list_data_collate(decollate_batch(batch))
    assert again["image"].shape == (3, 1, 4, 4)
    assert torch.equal(again["mask_location"][0], batch["mask_location"][0])
    assert again["image_meta_dict"]["filename_or_obj"] == ["x", "y", "z"]
