"""device-cache: the cached transforms' output kept on the training device.

MONAI's CacheDataset runs a Compose once up to its first random transform and keeps the
result; the literal script keeps it in host memory, and every batch then goes through
the random transforms on the CPU and is copied to the GPU. Here an `EnsureTyped(...,
device=device)` ends the deterministic part, so the cache holds device tensors: the
random transforms run on the GPU, nothing is copied per batch, and the loader becomes a
ThreadDataLoader with no worker processes (there is nothing left for them to do; worker
processes cannot share CUDA tensors; CUDA tensors cannot be pinned, so a config's
`pin_memory` holds on the CPU only). Training also drops MetaTensor's metadata
(`track_meta=False`), which its loop never reads, when only random transforms follow the
cache (MONAI's random transforms work in voxels) or ones that only convert types
(`TYPE_ONLY`); another deterministic transform after a random one (a Spacingd, which
reads the affine) keeps it, and validation keeps it.

Which transforms are random is MONAI's own word (`RandomizableTrait`, in the component
table), never guessed: a transform of the user's own (BYOC), whose kind is unknown (or,
after the cache, whether it takes device tensors), a SmartCacheDataset, which replaces
cached items while training, and a `cache_rate` below 1, which leaves items to load in
the main thread, keep the literal pipeline; a `cache_num` is kept and said. On the CPU
the device is the CPU and the loader keeps its workers, so the numbers are the literal
script's.
"""

from __future__ import annotations

import ast

from claragen.transpiler import symbols
from claragen.transpiler.optimize.base import (
    Change,
    Skip,
    add_import,
    block,
    call_of,
    callee,
    drop_unused_import,
    expr,
    keyword,
    note,
    set_code,
)
from claragen.transpiler.targets.plain_script import (
    Block,
    Item,
    PlainScript,
    Section,
    compose_code,
)

NAME = "device-cache"
EXACT_ON_CPU = True  # see the module's docstring
CACHES = ("CacheDataset", "monai.data.CacheDataset")
LOADERS = ("DataLoader", "monai.data.DataLoader")
# deterministic transforms that change a tensor's type or device, never read metadata
TYPE_ONLY = ("ToTensord", "EnsureTyped", "CastToTyped", "ToDeviced", "Identityd")
# Transforms that never write into the tensors they are given, even when those are views
# of the cache (a crop's output): MONAI's word on each, checked on MONAI itself by
# tests/optimize/test_copy_cache.py. Only where every transform after the cache is one
# of them is the cache read without a copy; NormalizeIntensityd and
# RandStdShiftIntensityd write in place, and a crop's view would carry that into the
# cache for every later epoch.
READ_ONLY = frozenset(
    {"RandCropByPosNegLabeld", "RandSpatialCropd", "RandSpatialCropSamplesd",
     "RandCropByLabelClassesd", "RandWeightedCropd", "RandFlipd", "RandAxisFlipd",
     "RandRotate90d", "RandRotated", "RandAffined", "RandZoomd", "Rand3DElasticd",
     "Rand2DElasticd", "RandShiftIntensityd", "RandScaleIntensityd",
     "RandGaussianNoised", "RandGaussianSmoothd", "RandGaussianSharpend",
     "RandAdjustContrastd", "RandHistogramShiftd", "RandBiasFieldd",
     "RandCoarseDropoutd", "RandCoarseShuffled", "RandScaleIntensityFixedMeand",
     "RandSimulateLowResolutiond", "RandGibbsNoised", "RandKSpaceSpikeNoised",
     "RandRicianNoised", "ToTensord", "EnsureTyped", "CastToTyped", "Identityd",
     "ScaleIntensityd", "ScaleIntensityRanged", "ThresholdIntensityd", "SpatialPadd",
     "DivisiblePadd", "CenterSpatialCropd", "AsDiscreted"}
)  # fmt: skip


