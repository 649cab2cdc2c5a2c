"""The render model of the plain target: what its templates lay out (`PlainScript` for
train.py; `Block`, `Section` and `Option` also serve validate.py and the engines target),
and the names the script gives the objects it builds. Nothing is decided here: the
lowering modules fill these.

    train.model           -> Block(["config_train.json:12 train.model"], "model", "UNet(...)")
    validate.key_metric   -> Metric(..., var="val_key_metric", label="val_mean_dice", ...)
    --epochs              -> Option("--epochs", "epochs", "EPOCHS", "epochs to train ...")
"""

from __future__ import annotations

from dataclasses import dataclass, field

from claragen.transpiler.emit import comment_text
from claragen.transpiler.ir import Config
from claragen.transpiler.targets.handlers import LoopPlan

# Variable names of the objects built from section keys. Others: "<prefix>_<key>".
NAMES: dict[tuple[str, str], str] = {
    ("train", "pre_transforms"): "train_transforms",
    ("train", "dataset"): "train_dataset",
    ("train", "dataloader"): "train_loader",
    ("train", "model"): "model",
    ("train", "loss"): "loss_function",
    ("train", "optimizer"): "optimizer",
    ("train", "lr_scheduler"): "lr_scheduler",
    ("train", "inferer"): "train_inferer",
    ("train", "post_transforms"): "train_post_transforms",
    ("validate", "pre_transforms"): "val_transforms",
    ("validate", "dataset"): "val_dataset",
    ("validate", "dataloader"): "val_loader",
    ("validate", "inferer"): "val_inferer",
    ("validate", "post_transforms"): "val_post_transforms",
}
SECTION_PREFIX = {"train": "train", "validate": "val"}


@dataclass
class Item:
    """One transform of a transform list, under its config comment."""

    comments: list[str]
    code: str
    name: str | None  # its class (symbols.lookup); None: the user's own (BYOC)


@dataclass
class Block:
    """One built object: `target = code`, under its config comment. A transform list
    also keeps its items and the name of its Compose, which `compose_code` joins."""

    comments: list[str]
    target: str
    code: str
    items: list[Item] | None = None
    compose: str = "Compose"


def compose_code(compose: str, items: list[Item]) -> str:
    """`Compose([...])`, each item under its comment lines."""
    lines = []
    for item in items:
        lines.append("\n".join(f"# {comment_text(c)}" for c in item.comments))
        lines.append(item.code + ",")
    return f"{compose}(\n[\n" + "\n".join(lines) + "\n]\n)"


@dataclass
class Metric:
    comments: list[str]
    var: str
    label: str
    code: str
    # the output_transform applied to the decollated, post-processed items; None: the
    # metric reads each item's "pred" and "label" (y_pred=, y=)
    inputs: str | None
    # a batch of cases gives it the values its cases give (MONAI's metrics:
    # batched-metrics may stack them); a loss of a batch is not its cases' mean
    per_case: bool = True


@dataclass
class Option:
    """A command-line option of the generated script."""

    flag: str
    dest: str
    const: str  # the module constant holding the default
    help: str
    type: str = "str"
    nargs: int | None = None
    is_path: bool = False

    @property
    def metavar(self) -> tuple[str, ...] | None:
        return ("X", "Y", "Z")[: self.nargs] if self.nargs and self.nargs <= 3 else None


@dataclass
class Section:
    """What the loop needs of one section."""

    loader: str
    inferer: str
    post: str | None
    metrics: list[Metric]
    key_label: str | None
    amp: str
    comment: str
    labels: bool = True  # whether batches carry labels (inference has none)
    # what the post-transforms and metrics name besides the prediction and the label
    # (plain_metrics.keys_beyond_pred_label); none: the loop decollates those two, not the
    # whole batch (images and their metadata)
    other_keys: list[str] = field(default_factory=lambda: ["?"])
    # the trainer's inferer is a plain SimpleInferer: the loop calls the model (inferer
    # is then ""), and this says where the config named it
    simple_inferer: str = ""

    @property
    def pred_label_only(self) -> bool:
        return not self.other_keys


@dataclass
class Distributed:
    """multi_gpu: what the script does under torchrun (DDP)."""

    comment: str  # where the config says multi_gpu
    train_sampler: bool = False  # the train loader's DistributedSampler needs set_epoch


@dataclass
class FastLoop:
    """What `--optimize` changes in the loop itself (claragen/transpiler/optimize)."""

    non_blocking: bool = False  # batches copied to the device with non_blocking=True
    amp_dtype: bool = False  # autocast in bfloat16 where the GPU has it (amp_dtype())
    # the loaders whose data is on the device (device-cache)
    device_loaders: list[str] = field(default_factory=list)
    batched_metrics: bool = False  # train metrics decollate pred and label only
    cache_estimate: bool = False  # cache_device_for(): the device cache, if it fits
    # --override-determinism: a rewrite may replace the config's determinism settings
    override_determinism: bool = False


@dataclass
class PlainScript:
    """The render model of `train.py`."""

    docstring: str
    source_name: str
    imports: list[str]
    byoc_imports: list[str]
    constants: list[tuple[str, str, str]]  # name, code, comment
    search_constants: list[tuple[str, str, str]]  # the job's searched values
    train_conf: str
    options: list[Option]
    device_default: str
    device_help: str
    seed: str | None
    backend_flags: list[str]
    blocks: list[Block]
    model: str
    loss: str
    optimizer: str
    train: Section
    val: Section | None
    plan: LoopPlan
    ckpt_dir: str
    key_label: str
    key_section: str
    trainer_comment: str
    notes: list[str] = field(default_factory=list)
    ddp: Distributed | None = None
    fast: FastLoop | None = None  # train_fast.py (--optimize); None: train.py
    # the folders the MONAI parts of the config write into (own_folder checks them)
    output_folders: list[str] = field(default_factory=list)
    # first-level values an option sets, updated in TRAIN_CONF: {"epochs": "args.epochs"}
    conf_options: str = ""
    seed_lines: list[str] = field(default_factory=list)  # 3.x's python/numpy seeds
    written: list[str] = field(default_factory=list)  # classes MONAI dropped


def comment(
    config: Config, span_line: int, locator: str, notes: tuple[str, ...] = ()
) -> list[str]:
    """`# line 57 train.model`: the docstring names the config file once."""
    return [f"line {span_line} {locator}"] + list(notes)
