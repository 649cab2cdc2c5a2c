"""`claragen smoke`: prove that a compiled config really runs, not just parses.

It compiles the config (validation every epoch, one epoch), makes a synthetic NIfTI dataset
that fits it (the datalist keys the config reads, the network's input channels, a labelled
foreground), and runs the generated script on the CPU: two training iterations and one
validation, with small crops and windows. It reports pass or fail, and why.
"""

from __future__ import annotations

import dataclasses
import io
import json
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from claragen.gates import safe_io
from claragen.script_errors import cause
from claragen.stand_ins import write_stand_ins
from claragen.transpiler.context import CompileOptions
from claragen.transpiler.diagnostics import CompileError, format_all
from claragen.transpiler.ir import (
    Component,
    Config,
    DictV,
    ListV,
    Lit,
    SearchValue,
    is_literal,
    to_python,
)
from claragen.transpiler.limits import config_text
from claragen.transpiler.passes.transform_order import LOADERS, literal_keys
from claragen.transpiler.pipeline import Compilation, compile_to_dir, first_level_names
from claragen.transpiler.render import InternalError
from claragen.transpiler.targets.plain_options import WRITTEN_FILES, WRITTEN_FOLDERS

# A smoke run trains from scratch: no checkpoint to load.
SMOKE_SETS = (("dont_load_ckpt_model", "true"),)
SHAPE = (48, 48, 48)
WINDOW = 32  # crop and sliding-window size: divisible by the 16 of a 4-level UNet
TIMEOUT_S = 600


@dataclass
class SmokeResult:
    passed: bool
    stage: str  # "compile" | "data" | "train" | "validate"
    reason: str
    stand_ins: tuple[
        str, ...
    ] = ()  # BYOC classes run as stand-ins (claragen.stand_ins)

    def __str__(self) -> str:
        text = f"{'PASS' if self.passed else 'FAIL'} [{self.stage}] {self.reason}"
        if self.stand_ins:
            text += f" (stand-ins for missing BYOC: {', '.join(self.stand_ins)})"
        return text


def _environment(root: Path, configs: list[Config], mmar_root: Path,
                 stand_ins: bool) -> tuple[dict[str, str], tuple[str, ...]]:  # fmt: skip
    """The scripts' environment: with `stand_ins`, PYTHONPATH holds the stand-in modules
    written for the BYOC modules that are missing."""
    env = dict(os.environ)
    if not stand_ins:
        return env, ()
    folder = root / "stand_ins"
    names = write_stand_ins(configs, mmar_root, folder)
    if names:
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(folder), env.get("PYTHONPATH", "")) if p
        )
    return env, tuple(names)


def _slot_arg(config: Config, section: str, key: str, arg: str, default):
    comp = config.sections.get(section, {}).get(key)
    if isinstance(comp, Component):
        value = comp.arg(arg) if arg else None
        if value is not None:
            try:
                return to_python(value)
            except TypeError:
                return default
    return default


def _list_keys(config: Config) -> list[str]:
    keys = []
    for section in config.sections.values():
        dataset = section.get("dataset")
        if isinstance(dataset, Component):
            key = dataset.attr("data_list_key")
            if isinstance(key, Lit) and isinstance(key.value, str):
                keys.append(key.value)
    return list(dict.fromkeys(keys + ["training", "validation", "test"]))


def spatial_dims(model: Component | None) -> int:
    """The network's spatial dimensions (2 for a slice network), 3 when it does not say."""
    for arg in ("spatial_dims", "dimensions"):
        value = model.arg(arg) if model is not None else None
        if isinstance(value, Lit) and value.value in (2, 3):
            return int(value.value)  # type: ignore[arg-type]
    return 3


def voxel_size(config: Config, dims: int) -> list[float]:
    """The spacing the config's first Spacingd resamples to (1 mm when it has none): the
    volumes have it already, so that the crops after it fit in them."""
    for section in ("train", "validate"):
        pre = config.sections.get(section, {}).get("pre_transforms")
        for comp in pre if isinstance(pre, list) else []:
            pixdim = comp.arg("pixdim") if comp.class_name == "Spacingd" else None
            while isinstance(pixdim, SearchValue):
                pixdim = pixdim.value
            data = (
                to_python(pixdim) if pixdim is not None and is_literal(pixdim) else None
            )
            if isinstance(data, int | float) and not isinstance(data, bool):
                data = [data] * dims
            if isinstance(data, list) and all(
                isinstance(v, int | float) and v > 0 for v in data[:dims]
            ):
                return [float(v) for v in data[:dims]] + [1.0] * (3 - dims)
    return [1.0, 1.0, 1.0]