def apply(script: PlainScript) -> Change | Skip:
    assert script.fast is not None
    sections = [("train", script.train)]
    if script.val is not None:
        sections.append(("validate", script.val))
    done, why, notes, caps = [], [], [], []
    for name, section in sections:
        problem = cache_on_device(script, name, section, notes, caps)
        if problem is None:
            done.append(name)
            script.fast.device_loaders.append(section.loader)
        else:
            why.append(f"{name}: {problem}")
    if not done:
        return Skip(NAME, "; ".join(why))
    add_import(script, "monai.transforms", "EnsureTyped")
    add_import(script, "monai.data", "ThreadDataLoader")
    drop_unused_import(script, "monai.data", "DataLoader")
    if caps:
        notes.append(
            f"the config's cache_num ({', '.join(caps)}) caps the cache; items beyond "
            "it load in the main thread every epoch"
        )
    kept = f" ({'; '.join(why + notes)})" if why or notes else ""
    return Change(
        NAME,
        f"the {' and '.join(done)} cache holds tensors on the device, its random "
        f"transforms run there, and its loader is a ThreadDataLoader{kept}",
        "no per-batch CPU transforms and copies; the GPU never waits for the loader",
        "on the GPU the random augmentations are drawn in this process, not in the "
        "loader's workers, so they differ from the literal script's (from the same "
        "distributions); none on the CPU",
    )


CROP = "RandCropByPosNegLabeld"


def crop_indices(items: list[Item], at: int) -> bool:
    """RandCropByPosNegLabeld as the first random transform: the cache computes its
    foreground and background indices once (FgBgToIndicesd, with the crop's own label,
    image and threshold), instead of the crop scanning the whole volume for each sample.
    The crop draws the same centres from the same indices."""
    crop = items[at]
    call = call_of(crop.code)
    if crop.name != CROP or call is None or keyword(call, "fg_indices_key") is not None:
        return False
    label = keyword(call, "label_key")
    if label is None or not isinstance(label.value, ast.Constant):
        return False
    name = label.value.value
    args = [f"keys={name!r}"] + [
        f"{k.arg}={ast.unparse(k.value)}"
        for k in call.keywords
        if k.arg in ("image_key", "image_threshold")
    ]
    call.keywords += [
        ast.keyword("fg_indices_key", ast.Constant(f"{name}_fg_indices")),
        ast.keyword("bg_indices_key", ast.Constant(f"{name}_bg_indices")),
    ]
    crop.code = ast.unparse(call)
    crop.comments.append(note(NAME, "the foreground/background indices are cached"))
    indices = Item(
        [note(NAME, "the crop's indices, computed once for the cache")],
        f"FgBgToIndicesd({', '.join(args)})",
        "FgBgToIndicesd",
    )
    items.insert(at, indices)
    return True


def place_cache(
    script: PlainScript, section: Section, transforms, dataset_call: ast.Call, keys: str
) -> str:
    """Where the section's cache lives: `device`, or, where the script can estimate it
    (its data list is built in the dataset's call), a variable that the script's
    cache_device_for() sets at run time: the device when the first case times the cached
    cases fits in its free memory, else the CPU, with a line saying so (a 1 mm
    SegResNet config caches some 16 GB). The name of that variable, or "device"."""
    data = keyword(dataset_call, "data")
    if data is None:
        return "device"
    count = keyword(dataset_call, "cache_num")
    var = f"{section.loader.removesuffix('_loader')}_cache_device"
    code = (
        f"cache_device_for(device, {ast.unparse(data.value)}, {keys}, "
        f"{ast.unparse(count.value) if count is not None else 'None'})"
    )
    at = script.blocks.index(transforms)
    script.blocks.insert(at, Block(
        [note(NAME, "the cache on the device if it fits, else on the host")], var, code))  # fmt: skip
    assert script.fast is not None
    script.fast.cache_estimate = True
    add_import(
        script, "monai.transforms", "LoadImaged"
    )  # cache_device_for reads a case
    return var


