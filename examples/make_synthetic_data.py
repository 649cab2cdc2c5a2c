"""Write a small synthetic spleen-like NIfTI dataset and its Decathlon-style datalist.

Each case is a CT-like volume: air (-1000 HU) around a body ellipsoid of soft tissue
(about 0 HU, with noise) holding one brighter sphere (about 120 HU), the labelled organ.
The body is the same in every case, so foreground cropping gives equal shapes; the organ's
place and size vary. Deterministic for a given --seed.

    python examples/make_synthetic_data.py OUT [--cases 6] [--validation 2]

writes OUT/imagesTr/case_000.nii.gz, OUT/labelsTr/case_000.nii.gz, ... and OUT/dataset.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import nibabel as nib
import numpy as np


def make_case(
    rng: np.random.Generator, shape: tuple[int, int, int]
) -> tuple[np.ndarray, ...]:
    grid = np.stack(np.meshgrid(*[np.arange(n) for n in shape], indexing="ij"))
    center = np.array(shape)[:, None, None, None] / 2
    semi = np.array(shape)[:, None, None, None] * 0.44
    body = (((grid - center) / semi) ** 2).sum(0) <= 1
    organ_center = np.array(shape) / 2 + rng.uniform(-0.15, 0.15, 3) * np.array(shape)
    radius = rng.uniform(0.12, 0.18) * min(shape)
    organ = ((grid - organ_center[:, None, None, None]) ** 2).sum(0) <= radius**2
    organ &= body
    image = np.full(shape, -1000.0, dtype=np.float32)
    image[body] = rng.normal(0.0, 20.0, body.sum())
    image[organ] = rng.normal(120.0, 15.0, organ.sum())
    return image.astype(np.float32), organ.astype(np.uint8)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--cases", type=int, default=6)
    parser.add_argument(
        "--validation", type=int, default=2, help="cases kept for validation"
    )
    parser.add_argument("--shape", type=int, nargs=3, default=[64, 64, 48])
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    rng = np.random.default_rng(args.seed)
    (args.out / "imagesTr").mkdir(parents=True, exist_ok=True)
    (args.out / "labelsTr").mkdir(parents=True, exist_ok=True)
    affine = np.diag([1.5, 1.5, 2.0, 1.0])
    entries = []
    for i in range(args.cases):
        image, label = make_case(rng, tuple(args.shape))
        name = f"case_{i:03d}.nii.gz"
        nib.save(nib.Nifti1Image(image, affine), args.out / "imagesTr" / name)
        nib.save(nib.Nifti1Image(label, affine), args.out / "labelsTr" / name)
        entries.append({"image": f"imagesTr/{name}", "label": f"labelsTr/{name}"})
    n_train = max(args.cases - args.validation, 1)
    datalist = {
        "description": "synthetic spleen-like volumes (claragen examples/make_synthetic_data.py)",
        "training": entries[:n_train],
        "validation": entries[n_train:],
    }
    with open(args.out / "dataset.json", "w") as f:
        json.dump(datalist, f, indent=2)
        f.write("\n")
    print(f"{args.cases} cases -> {args.out}")


if __name__ == "__main__":
    main()
