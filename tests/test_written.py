"""Classes MONAI dropped, written out into the scripts (claragen.transpiler.written):
MONAI 0.8's PatchWSIDataset, which Clara 4.x's digital pathology MMAR trains with."""

import ast
import json
import runpy
import sys

import numpy as np
import pytest

from claragen.gates import names
from claragen.transpiler import symbols, written
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError
from claragen.transpiler.pipeline import Compilation, compile_to_dir
from tests import scriptrunner
from tests.conftest import CORPUS

HERE = __import__("pathlib").Path(__file__).parent
WSI_CONFIG = HERE / "written" / "patch_wsi_08.json"
DP = "clara-train-examples/PyTorch__NoteBooks__DomainExamples__DigitalPathology__MMAR_DP__config__"  # noqa: E501


def slide(path, shape=(128, 128)):
    """An RGB whole-slide image of one level, which MONAI's tifffile reader reads."""
    tifffile = pytest.importorskip("tifffile")
    rng = np.random.default_rng(0)
    image = (rng.random((*shape, 3)) * 255).astype(np.uint8)
    tifffile.imwrite(path, image, photometric="rgb")
    return image


@pytest.mark.parametrize("name", sorted(written.WRITTEN))
def test_every_written_class_fits_the_table_and_the_scripts_gate(name):
    entry = written.WRITTEN[name]
    sym = symbols.lookup(name)
    assert sym is not None and sym.written
    # today's class of that name, if MONAI kept one, takes none of the older args: they
    # say which is meant
    today = symbols.lookup(entry.replaces) if entry.replaces else None
    if entry.former_args is None:  # every config means the older class...
        # ...but one of an arg that only today's class takes
        assert not entry.today_args & set(sym.params or ())
        assert today is not None or not entry.today_args
        assert today is None or entry.today_args <= set(today.params or ())
    else:
        assert today is None or not entry.former_args & set(today.params or ())
        assert entry.former_args <= set(sym.params or ())
    assert set(written.needs(name)) <= set(written.WRITTEN)
    source = written.source(name)
    assert names.check_python(ast.parse(source)) == []
    imports = "\n".join(
        f"import {m}" if n is None else f"from {m} import {n}"
        for m, n in written.imports(name)
    )
    assert names.check_python(ast.parse(imports)) == []


def test_the_written_patch_dataset_cuts_regions_as_monai_08_did(tmp_path):
    """MONAI 0.8.1: a region of region_size centred on the location, a grid of patches
    each centred in its cell (WSIReader._extract_patches), ordered by the grid's second
    axis first, each with its label as (1, 1, 1)."""
    image = slide(tmp_path / "slide.tiff", (64, 64))
    module = runpy.run_path(str(written.FOLDER / "ClaraPatchWSIDataset.py"))
    dataset = module["ClaraPatchWSIDataset"](
        [{"image": str(tmp_path / "slide.tiff"), "location": [32, 32],
          "label": [0, 1, 1, 0]}],
        region_size=48, grid_shape=2, patch_size=16, image_reader_name="tifffile",
    )  # fmt: skip
    items = dataset[0]
    region = image[8:56, 8:56].transpose(2, 0, 1)  # centred on (32, 32): from 32 - 24
    # cell centres at 48 * (0.5 + [0, 1]) / 2 = 12, 36; patch starts 12 - 8 = 4, 28
    expected = [region[:, x : x + 16, y : y + 16] for y in (4, 28) for x in (4, 28)]
    assert len(items) == 4
    for item, patch, label in zip(items, expected, [0, 1, 1, 0], strict=True):
        assert np.array_equal(np.asarray(item["image"]), patch)
        assert item["label"].shape == (1, 1, 1) and item["label"].item() == label


def compile_wsi(tmp_path, cfg=None, target="auto"):
    mmar = tmp_path / "mmar"
    (mmar / "config").mkdir(parents=True)
    (mmar / "config" / "config_train.json").write_text(
        json.dumps(cfg or json.loads(WSI_CONFIG.read_text()))
    )
    (mmar / "config" / "environment.json").write_text(json.dumps(
        {"DATA_ROOT": "data", "DATASET_JSON": "config/dataset.json",
         "MMAR_CKPT_DIR": "models"}))  # fmt: skip
    comp = Compilation(mmar / "config" / "config_train.json",
                       CompileOptions(target=target),
                       env_path=mmar / "config" / "environment.json", mmar_root=mmar)  # fmt: skip
    compile_to_dir(comp, tmp_path / "out")
    return mmar, (tmp_path / "out" / "J0001" / "train.py")


