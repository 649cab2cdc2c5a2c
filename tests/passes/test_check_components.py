import json

import pytest

from claragen.transpiler.passes.check_components import check_components
from tests.conftest import build, minimal


def check(tmp_path, cfg):
    config, ctx = build(tmp_path, cfg)
    check_components(config, ctx)
    return [(e.message, e.help) for e in ctx.diags.errors]


def test_known_components_pass(tmp_path):
    cfg = minimal()
    cfg["train"]["model"]["args"] = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                                     "channels": [4, 8], "strides": [2]}  # fmt: skip
    assert check(tmp_path, cfg) == []


def test_unknown_component_suggests_the_closest(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["name"] = "DiceLos"
    assert check(tmp_path, cfg)[0] == (
        "unknown component 'DiceLos' (train.loss)",
        "did you mean 'DiceLoss'?",
    )


def test_unknown_argument_is_checked_against_the_real_signature(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"]["args"]["softmaxx"] = True
    assert (
        "DiceLoss takes no argument 'softmaxx' (monai.losses.DiceLoss)",
        "did you mean 'softmax'?",
    ) in check(tmp_path, cfg)


def test_byoc_components_are_not_imported(tmp_path):
    cfg = minimal()
    cfg["train"]["loss"] = {"path": "myLoss.MyDiceLoss", "args": {"anything": 1}}
    assert not any("MyDiceLoss" in m for m, _ in check(tmp_path, cfg))


def _valid():
    cfg = minimal()
    cfg["train"]["model"]["args"] = {"spatial_dims": 3, "in_channels": 1, "out_channels": 2,
                                     "channels": [4, 8], "strides": [2]}  # fmt: skip
    return cfg


def test_a_transform_without_a_required_argument_is_an_error(tmp_path):
    cfg = _valid()
    cfg["train"]["pre_transforms"] = [
        {"name": "ScaleIntensityRanged", "args": {"keys": "image", "a_min": -57}}
    ]
    assert check(tmp_path, cfg) == [
        (
            "ScaleIntensityRanged needs the argument 'a_max', which "
            "the config does not give (train.pre_transforms[0])",
            "add 'a_max': ... to its \"args\"",
        )
    ]


def test_an_arg_that_kwargs_take_to_nowhere_is_an_error(tmp_path):
    """MONAI's DataLoader takes **kwargs and sends them to torch's DataLoader: an arg
    neither names is swallowed by neither, and was accepted silently."""
    cfg = _valid()
    cfg["train"]["dataloader"]["args"]["batch_sise"] = 2
    cfg["train"]["post_transforms"] = [
        {"name": "AsDiscreteD", "args": {"keys": "pred", "argmaxx": True}}]  # fmt: skip
    found = check(tmp_path, cfg)
    assert (
        "DataLoader takes no argument 'batch_sise' (nor does what its **kwargs go to) "
        "(monai.data.DataLoader)",
        "did you mean 'batch_size'?",
    ) in found
    assert (
        "AsDiscreteD takes no argument 'argmaxx' (nor does what its **kwargs go to) "
        "(monai.transforms.AsDiscreted)",
        "did you mean 'argmax'?",
    ) in found


def test_what_kwargs_forward_is_taken(tmp_path):
    cfg = _valid()
    cfg["train"]["dataloader"]["args"].update(shuffle=True, pin_memory=True)
    cfg["train"]["post_transforms"] = [
        {"name": "AsDiscreted", "args": {"keys": "pred", "argmax": True, "dim": 0}},
        {"name": "SpatialPadd", "args": {"keys": "pred", "spatial_size": [4],
                                         "constant_values": 0}},  # to np.pad: open
    ]  # fmt: skip
    assert check(tmp_path, cfg) == []


def test_an_arg_of_an_older_monai_says_what_replaced_it(tmp_path):
    cfg = _valid()
    cfg["train"]["dataset"] = {"name": "PatchWSIDataset", "args": {
        "region_size": 768, "grid_shape": 3, "patch_size": 224}}  # fmt: skip
    found = check(tmp_path, cfg)
    assert (
        "PatchWSIDataset takes no argument 'grid_shape' (monai.data.PatchWSIDataset): "
        "it was MONAI 0.8's, and today's PatchWSIDataset would take it through **kwargs "
        "and do nothing with it (train.dataset)",
        "write a GridSplitd(grid=...) transform after the read",
    ) in found
    assert len(found) == 2


def test_an_arg_for_loadimageds_readers_is_checked_against_them(tmp_path):
    """LoadImaged's **kwargs go to its readers (the one it names, else MONAI's default
    ones), whose own **kwargs go to the file loader: an arg that no reader takes is W112
    with a did-you-mean (a typo there failed when the data loaded, or was dropped; found
    by the attack on issue 28)."""
    from tests.conftest import compilation, minimal

    def warned(args):
        cfg = minimal()
        cfg["train"]["pre_transforms"][0]["args"].update(args)
        comp = compilation(tmp_path / str(len(list(tmp_path.iterdir()))), cfg)
        built, ctx = comp.build()
        comp.run_passes(built, ctx)
        return [(d.message, d.help) for d in ctx.diags.warnings if d.code == "W112"]

    ((message, help),) = warned(
        {"reader": "NibabelReader", "as_closest_canonicl": True}
    )
    assert "nor of NibabelReader" in message
    assert help == "did you mean 'as_closest_canonical'?"
    ((message, _),) = warned({"bogus_arg": 1})
    assert "ITKReader" in message and "NibabelReader" in message
    assert warned({"reader": "NibabelReader", "as_closest_canonical": True}) == []
    assert warned({"channel_dim": 0}) == []  # a default reader takes it


def _required_given(cfg: dict):
    """(section, slot, index, class, arg): every required arg of a built-in class that
    the config gives, in every slot of every section (a list slot by index)."""
    from claragen.transpiler import symbols

    for section in ("train", "validate"):
        for slot, value in cfg.get(section, {}).items():
            items = value if isinstance(value, list) else [value]
            for index, comp in enumerate(items):
                if not isinstance(comp, dict) or "name" not in comp:
                    continue
                sym = symbols.lookup(comp["name"])
                for arg in sym.required if sym and sym.params is not None else ():
                    if arg in comp.get("args", {}):
                        yield section, slot, index, comp["name"], arg


def test_every_required_arg_left_out_is_an_e402_in_every_slot(tmp_path):
    """Enumerated over the example's components (scheduler, handlers, loader, engines:
    the slots whose other args the generated code passes): a required arg left out is an
    E402 of the passes that names it, never a call that fails to bind when the script is
    rendered."""
    from claragen.transpiler.diagnostics import CompileError
    from claragen.transpiler.dialects.wiring import TARGET_GIVES
    from tests.conftest import EXAMPLE, compilation

    example = json.loads((EXAMPLE / "config" / "config_train.json").read_text())
    cases = [c for c in _required_given(example)
             if c[-1] not in TARGET_GIVES.get(c[1], ())]  # fmt: skip
    slots = {slot for _, slot, *_ in cases}
    assert {"lr_scheduler", "handlers", "dataloader", "trainer", "evaluator"} <= slots
    for n, (section, slot, index, name, arg) in enumerate(cases):
        cfg = json.loads(json.dumps(example))
        comp = cfg[section][slot]
        comp = comp[index] if isinstance(comp, list) else comp
        del comp["args"][arg]
        comp_ = compilation(tmp_path / str(n), cfg)
        with pytest.raises(CompileError) as err:
            comp_.run_passes(*comp_.build())
        found = [d.message for d in err.value.diagnostics if d.code == "E402"]
        assert any(
            m.startswith(f"{name} needs the argument") and repr(arg) in m for m in found
        ), (section, slot, name, arg, found)


def test_what_the_generated_code_gives_itself_is_not_asked_for(tmp_path):
    """A dataset's items come from the data list, an engine's device is the script's."""
    cfg = _valid()
    assert "data" not in cfg["train"]["dataset"]["args"]
    assert "device" not in cfg["train"]["trainer"]["args"]
    assert check(tmp_path, cfg) == []


def test_a_loader_written_inside_its_engine_is_the_sections_loader(tmp_path):
    """Inline, the plain loop built a new DataLoader at each use (one to iterate, one to
    count, one for the signal handler): lifted, it is built once (an attack on issue
    29). Its own inline dataset is then lifted too."""
    from claragen.transpiler.pipeline import compile_files
    from tests.conftest import ENV, compilation

    cfg = _valid()
    loader = cfg["train"].pop("dataloader")
    loader["args"]["dataset"] = cfg["train"].pop("dataset")
    cfg["train"]["trainer"]["args"]["train_data_loader"] = loader
    comp = compilation(tmp_path, cfg, ENV, target="plain")
    files, _ = compile_files(comp, tmp_path / "out")
    text = files["J0001/train.py"]
    assert text.count("DataLoader(") == 1
    assert "train_loader = DataLoader(dataset=train_dataset, batch_size=1)" in text
    assert "train_dataset = Dataset(\n        data=load_decathlon_datalist(" in text


def test_a_dataset_inside_a_component_that_gives_it_no_data_says_where_it_goes(
    tmp_path,
):
    """Beside the section's own dataset (or without a data list), a dataset written
    inside its loader is not lifted: it would be built without its items."""
    cfg = _valid()
    cfg["train"]["dataloader"]["args"]["dataset"] = dict(cfg["train"]["dataset"])
    ((message, help_),) = check(tmp_path, cfg)
    assert message == (
        "Dataset (train.dataloader.args.dataset) is written inside another component, "
        "where it gets no data: claragen gives a dataset the items of its data list in "
        'its section\'s "dataset" only'
    )
    assert '"@dataset"' in help_


def test_a_validation_handler_without_its_validator_is_an_e402(tmp_path):
    """Its signature leaves validator optional; MONAI raises when training starts
    ("please set validator in __init__()"): an attack on issue 29."""
    cfg = _valid()
    cfg["train"]["handlers"].append(
        {"name": "ValidationHandler", "args": {"interval": 1}}
    )
    assert check(tmp_path, cfg) == [
        (
            "ValidationHandler needs the argument 'validator', which the config does "
            "not give (train.handlers[1])",
            "add 'validator': ... to its \"args\"",
        )
    ]


def test_an_evaluator_written_inside_the_validation_handler_is_validates_own(tmp_path):
    """Inline, it was asked for the device the script gives an engine in its own slot
    (a false E402), and a "cuda" of its own stayed "cuda" on a machine without one (an
    attack on issue 29). Lifted to validate's evaluator, its refs keep the meaning they
    had in train: @dataloader is train's loader, as where it was written."""
    from claragen.transpiler.pipeline import compile_files
    from tests.conftest import ENV, compilation

    cfg = _valid()
    cfg["validate"] = {
        "post_transforms": [{"name": "Activationsd", "args": {"keys": "pred",
                                                               "softmax": True}}],
        "key_metric": {"name": "MeanDice", "log_label": "val_dice", "args": {
            "output_transform": "#monai.handlers.from_engine(['pred', 'label'])"}},
    }  # fmt: skip
    evaluator = {"name": "SupervisedEvaluator", "args": {
        "device": "cuda", "val_data_loader": "@dataloader", "network": "@model",
        "inferer": "@inferer", "postprocessing": "@post_transforms",
        "key_val_metric": "@key_metric"}}  # fmt: skip
    cfg["train"]["handlers"].append(
        {"name": "ValidationHandler", "args": {"validator": evaluator, "interval": 1}}
    )
    comp = compilation(tmp_path, cfg, ENV, target="plain")
    files, _ = compile_files(comp, tmp_path / "out")
    text = files["J0001/train.py"]
    assert "validate.evaluator" in text
    assert (
        "record |= validate(\n                model,\n                train_loader,"
        in text
    )
    assert 'device="cuda"' not in text


def test_a_datasets_data_is_the_scripts_to_give(tmp_path):
    """The items come from the data list: a config's own "data" was an INTERNAL ERROR
    (the call gave data twice) before it was this error."""
    cfg = _valid()
    cfg["train"]["dataset"].setdefault("args", {})["data"] = [{"image": "a.nii"}]
    (message, help_), *_ = check(tmp_path, cfg)
    assert message.startswith("Dataset's 'data' is the script's to give") or (
        "'data' is the script's to give" in message
    )
    assert "data list file" in help_
