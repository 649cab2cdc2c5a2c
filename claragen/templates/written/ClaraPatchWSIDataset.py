"""MONAI 0.8's PatchWSIDataset, which Clara 4.x ran and MONAI 1.0 replaced, written out
for the generated scripts (claragen.transpiler.written): its imports become the script's,
its class is copied into the script. Checked against MONAI 0.8.1's
monai/apps/pathology/data/datasets.py and WSIReader._extract_patches."""

import numpy as np
from monai.data import Dataset, WSIReader
from monai.utils import ensure_tuple_rep


class ClaraPatchWSIDataset(Dataset):
    """MONAI 0.8's PatchWSIDataset, which Clara 4.x ran (MONAI 1.x's reads one patch an
    item). Each item of the data list, `{"image": "slide.tiff", "location": [y, x],
    "label": [0, 0, 1, 0]}`, gives one region of `region_size` centred on its location,
    cut into a `grid_shape` grid of `patch_size` patches (each centred in its cell), one
    item a patch with its own label: `[{"image": patch, "label": label}, ...]`, which
    MONAI's DataLoader flattens into the batch."""

    def __init__(
        self,
        data,
        region_size,
        grid_shape,
        patch_size,
        transform=None,
        image_reader_name="cuCIM",
    ):
        self.data, self.transform = data, transform  # as Dataset's own __init__
        self.region_size = ensure_tuple_rep(region_size, 2)
        self.grid_shape = ensure_tuple_rep(grid_shape, 2)
        self.patch_size = ensure_tuple_rep(patch_size, 2)
        self.reader = WSIReader(backend=image_reader_name.lower(), level=0)
        self.slides = {}  # each slide opened once (MONAI 0.8 did so but for OpenSlide)

    def __getitem__(self, index):
        sample = self.data[index]
        if sample["image"] not in self.slides:
            self.slides[sample["image"]] = self.reader.read(sample["image"])
        corner = [sample["location"][i] - self.region_size[i] // 2 for i in range(2)]
        region, _ = self.reader.get_data(
            self.slides[sample["image"]], location=tuple(corner), size=self.region_size
        )
        labels = np.array(sample["label"], dtype=np.float32)
        for _ in range(4 - labels.ndim):  # (patch, class, height, width)
            labels = np.expand_dims(labels, 1)
        images = self.grid_patches(region)
        patches = [
            {"image": images[i], "label": labels[i]}
            for i in range(len(sample["label"]))
        ]
        return self.transform(patches) if self.transform else patches

    def grid_patches(self, region):
        """The region's patches, one a cell of the grid, centred in it, row by row of
        the grid's second axis (MONAI 0.8's order)."""
        starts = [
            np.round(
                region.shape[1 + i]
                * (0.5 + np.arange(self.grid_shape[i]))
                / self.grid_shape[i]
                - self.patch_size[i] / 2
            ).astype(int)
            for i in range(2)
        ]
        return [
            region[:, x : x + self.patch_size[0], y : y + self.patch_size[1]]
            for y in starts[1]
            for x in starts[0]
        ]