def cache_on_device(
    script: PlainScript, name: str, section: Section, notes: list[str], caps: list[str]
) -> str | None:
    """Rewrite one section's transforms and loader; what stops it, or None when done.

    What the rewrite keeps of the config, or cannot know, is added to `notes`; the
    section's `cache_num`, if the config gives one, to `caps` ("train 32").
    """
    loader = block(script, section.loader)
    loader_call = call_of(loader.code) if loader is not None else None
    if loader is None or loader_call is None or callee(loader_call) not in LOADERS:
        return "its loader is not MONAI's DataLoader"
    dataset_arg = keyword(loader_call, "dataset")
    dataset_name = ast.unparse(dataset_arg.value) if dataset_arg is not None else None
    dataset = block(script, dataset_name) if dataset_name else None
    dataset_call = call_of(dataset.code) if dataset is not None else None
    if dataset is None or dataset_call is None:
        return "its dataset is not built by the script"
    kind = callee(dataset_call).rsplit(".", 1)[-1]
    if kind not in {c.rsplit(".", 1)[-1] for c in CACHES}:
        if kind == "SmartCacheDataset":
            return "SmartCacheDataset replaces cached items while training"
        return f"its {kind} keeps no cache in memory (a CacheDataset does)"
    rate = keyword(dataset_call, "cache_rate")
    if rate is not None and not (
        isinstance(rate.value, ast.Constant) and rate.value.value == 1
    ):
        return (
            f"its cache_rate={ast.unparse(rate.value)} leaves items uncached, which "
            "would load in the main thread"
        )
    transform = keyword(dataset_call, "transform")
    transforms = block(script, ast.unparse(transform.value)) if transform else None
    if transforms is None or transforms.items is None:
        return "its transforms are not a list the script builds"
    kinds = []
    for item in transforms.items:
        sym = symbols.lookup(item.name) if item.name else None
        if sym is None or sym.random is None:
            shown = item.name or "a transform of its own"
            if any(kinds):  # after the cache: it would be given device tensors
                return f"{shown}, after the cache, may not take tensors on the device"
            return f"{shown} is of unknown randomness"
        kinds.append(sym.random)
    at = kinds.index(True) if True in kinds else len(kinds)
    keys = '["image", "label"]' if section.labels else '["image"]'
    if at < len(transforms.items) and crop_indices(transforms.items, at):
        kinds.insert(at, False)  # FgBgToIndicesd, the cache's last step
        at += 1
        add_import(script, "monai.transforms", "FgBgToIndicesd")
    # MetaTensor's metadata goes only where nothing after the cache may read it: a
    # deterministic transform after a random one (a Spacingd) keeps it, unless it only
    # converts types (an allowlist: whatever is not on it keeps the metadata)
    keep_meta = name != "train" or any(
        not random and item.name not in TYPE_ONLY
        for item, random in zip(transforms.items[at:], kinds[at:], strict=True)
    )
    meta = "" if keep_meta else ", track_meta=False"
    where = place_cache(script, section, transforms, dataset_call, keys)
    ensure = Item([note(NAME, "the cache ends here, on the training device")],
                  f"EnsureTyped(keys={keys}, device={where}{meta})", "EnsureTyped")  # fmt: skip
    transforms.items.insert(at, ensure)
    transforms.code = compose_code(transforms.compose, transforms.items)
    if name == "train" and keep_meta:
        notes.append(
            "train keeps its metadata (a deterministic transform that may read it "
            "follows a random one)"
        )
    # no deep copy per item (MONAI's fast training tutorial turns it off for this
    # reason) only where nothing after the cache writes into what it is given
    writers = [item.name or "a transform of its own" for item in transforms.items[at:]
               if item.name not in READ_ONLY]  # fmt: skip
    if writers:
        notes.append(
            f"{name}'s cache is copied per item: {writers[0]}, after it, may write "
            "into the tensors it is given"
        )
    elif keyword(dataset_call, "copy_cache") is None:
        dataset_call.keywords.append(ast.keyword("copy_cache", ast.Constant(False)))
        set_code(dataset, dataset_call, note(NAME, "the cache is not copied per item"))
    cache_num = keyword(dataset_call, "cache_num")
    if cache_num is not None:
        caps.append(f"{name} {ast.unparse(cache_num.value)}")
    workers = keyword(loader_call, "num_workers")
    was = ast.unparse(workers.value) if workers is not None else "0"
    if was != "0":  # none already (MONAI's DataLoader default) stays as it is
        value = expr(f'0 if device.type == "cuda" else {was}')
        if workers is not None:
            workers.value = value
        else:
            loader_call.keywords.append(ast.keyword("num_workers", value))
    pin = keyword(loader_call, "pin_memory")
    host = f'{where}.type != "cuda"'  # the cache on the CPU (or on a host fallback)
    if pin is not None and ast.unparse(pin.value) != "False":  # CUDA: cannot pin
        pinned = ast.unparse(pin.value)
        on_cpu = "" if pinned == "True" else f" and {pinned}"
        pin.value = expr(f"{host}{on_cpu}")
        notes.append(f"{name}'s loader pins no batch on CUDA (pin_memory={pinned})")
    elif pin is None and where != "device":  # a host fallback: pinned batches
        loader_call.keywords.append(
            ast.keyword("pin_memory", expr(f'device.type == "cuda" and {host}'))
        )
    loader_call.func = ast.Name("ThreadDataLoader")
    set_code(loader, loader_call,
             note(NAME, "data on the device: no worker processes on CUDA"))  # fmt: skip
    return None