def make_data(folder: Path, config: Config, train_model: Component | None) -> None:
    """Volumes and a datalist that fit the compiled config."""
    import nibabel as nib

    channels = 1
    if train_model is not None and train_model.arg("in_channels") is not None:
        channels = int(to_python(train_model.arg("in_channels")))
    pre = config.sections.get("train", {}).get("pre_transforms")
    if isinstance(pre, list) and any(c.class_name == "AddGuidanceSignald" for c in pre):
        channels = max(
            channels - 2, 1
        )  # DeepGrow: the transform adds 2 guidance channels
    shape = SHAPE[: spatial_dims(train_model)]
    affine = np.diag([*voxel_size(config, len(shape)), 1.0])
    column = (...,) + (None,) * len(shape)  # broadcasts a per-axis vector over the grid
    batch = int(_slot_arg(config, "train", "dataloader", "batch_size", 1) or 1)
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    (folder / "labels").mkdir(parents=True, exist_ok=True)
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    center = np.array(shape)[column] / 2
    body = (((grid - center) / (np.array(shape)[column] * 0.45)) ** 2).sum(0) <= 1
    entries = []
    for i in range(2 * batch + 1):  # two training iterations, and one validation case
        shift = rng.integers(-4, 5, len(shape))[column]
        organ = ((grid - center - shift) ** 2).sum(0) <= 8**2
        image = np.where(body, rng.normal(0, 20, shape), -1000.0)
        image[organ] = rng.normal(120, 15, int(organ.sum()))
        if channels > 1:
            image = np.stack([image] * channels, axis=-1)
        name = f"case_{i:03d}.nii.gz"
        nib.save(
            nib.Nifti1Image(image.astype(np.float32), affine),
            folder / "images" / name,
        )
        nib.save(
            nib.Nifti1Image(organ.astype(np.uint8), affine), folder / "labels" / name
        )
        entries.append({"image": f"images/{name}", "label": f"labels/{name}"})
    classes = label_classes(config, train_model)
    if classes:  # a classification config: each case's label is a vector of classes
        for entry in entries:
            entry["label"] = rng.integers(0, 2, classes).tolist()
    datalist: dict[str, Any] = {key: entries[:-1] for key in _list_keys(config)}
    for key in datalist:
        if "valid" in key or "test" in key:
            datalist[key] = entries[-1:]
    if classes:
        datalist["label_format"] = [1] * classes  # as Clara 3.x's classification lists
    safe_io.create(folder / "dataset.json", json.dumps(datalist, indent=2).encode())


def label_classes(config: Config, model: Component | None) -> int:
    """The length of a label vector where the config's label is the data list's own
    value (no loader reads it: a classification config), else 0."""
    pre = config.sections.get("train", {}).get("pre_transforms")
    loaders = (
        [c for c in pre if c.class_name in LOADERS] if isinstance(pre, list) else []
    )
    if not loaders or any("label" in literal_keys(c) for c in loaders):
        return 0
    value = model.arg("out_channels") if model is not None else None
    n = to_python(value) if value is not None and is_literal(value) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


