"""MONAI 0.8's SmartCachePatchWSIDataset, which Clara 4.x ran and MONAI 1.0 removed,
written out for the generated scripts (claragen.transpiler.written). Checked against
MONAI 0.8.1's monai/apps/pathology/data/datasets.py: a SmartCacheDataset over MONAI
0.8's PatchWSIDataset, which is written out beside it."""

import sys

from ClaraPatchWSIDataset import ClaraPatchWSIDataset
from monai.data import SmartCacheDataset


def ClaraSmartCachePatchWSIDataset(  # noqa: N802 (it stands for MONAI 0.8's class)
    data,
    region_size,
    grid_shape,
    patch_size,
    transform,
    image_reader_name="cuCIM",
    replace_rate=0.5,
    cache_num=sys.maxsize,
    cache_rate=1.0,
    num_init_workers=None,
    num_replace_workers=None,
    progress=True,
    copy_cache=True,
    as_contiguous=True,
):
    """MONAI 0.8's SmartCachePatchWSIDataset: a SmartCacheDataset of the regions of
    MONAI 0.8's PatchWSIDataset (each a list of labelled patches), in the data list's
    order (shuffle=False), with MONAI 0.8's defaults (replace_rate 0.5)."""
    return SmartCacheDataset(
        data=ClaraPatchWSIDataset(
            data,
            region_size,
            grid_shape,
            patch_size,
            image_reader_name=image_reader_name,
        ),
        transform=transform,
        replace_rate=replace_rate,
        cache_num=cache_num,
        cache_rate=cache_rate,
        num_init_workers=num_init_workers,
        num_replace_workers=num_replace_workers,
        progress=progress,
        shuffle=False,
        copy_cache=copy_cache,
        as_contiguous=as_contiguous,
    )