@pytest.mark.e2e
def test_a_config_of_monai_08s_dataset_trains_with_the_written_class(tmp_path):
    mmar, script = compile_wsi(tmp_path)
    text = script.read_text()
    assert "class ClaraPatchWSIDataset(Dataset):" in text
    assert "# migrated: MONAI 0.8's PatchWSIDataset, written out below" in text
    assert "train_dataset = ClaraPatchWSIDataset(" in text
    (mmar / "data").mkdir()
    slide(mmar / "data" / "slide.tiff")
    (mmar / "config" / "dataset.json").write_text(json.dumps({"training": [
        {"image": "slide.tiff", "location": [64, 64], "label": [0, 1, 1, 0]},
        {"image": "slide.tiff", "location": [60, 66], "label": [1, 1, 0, 0]}]}))  # fmt: skip
    run = scriptrunner.run([sys.executable, str(script), "--mmar-root", str(mmar)],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    # 2 regions of 4 patches: one batch of 8
    assert "Epoch 1/1, iteration 1/1: train_loss" in run.stdout + run.stderr


def test_the_bundle_target_says_it_cannot_define_a_written_class(tmp_path):
    with pytest.raises(CompileError) as err:
        compile_wsi(tmp_path, target="bundle")
    (error,) = [d for d in err.value.diagnostics if d.code == "E600"]
    assert error.message.startswith(
        "the bundle target cannot write out MONAI 0.8's PatchWSIDataset "
        "(PatchWSIDataset, train.dataset)"
    )
    assert error.span.column > 1  # the dataset's name, not the config's 1:1


def test_monai_1x_args_keep_monai_1x_class(tmp_path):
    cfg = json.loads(WSI_CONFIG.read_text())
    cfg["train"]["dataset"]["args"] = {"patch_size": 32, "reader": "tifffile",
                                       "transform": "@pre_transforms"}  # fmt: skip
    _, script = compile_wsi(tmp_path, cfg)
    text = script.read_text()
    assert "ClaraPatchWSIDataset" not in text
    assert "train_dataset = PatchWSIDataset(" in text


def dp_script(tmp_path, name: str) -> str:
    """train.py of a config of the corpus's digital pathology MMAR."""
    comp = Compilation(CORPUS / f"{DP}{name}", CompileOptions(),
                       env_path=CORPUS / f"{DP}environment.json")  # fmt: skip
    compile_to_dir(comp, tmp_path)
    return (tmp_path / "J0001" / "train.py").read_text()


@pytest.mark.skipif(not CORPUS.exists(), reason="needs ../shared/corpus")
def test_the_digital_pathology_mmar_compiles(tmp_path):
    text = dp_script(tmp_path, "config_train.json")
    assert text.count("= ClaraPatchWSIDataset(") == 2  # train and validate


def test_the_written_smart_cache_caches_monai_08s_regions(tmp_path, monkeypatch):
    """MONAI 0.8.1's SmartCachePatchWSIDataset: a SmartCacheDataset, in the data
    list's order, of what its PatchWSIDataset gives (a region's labelled patches)."""
    slide(tmp_path / "slide.tiff", (64, 64))
    monkeypatch.syspath_prepend(str(written.FOLDER))  # its source imports the other
    patches = runpy.run_path(str(written.FOLDER / "ClaraPatchWSIDataset.py"))
    smart = runpy.run_path(str(written.FOLDER / "ClaraSmartCachePatchWSIDataset.py"))
    data = [{"image": str(tmp_path / "slide.tiff"), "location": [32, 32],
             "label": [0, 1, 1, 0]},
            {"image": str(tmp_path / "slide.tiff"), "location": [30, 34],
             "label": [1, 1, 0, 0]}]  # fmt: skip
    args = {"region_size": 48, "grid_shape": 2, "patch_size": 16,
            "image_reader_name": "tifffile"}  # fmt: skip
    cached = smart["ClaraSmartCachePatchWSIDataset"](data, transform=None, progress=False,
                                                      num_init_workers=1, **args)  # fmt: skip
    direct = patches["ClaraPatchWSIDataset"](data, **args)
    for i in range(2):
        for got, want in zip(cached[i], direct[i], strict=True):
            assert np.array_equal(np.asarray(got["image"]), np.asarray(want["image"]))
            assert np.array_equal(got["label"], want["label"])


@pytest.mark.skipif(not CORPUS.exists(), reason="needs ../shared/corpus")
def test_the_smart_cache_config_of_the_mmar_compiles_with_both(tmp_path):
    text = dp_script(tmp_path, "config_train_smartcache.json")
    assert "train_dataset = ClaraSmartCachePatchWSIDataset(" in text
    assert "class ClaraPatchWSIDataset(Dataset):" in text  # the one it uses
    assert "import ClaraPatchWSIDataset" not in text


MASKED_CONFIG = HERE / "written" / "masked_inference_08.json"


def masked_dataset(tmp_path, mask, patch_size=8):
    image = slide(tmp_path / "slide.tiff", (64, 64))
    np.save(tmp_path / "mask.npy", mask)
    module = runpy.run_path(str(written.FOLDER / "ClaraMaskedInferenceWSIDataset.py"))
    dataset = module["ClaraMaskedInferenceWSIDataset"](
        [{"image": str(tmp_path / "slide.tiff"), "mask": str(tmp_path / "mask.npy")}],
        patch_size=patch_size, image_reader_name="tifffile",
    )  # fmt: skip
    return image, dataset


def test_the_written_masked_dataset_cuts_patches_as_monai_08_did(tmp_path):
    """MONAI 0.8.1: the mask is the slide downsampled by 2^level; a patch for each
    non-zero mask pixel, at (pixel + 0.5) * ratio - patch_size // 2 on the slide, with
    the slide's name and the pixel's place on the mask."""
    mask = np.zeros((16, 16))  # 64 / 16: ratio 4, level 2
    mask[2, 3] = mask[10, 12] = 1
    image, dataset = masked_dataset(tmp_path, mask)
    assert len(dataset) == 2
    assert dataset.data[0]["level"] == 2 and dataset.data[0]["mask_shape"] == (16, 16)
    # (2.5, 3.5) * 4 - 4 = (6, 10); (10.5, 12.5) * 4 - 4 = (38, 46)
    for i, (row, column) in enumerate([(6, 10), (38, 46)]):
        (item,) = dataset[i]
        want = image[row : row + 8, column : column + 8].transpose(2, 0, 1)
        assert np.array_equal(np.asarray(item["image"]), want)
        assert item["name"] == "slide"
        assert item["mask_location"] == [[2, 3], [10, 12]][i]


@pytest.mark.parametrize("shape", [(16, 32), (24, 24)])
def test_a_mask_that_is_no_level_of_the_slide_is_refused_as_in_monai_08(
    tmp_path, shape
):
    mask = np.ones(shape)
    with pytest.raises(ValueError, match="mask.npy: the mask is not the slide"):
        masked_dataset(tmp_path, mask)


@pytest.mark.e2e
def test_an_inference_config_of_monai_08s_masked_dataset_writes_its_map(tmp_path):
    """The digital pathology MMAR's inference config, in small: the patches of the
    mask's pixels through a TorchScript network, each probability written at its pixel
    of the slide's map (MONAI 0.8's ProbMapProducer), the rest 0."""
    import torch

    mmar, _ = compile_wsi(tmp_path)
    comp = Compilation(
        mmar / "config" / "config_train.json",
        CompileOptions(),
        env_path=mmar / "config" / "environment.json",
        mmar_root=mmar,
        validation_path=MASKED_CONFIG,
    )
    compile_to_dir(comp, tmp_path / "out2")
    script = tmp_path / "out2" / "J0001" / "validate.py"
    text = script.read_text()
    assert "= ClaraMaskedInferenceWSIDataset(" in text
    assert "ClaraProbMapProducer(output_dir=" in text
    assert "monai.data.list_data_collate(engine.state.batch)['name'][0]" in text
    (mmar / "data").mkdir()
    slide(mmar / "data" / "slide.tiff", (64, 64))
    mask = np.zeros((16, 16))
    mask[2:5, 3] = mask[10, 12] = 1  # 4 patches: one batch
    np.save(mmar / "data" / "mask.npy", mask)
    (mmar / "config" / "dataset.json").write_text(json.dumps(
        {"testing": [{"image": "slide.tiff", "mask": "mask.npy"}]}))  # fmt: skip
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 1, 16), torch.nn.Flatten())
    torch.jit.save(torch.jit.script(net), str(tmp_path / "model.ts"))
    eval_dir = tmp_path / "eval"
    run = scriptrunner.run([sys.executable, str(script), "--mmar-root", str(mmar),
                          "--mmar-torchscript", str(tmp_path / "model.ts"),
                          "--mmar-eval-output-path", str(eval_dir), "--device", "cpu"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    assert 'image: "slide", iter: 1/1' in run.stdout
    prob = np.load(eval_dir / "slide.npy")
    assert prob.shape == (16, 16) and prob.dtype == np.float64
    assert (prob[mask == 0] == 0).all() and (prob[mask == 1] > 0).all()
    # each value is the network's sigmoid on its patch, read as MONAI 0.8 did
    image = np.asarray(__import__("tifffile").imread(mmar / "data" / "slide.tiff"))
    row, column = 10 * 4 + 2 - 8, 12 * 4 + 2 - 8
    patch = image[row : row + 16, column : column + 16].transpose(2, 0, 1)
    x = torch.as_tensor(patch, dtype=torch.float32)[None] / 255.0 * 2 - 1
    assert prob[10, 12] == pytest.approx(torch.sigmoid(net(x)).item(), rel=1e-5)


@pytest.mark.parametrize("collated", [True, False])
def test_the_written_prob_map_producer_reads_both_batch_forms(tmp_path, collated):
    """MONAI 0.5 (Clara 4.0) gave the handler one collated dict; MONAI 1.x's engines
    give it the decollated items: each probability lands at its mask pixel either way,
    and the map is saved when the slide's last patch is in."""
    from types import SimpleNamespace

    import torch

    module = runpy.run_path(str(written.FOLDER / "ClaraProbMapProducer.py"))
    producer = module["ClaraProbMapProducer"](output_dir=str(tmp_path), name="x")
    producer.prob_map = {"a": np.zeros((4, 4))}
    producer.counter = {"a": 2}
    names, locs, preds = ["a", "a"], [[1, 2], [3, 0]], [0.25, 0.75]
    if collated:
        batch = {"name": names, "mask_location": [torch.tensor([1, 3]),
                                                  torch.tensor([2, 0])]}  # fmt: skip
        output = {"pred": torch.tensor([[0.25], [0.75]])}
    else:
        batch = [
            {"name": n, "mask_location": loc}
            for n, loc in zip(names, locs, strict=True)
        ]
        output = [{"pred": torch.tensor([p])} for p in preds]
    producer(SimpleNamespace(state=SimpleNamespace(batch=batch, output=output)))
    saved = np.load(tmp_path / "a.npy")
    want = np.zeros((4, 4))
    want[1, 2], want[3, 0] = 0.25, 0.75
    assert np.array_equal(saved, want) and producer.prob_map == {}


def test_monai_1x_prob_map_args_keep_monai_1x_handler(tmp_path):
    """prob_key is MONAI 1.x's ProbMapProducer's alone: a config that gives it means
    that class, not MONAI 0.8's."""
    cfg = json.loads(WSI_CONFIG.read_text())
    cfg["train"].setdefault("handlers", []).append(
        {"name": "ProbMapProducer", "args": {"output_dir": "eval", "prob_key": "pred"}}
    )
    _, script = compile_wsi(tmp_path, cfg, target="engines")
    text = script.read_text()
    assert "ClaraProbMapProducer" not in text
    assert "ProbMapProducer(" in text


def compile_masked(tmp_path, edit=None, target="auto"):
    """The masked inference config (edited by `edit`), as the MMAR's validation config:
    the compilation, whether it compiled, and the validation script's text."""
    mmar, _ = compile_wsi(tmp_path)
    cfg = json.loads(MASKED_CONFIG.read_text())
    if edit:
        edit(cfg)
    path = mmar / "config" / "config_validation.json"
    path.write_text(json.dumps(cfg, indent=1))
    comp = Compilation(mmar / "config" / "config_train.json",
                       CompileOptions(target=target),
                       env_path=mmar / "config" / "environment.json", mmar_root=mmar,
                       validation_path=path)  # fmt: skip
    try:
        compile_to_dir(comp, tmp_path / "out2")
    except CompileError:
        return comp, None
    return comp, (tmp_path / "out2" / "J0001" / "validate.py").read_text()


def test_a_prob_map_producer_beside_monai_1xs_dataset_is_monai_1xs(tmp_path):
    """MONAI 0.8's ProbMapProducer wrote the maps of its MaskedInferenceWSIDataset; beside
    MONAI 1.x's MaskedPatchWSIDataset, whose metadata MONAI 1.x's reads, it is MONAI
    1.x's (an attack found it written out there, crashing on the missing mask_shape)."""

    def edit(cfg):
        cfg["dataset"]["name"] = "MaskedPatchWSIDataset"
        cfg["dataset"]["args"] = {"patch_size": 16, "mask_level": 2}

    _, text = compile_masked(tmp_path, edit)
    assert "ClaraProbMapProducer" not in text
    assert "from monai.handlers import ProbMapProducer" in text


def test_a_written_class_is_named_as_the_config_named_it(tmp_path):
    """A diagnostic of a written-out class names the config's class (the bundle
    target's: test_the_bundle_target_says_it_cannot_define_a_written_class)."""

    def typo(cfg):
        cfg["dataset"]["args"]["patchsize"] = cfg["dataset"]["args"].pop("patch_size")

    comp, _ = compile_masked(tmp_path / "a", typo)
    (error,) = comp.diags.errors
    assert error.code == "E401" and error.message.startswith(
        "MaskedInferenceWSIDataset takes no argument 'patchsize' (MONAI 0.8's "
        "MaskedInferenceWSIDataset, written out)"
    )
    assert "patch_size" in str(error.help)
    comp, _ = compile_masked(tmp_path / "b", target="plain")
    (error,) = comp.diags.errors
    assert "cannot lower the handler 'ProbMapProducer'" in error.message


@pytest.mark.parametrize("name", sorted(written.WRITTEN))
def test_a_config_cannot_name_a_written_class_itself(tmp_path, name):
    """claragen's own names for what it writes out are not a config's to use (one
    reached them by naming ClaraProbMapProducer, bypassing the migration's rules)."""

    def edit(cfg):
        cfg["handlers"].append({"name": name, "args": {}})

    comp, _ = compile_masked(tmp_path, edit)
    assert any(
        d.code == "E400" and f"unknown component {name!r}" in d.message
        for d in comp.diags.errors
    )


def test_the_masked_dataset_opens_its_slides_in_each_process(tmp_path):
    """The DataLoader's forked workers each open the slide themselves (an attack found
    them sharing the main process's tifffile handle, whose seeks interleave): what they
    read is what one process reads."""
    import torch

    mask = np.zeros((16, 16))
    mask[2:14, 3:13] = 1
    _, dataset = masked_dataset(tmp_path, mask)
    assert dataset.slides == {}  # nothing open before the workers fork
    want = [np.asarray(dataset[i][0]["image"]) for i in range(len(dataset))]
    dataset.slides, dataset.pid = {}, None
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=None, num_workers=2,
        multiprocessing_context="fork", collate_fn=lambda x: x,
    )  # fmt: skip
    got = [np.asarray(items[0]["image"]) for items in loader]
    assert len(got) == len(want) == 120
    assert all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))


def test_a_patch_over_the_slides_edge_is_an_error_not_a_short_patch(tmp_path):
    mask = np.zeros((16, 16))
    mask[15, 15] = 1  # (15.5 * 4 - 4 = 58): 58 + 8 runs past 64
    _, dataset = masked_dataset(tmp_path, mask)
    with pytest.raises(ValueError, match=r"slide.tiff: the patch at \(58, 58\) is "
                       r"\(6, 6\), not \(8, 8\): it runs over the slide's edge"):  # fmt: skip
        dataset[0]


@pytest.mark.parametrize("postfix", ["/../../x", "a/b", "x/"])
def test_a_prob_map_postfix_that_names_a_folder_is_refused(tmp_path, postfix):
    """Each map is saved in output_dir: a postfix with a separator would put it
    elsewhere."""
    module = runpy.run_path(str(written.FOLDER / "ClaraProbMapProducer.py"))
    with pytest.raises(ValueError, match="names a folder"):
        module["ClaraProbMapProducer"](output_dir=str(tmp_path), output_postfix=postfix)
