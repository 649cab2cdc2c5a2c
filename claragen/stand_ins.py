"""Stand-ins for bring-your-own modules that a smoke run cannot find.

A config's BYOC components (`"path": "myLoss.MyDiceLoss"`) live in its MMAR's `custom/`
folder. When that code is not there (the corpus holds configs, not their MMARs), a smoke run
can still prove that everything else the config compiles to runs: `claragen smoke
--stand-ins` writes a module for each missing one, with a class per name that does the
simplest thing its role allows, and says so in its result:

    train.loss            -> a Dice loss on the prediction's channels
    train.model           -> one convolution, in_channels -> out_channels
    a *Load* transform    -> reads the keys it names with LoadImaged (a BYOC loader)
    *.pre_transforms[i]   -> passes the data through
    *.handlers[i]         -> attaches nothing
    *.dataset             -> monai.data.Dataset
    anything else         -> accepts any arguments and returns its first input

A real module of the same name always wins: the scripts put `custom/` first on the path.
"""

from __future__ import annotations

import re
from pathlib import Path

from claragen.gates import byoc, safe_io
from claragen.transpiler.ir import Config

HEADER = '''"""Stand-ins written by `claragen smoke --stand-ins`: the real module is not here."""

import torch

from monai.data import Dataset
from monai.losses import DiceLoss
from monai.transforms import LoadImaged
'''

ROLES = {
    "transform": """

class {name}:  # stand-in transform: passes the data through
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, data, *args, **kwargs):
        return data
""",
    "loader": """

class {name}:  # stand-in loader: reads the keys it names with LoadImaged
    def __init__(self, *args, keys=None, fields=None, field=None, **kwargs):
        self.load = LoadImaged(keys=keys or fields or field)

    def __call__(self, data, *args, **kwargs):
        return self.load(data)
""",
    "loss": """

class {name}(torch.nn.Module):  # stand-in loss: Dice on the prediction's channels
    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, pred, label):
        if pred.shape[1] == 1:
            return DiceLoss(sigmoid=True)(pred, label)
        return DiceLoss(to_onehot_y=True, softmax=True)(pred, label)
""",
    "network": """

class {name}(torch.nn.Module):  # stand-in network: one convolution
    def __init__(self, *args, in_channels=1, out_channels=None, num_classes=None,
                 spatial_dims=None, dimensions=None, **kwargs):
        super().__init__()
        dims = spatial_dims or dimensions or 3
        out = out_channels or num_classes or 2
        conv = torch.nn.Conv3d if dims == 3 else torch.nn.Conv2d
        self.conv = conv(in_channels, out, kernel_size=3, padding=1)

    def forward(self, x):
        return self.conv(x)
""",
    "handler": """

class {name}:  # stand-in handler: attaches nothing
    def __init__(self, *args, **kwargs):
        pass

    def attach(self, engine):
        pass
""",
    "dataset": """

class {name}(Dataset):  # stand-in dataset: monai.data.Dataset
    def __init__(self, data=(), transform=None, *args, **kwargs):
        super().__init__(data=data, transform=transform)
""",
    "other": """

class {name}:  # stand-in: takes anything, returns its first input
    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return args[0] if args else None
""",
}


def role_of(locator: str, name: str = "") -> str:
    """The role of a component from where it sits (`validate.handlers[2]` -> handler)
    and, for a transform, from its class name (`MyNumpyLoader` -> loader)."""
    last = re.sub(r"\[\d+\]", "", locator).split(".args.")[0].split(".")[-1]
    if "transforms" in locator and last != "handlers":
        return "loader" if "load" in name.lower() else "transform"
    if last == "handlers":
        return "handler"
    if last == "loss":
        return "loss"
    if last in ("model", "network"):
        return "network"
    if last == "dataset":
        return "dataset"
    return "other"


def missing(path: str, mmar_root: Path, pythonpath: tuple[str, ...] = ()) -> bool:
    """Whether the BYOC gate allows `path` ("module.Class") and neither the MMAR's custom/
    folder, --pythonpath nor the environment has its module (claragen.gates.byoc)."""
    return byoc.absent(path, byoc.roots(mmar_root, pythonpath))


def write_stand_ins(configs: list[Config], mmar_root: Path, folder: Path) -> list[str]:
    """Write stand-in modules under `folder` for every missing BYOC class of `configs`;
    return the `module.Class` paths stood in for, sorted."""
    wanted: dict[str, dict[str, str]] = {}
    for config in configs:
        for c in config.every_component():
            if c.path and missing(c.path, mmar_root):
                module, _, name = c.path.rpartition(".")
                wanted.setdefault(module, {}).setdefault(name, role_of(c.locator, name))
    if wanted:
        folder.mkdir(parents=True, exist_ok=True)
    for module, classes in wanted.items():
        parts = module.split(".")  # names: the BYOC gate allowed the path
        safe_io.make_folders(folder, Path(*parts[:-1]) if parts[:-1] else Path())
        for i in range(1, len(parts)):
            init = folder.joinpath(*parts[:i]) / "__init__.py"
            if not safe_io.is_own_file(init):
                safe_io.create(init, b"")
        body = HEADER + "".join(
            ROLES[role].format(name=name) for name, role in sorted(classes.items())
        )
        safe_io.create(folder.joinpath(*parts[:-1], f"{parts[-1]}.py"), body.encode())
    return sorted(f"{m}.{n}" for m, names in wanted.items() for n in names)