def _confined(path: Path, root: Path) -> Path:
    """`path`, or a copy of it in the scratch folder in which every folder a MONAI part
    writes into that would leave the scratch folder (an absolute path, or one that
    climbs with '..') is one of the scratch folder's instead: smoke runs a config on
    synthetic data, and writes nowhere else."""
    text = config_text(path)
    try:
        data = json.loads(text) if text is not None else None
    except (ValueError, RecursionError):
        return path  # the compile says why
    moved = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            args = node.get("args")
            for key in (
                WRITTEN_FOLDERS + WRITTEN_FILES if isinstance(args, dict) else ()
            ):
                value = args.get(key)
                if isinstance(value, str) and (
                    (value.startswith("/") and root not in Path(value).parents)
                    or ".." in Path(value).parts
                ):
                    moved.append(value)
                    args[key] = str(root / "outputs" / f"{key}_{len(moved)}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(data)
    if not moved:
        return path
    copy = root / "configs" / path.name
    copy.parent.mkdir(parents=True, exist_ok=True)
    safe_io.create(copy, json.dumps(data, indent=2).encode("utf-8"))
    return copy


def _script_text(script: Path) -> str:
    return safe_io.read_text(script, safe_io.LIMITS["script"])


def _window(script: str, option: str) -> list[str]:
    """`--crop-size 32 32 32` for a script that has the option (as many as its nargs)."""
    found = re.search(rf'"{option}",[^)]*?nargs=(\d)', script)
    return [option, *[str(WINDOW)] * int(found.group(1))] if found else []


def smoke(config: Path, env: Path | None = None, sets: tuple = (),
          workdir: Path | None = None, validation: Path | None = None,
          target: str = "auto", stand_ins: bool = False,
          optimize: tuple[str, ...] = ()) -> SmokeResult:  # fmt: skip
    """Compile and run `config` on synthetic data; never raises for a config's faults.

    With `validation`, the validation config is compiled beside it and its validate.py run
    on the trained checkpoint. With `stand_ins`, missing BYOC modules are stood in for.
    With `optimize` (rewrite names), the job's train_fast.py is what runs.
    """
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        mmar = Compilation(config, CompileOptions()).mmar_root  # the config's MMAR
        source = config
        config = _confined(config, root)  # its outputs kept in the scratch folder
        base = Compilation(config, CompileOptions(set_values=tuple(sets)), env_path=env,
                           mmar_root=mmar)  # fmt: skip
        try:
            built, _ = base.build()
        except (CompileError, InternalError) as exc:
            return SmokeResult(False, "compile", _first(exc, base))
        extra = tuple((k, v) for k, v in SMOKE_SETS if k in built.globals)
        options = CompileOptions(set_values=tuple(sets) + extra, target=target,
                                 optimize=optimize, source_name=source.name)  # fmt: skip
        comp = Compilation(config, options, env_path=env, mmar_root=mmar)
        out = root / "out"
        try:
            manifest = compile_to_dir(comp, out)
        except (CompileError, InternalError) as exc:
            return SmokeResult(False, "compile", _first(exc, comp))
        data = root / "data"
        try:
            config_ir = comp.run_passes(*comp.build())
            make_data(data, config_ir, comp.train_models.get("J0001"))
        except Exception as exc:  # the data maker is ours: report, do not crash the run
            return SmokeResult(False, "data", f"cannot make data: {exc}")
        configs = [config_ir]
        vcomp = None
        if validation is not None:
            vsets = tuple(sets) + validation_sets(validation)
            validation = _confined(validation, root)
            vcomp = Compilation(config, dataclasses.replace(options, set_values=vsets),
                                env_path=env, validation_path=validation,
                                mmar_root=mmar)  # fmt: skip
            try:
                vmanifest = compile_to_dir(vcomp, root / "out_validation")
                configs.append(vcomp.run_passes(*vcomp.build(validation, "validation")))
            except (CompileError, InternalError) as exc:
                return SmokeResult(False, "compile", _first(exc, vcomp))
        run_env, stood = _environment(root, configs, comp.mmar_root, stand_ins)  # type: ignore[arg-type]
        train_model = comp.train_models.get("J0001")
        job = manifest["jobs"][0]
        if job.get("script") is None:  # a bundle: configs that MONAI's runner reads
            return SmokeResult(
                False, "compile", f"the {job.get('target')} target writes no train.py to "
                "run; smoke the config with --target plain or engines (a bundle runs "
                "with python -m monai.bundle run --config_file configs/train.json)")  # fmt: skip
        result = _train(root, out / job.get("fast", job["script"]), config_ir, run_env,
                        train_model)  # fmt: skip
        if optimize:
            ran = ("train_fast.py" if job.get("fast")
                   else "train.py: its target has no train_fast.py")  # fmt: skip
            result = dataclasses.replace(result, reason=f"{result.reason} ({ran})")
        if result.passed and vcomp is not None:
            script = root / "out_validation" / vmanifest["jobs"][0]["validate"]
            models = root / "models"
            ckpt = next(
                (models / n for n in ("model.pt", "model_final.pt") if (models / n).is_file()),
                None,
            )  # fmt: skip
            ts = None
            if "--mmar-torchscript" in _script_text(script) and ckpt is not None:
                try:
                    ts = export_torchscript(comp.train_models.get("J0001"), ckpt,
                                            root / "model.ts")  # fmt: skip
                except Exception as exc:  # ours: report it
                    return SmokeResult(False, "validate", f"cannot export TorchScript: "
                                       f"{exc}", stood)  # fmt: skip
            result = _run_validate(root, script, ckpt, run_env, ts)
        return dataclasses.replace(result, stand_ins=stood)


def _train(root: Path, script: Path, config_ir: Config, run_env: dict[str, str],
           model: Component | None) -> SmokeResult:  # fmt: skip
    data = root / "data"
    text = _script_text(script)
    cmd = [sys.executable, str(script), "--epochs", "1", "--device", "cpu",
           "--data-root", str(data), "--dataset-json", str(data / "dataset.json"),
           "--mmar-ckpt-dir", str(root / "models")]  # fmt: skip
    if '"--mmar-ckpt",' in text:  # it loads pretrained weights
        pretrained = untrained_checkpoint(model, root / "pretrained" / "model.pt")
        if pretrained is not None:
            cmd += ["--mmar-ckpt", str(pretrained)]
    for option in ("--crop-size", "--roi-size", "--image-size"):
        cmd += _window(text, option)
    if "--val-interval" in text:
        cmd += ["--val-interval", "1"]
    failed = _run(cmd, "train", run_env)
    if failed is not None:
        return failed
    result = safe_io.read_json(root / "models" / "result.json", safe_io.LIMITS["json"])
    if "validate" in config_ir.sections and result.get("best_value") is None:
        return SmokeResult(False, "validate", "no validation ran")
    return SmokeResult(
        True, "train", f"{result['key_metric']} = {result['best_value']}"
    )


def _run(cmd: list[str], stage: str, run_env: dict[str, str]) -> SmokeResult | None:
    """Run a generated script; the failure (its root error line), or None when it passed."""
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S,
                              env=run_env)  # fmt: skip
    except subprocess.TimeoutExpired:
        return SmokeResult(False, stage, f"no result in {TIMEOUT_S} s")
    if proc.returncode != 0:
        return SmokeResult(False, stage, cause(proc.stderr))
    return None


