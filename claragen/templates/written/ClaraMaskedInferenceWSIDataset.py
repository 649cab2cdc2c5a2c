"""MONAI 0.5-0.8's MaskedInferenceWSIDataset, which Clara 4.x ran and MONAI 1.0 removed,
written out for the generated scripts (claragen.transpiler.written): its imports become
the script's, its class is copied into the script. Checked against MONAI 0.8.1's
monai/apps/pathology/data/datasets.py."""

import os

import numpy as np
from monai.data import Dataset, WSIReader
from monai.utils import ensure_tuple_rep


class ClaraMaskedInferenceWSIDataset(Dataset):
    """MONAI 0.8's MaskedInferenceWSIDataset, which Clara 4.x ran (MONAI 1.x's
    MaskedPatchWSIDataset samples a mask level of the slide instead). Each item of the
    data list, `{"image": "slide.tiff", "mask": "mask.npy"}`, gives one patch of
    `patch_size` for each non-zero pixel of its foreground mask (a downsampled copy of
    the slide, by a power of 2), centred on that pixel's place in the slide:
    `[{"image": patch, "name": slide name, "mask_location": [row, column]}]`, which
    ClaraProbMapProducer writes into a probability map of the mask's shape."""

    def __init__(self, data, patch_size, transform=None, image_reader_name="cuCIM"):
        self.transform = transform  # as Dataset's own __init__
        self.patch_size = ensure_tuple_rep(patch_size, 2)
        self.reader = WSIReader(backend=image_reader_name.lower(), level=0)
        self.data = [self.prepare(sample) for sample in data]
        # each slide opened once a process, when a patch of it is first read: the
        # DataLoader's workers, forked, must not share one open file
        self.slides, self.pid = {}, None
        # the patches of every slide, one after another
        self.cum_num_patches = np.cumsum(
            [0] + [len(d["image_locations"]) for d in self.data[:-1]]
        )
        self.num_patches = sum(len(d["image_locations"]) for d in self.data)

    def prepare(self, sample):
        """The slide's size and its mask read, and where each patch lies on both."""
        size = self.reader.get_size(self.reader.read(sample["image"]), 0)
        mask = np.load(sample["mask"])
        ratios = [size[i] / mask.shape[i] for i in range(2)]
        level = np.log2(ratios[0])
        if ratios[0] != ratios[1] or not level.is_integer():
            raise ValueError(
                f"{sample['mask']}: the mask is not the slide downsampled by a power of "
                f"2 in both dimensions (slide / mask: {ratios[0]} and {ratios[1]})"
            )
        mask_locations = np.vstack(mask.nonzero()).T
        # each mask pixel's centre on the slide, less half a patch: its top left corner
        image_locations = (mask_locations + 0.5) * ratios[0] - np.array(
            self.patch_size
        ) // 2
        return {
            "name": os.path.splitext(os.path.basename(sample["image"]))[0],
            "image": sample["image"],
            "mask_shape": mask.shape,
            "mask_locations": mask_locations.astype(int).tolist(),
            "image_locations": image_locations.astype(int).tolist(),
            "level": int(level),
        }

    def __len__(self):
        return self.num_patches

    def __getitem__(self, index):
        sample_num = np.argmax(self.cum_num_patches > index) - 1
        sample = self.data[sample_num]
        patch_num = index - self.cum_num_patches[sample_num]
        if self.pid != os.getpid():
            self.slides, self.pid = {}, os.getpid()
        if sample["image"] not in self.slides:
            self.slides[sample["image"]] = self.reader.read(sample["image"])
        location = tuple(sample["image_locations"][patch_num])
        image, _ = self.reader.get_data(
            self.slides[sample["image"]], location=location, size=self.patch_size
        )
        if tuple(image.shape[-2:]) != self.patch_size:
            raise ValueError(
                f"{sample['image']}: the patch at {location} is "
                f"{tuple(image.shape[-2:])}, not {self.patch_size}: it runs over the "
                "slide's edge, which this reader crops (MONAI 0.8 refused TiffFile "
                "for this dataset; read the slide with cuCIM or OpenSlide)"
            )
        patch = [
            {
                "image": image,
                "name": sample["name"],
                "mask_location": sample["mask_locations"][patch_num],
            }
        ]
        return self.transform(patch) if self.transform else patch