def _plain_value(value):
    """A network argument as a Python value (literals and searched values only)."""
    if isinstance(value, SearchValue):
        return _plain_value(value.value)
    if isinstance(value, ListV):
        return [_plain_value(v) for v in value.items]
    if isinstance(value, DictV):
        return {k: _plain_value(v) for k, v in value.items}
    if isinstance(value, Lit):
        return value.value
    raise ValueError(f"the network argument {value!r} is not a literal")


def build_network(model: Component | None):
    """The config's network, built here (MONAI/torch classes with literal args only)."""
    from claragen.gates import byoc
    from claragen.transpiler import symbols

    if model is None or model.path is not None:
        raise ValueError("the config's network is not a MONAI/torch class")
    sym = symbols.lookup(model.class_name)
    assert sym is not None
    cls = byoc.table_class(sym)
    return cls(**{k: _plain_value(v) for k, v in model.args})


def export_torchscript(model: Component | None, ckpt: Path, out: Path) -> Path:
    """The TorchScript model a Clara training exported, made from the smoke checkpoint:
    the train config's network with the trained weights, `torch.jit.script`ed."""
    import torch

    net = build_network(model)
    data = safe_io.read_bytes(ckpt, 64 * 1024 * safe_io.MiB)
    state = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    net.load_state_dict(state.get("model", state))
    buffer = io.BytesIO()
    torch.jit.save(torch.jit.script(net.eval()), buffer)
    safe_io.create(out, buffer.getvalue())
    return out


def untrained_checkpoint(model: Component | None, out: Path) -> Path | None:
    """A checkpoint of the untrained network, for a config that loads one (a finetune
    config's pretrained weights, a validation config alone); None when it cannot be made.
    """
    import torch

    try:
        net = build_network(model)
    except (ValueError, TypeError):
        return None
    out.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"model": net.state_dict()}, buffer)
    safe_io.create(out, buffer.getvalue())
    return out


# The validation loads the checkpoint the smoke training saved, not a TorchScript file.
VALIDATION_SETS = (("dont_load_ts_model", "true"), ("dont_load_ckpt_model", "false"))


def validation_sets(validation: Path) -> tuple[tuple[str, str], ...]:
    """The VALIDATION_SETS a validation config has a variable for (a --set of another is
    an error, E208)."""
    text = config_text(validation)
    if text is None:
        return ()
    names = first_level_names(validation)
    return tuple(
        (k, v) for k, v in VALIDATION_SETS if k in names or "{" + k + "}" in text
    )


def _run_validate(root: Path, script: Path, ckpt: Path | None, run_env: dict[str, str],
                  ts: Path | None = None) -> SmokeResult:  # fmt: skip
    """Run a validate.py on root/data; its metrics go to root/eval."""
    data = root / "data"
    text = _script_text(script)
    if "torch.jit.load" in text and ts is None:
        return SmokeResult(False, "validate", "needs a TorchScript model, and there is no "
                           "trained network to export one from")  # fmt: skip
    cmd = [sys.executable, str(script), "--device", "cpu", "--data-root", str(data),
           "--dataset-json", str(data / "dataset.json"),
           "--mmar-eval-output-path", str(root / "eval")]  # fmt: skip
    if ckpt is not None and "--mmar-ckpt" in text:
        cmd += ["--mmar-ckpt", str(ckpt)]
    if ts is not None:
        cmd += ["--mmar-torchscript", str(ts)]
    cmd += _window(text, "--roi-size") + _window(text, "--image-size")
    failed = _run(cmd, "validate", run_env)
    if failed is not None:
        return failed
    metrics = safe_io.read_json(root / "eval" / "metrics.json", safe_io.LIMITS["json"])
    shown = ", ".join(f"{k} = {v:.4f}" for k, v in metrics.items()) or "no metrics"
    return SmokeResult(True, "validate", shown)


def _network(slot) -> Component | None:
    """A validation config's network: its `model`, or the network entry of its list."""
    if isinstance(slot, Component):
        return slot
    items = (
        slot.items
        if isinstance(slot, ListV)
        else slot if isinstance(slot, list) else []
    )
    return next((c for c in items if isinstance(c, Component)), None)


def _first(exc: CompileError | InternalError, comp: Compilation) -> str:
    if isinstance(exc, InternalError):  # a claragen bug: its first line, not the script
        return str(exc).split("\n", 1)[0]
    errors = [d for d in exc.diagnostics if d.severity == "error"]
    return format_all(errors[:1], comp.sources).splitlines()[0]


def smoke_validation_alone(validation: Path, env: Path | None = None, sets: tuple = (),
                           workdir: Path | None = None, target: str = "auto",
                           stand_ins: bool = False) -> SmokeResult:  # fmt: skip
    """A validation config with no training config: its own network, untrained (a smoke
    run proves the script runs, not what it scores)."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(workdir or tmp)
        own = tuple(sets) + validation_sets(validation)
        comp = Compilation(None, CompileOptions(set_values=own, target=target),
                           env_path=env, validation_path=validation)  # fmt: skip
        try:
            manifest = compile_to_dir(comp, root / "out")
            config_ir = comp.run_passes(*comp.build(validation, "validation"))
        except (CompileError, InternalError) as exc:
            return SmokeResult(False, "compile", _first(exc, comp))
        model = _network(config_ir.sections.get("validate", {}).get("model"))
        make_data(root / "data", config_ir, model)
        run_env, stood = _environment(root, [config_ir], comp.mmar_root, stand_ins)  # type: ignore[arg-type]
        script = root / "out" / manifest["jobs"][0]["validate"]
        ckpt = None
        if '"--mmar-ckpt",' in _script_text(script):
            ckpt = untrained_checkpoint(model, root / "untrained" / "model.pt")
        result = _run_validate(root, script, ckpt, run_env)
        return dataclasses.replace(result, stand_ins=stood)
