"""Validation of job J0001: config_validation.json, compiled by claragen 0.1.0.

Dialect: Clara 4.1. Target: plain PyTorch + MONAI (MONAI 1.6.1).

Run:
    python validate.py [--device cpu|cuda] [--data-root DIR] ...

It writes metrics.json (each metric's value) into --mmar-eval-output-path,
and whatever the config's writers save (SaveImaged).
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time

import torch
from monai.data import DataLoader, Dataset, decollate_batch, load_decathlon_datalist
from monai.handlers.utils import write_metrics_reports
from monai.inferers import SlidingWindowInferer
from monai.metrics import ConfusionMatrixMetric, DiceMetric
from monai.networks.nets import UNet
from monai.transforms import (
    Activationsd,
    AsDiscreted,
    Compose,
    EnsureChannelFirstd,
    LoadImaged,
    ScaleIntensityRanged,
    ToTensord,
)

log = logging.getLogger("validate")

# Compiled from config_validation.json; each is the default of a command-line option.
MMAR_ROOT = "/path/to/spleen_41"  # the MMAR this script was compiled from (absolute)
DATA_ROOT = "data"  # environment.json
DATASET_JSON = "config/dataset_0.json"  # environment.json
MMAR_CKPT = "models/model.pt"  # environment.json
MMAR_EVAL_OUTPUT_PATH = "eval"  # environment.json
ROI_SIZE = (160, 160, 160)  # the config's sliding-window ROI size
DEVICE = "cuda"  # the evaluator's device; the CPU when there is no GPU
# The searched values of this job.
CHANNELS = [16, 32, 64, 128, 256]  # train.model:channels (the train search)
NUM_RES_UNITS = 2  # train.model:num_res_units (the train search)


def main(argv=None):
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = select_device(args.device)
    start_time = time.time()
    # Where this run's files go (and MONAI's savers' under it): no link in the way.
    own_folder(args.mmar_eval_output_path)

    # line 13 validate.pre_transforms
    val_transforms = Compose(
        [
            # line 13 validate.pre_transforms[0]
            # migrated: image_only=False, since the config reads *_meta_dict
            LoadImaged(keys=["image", "label"], image_only=False),
            EnsureChannelFirstd(keys=["image", "label"]),
            ScaleIntensityRanged(
                keys="image", a_min=-57, a_max=164, b_min=0.0, b_max=1.0, clip=True
            ),
            ToTensord(keys=["image", "label"]),
        ]
    )

    # line 37 validate.dataset
    val_dataset = Dataset(
        data=load_decathlon_datalist(
            args.dataset_json,
            is_segmentation=True,
            data_list_key="validation",
            base_dir=args.data_root,
        ),
        transform=val_transforms,
    )

    # line 44 validate.dataloader
    val_loader = DataLoader(dataset=val_dataset, batch_size=1, shuffle=False)

    # line 48 validate.inferer
    val_inferer = SlidingWindowInferer(
        roi_size=args.roi_size, sw_batch_size=4, overlap=0.5
    )

    # line 79 validate.post_transforms
    val_post_transforms = Compose(
        [
            Activationsd(keys="pred", softmax=True),
            # line 83 validate.post_transforms[1]
            # migrated: n_classes dropped (to_onehot already gives the class count)
            AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=2),
        ]
    )

    # line 10 validate.model
    # the network of the train config (line 45)
    model = UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        channels=CHANNELS,
        strides=[2, 2, 2, 2],
        num_res_units=NUM_RES_UNITS,
        norm="batch",
    ).to(device)

    # Metrics of the evaluator, by log label.
    val_metrics = {
        # line 98 validate.key_metric
        "val_mean_dice": DiceMetric(reduction="mean", include_background=True),
        # line 107 validate.additional_metrics[0]
        # ignite Accuracy on one-hot outputs: the accuracy over their entries, as ignite computes it (ConfusionMatrixMetric)
        "val_acc": ConfusionMatrixMetric(metric_name="accuracy"),
    }

    # line 53 validate.handlers[0] CheckpointLoader
    checkpoint = torch.load(args.mmar_ckpt, map_location=device, weights_only=True)
    for name, obj in {"model": model}.items():
        obj.load_state_dict(checkpoint.get(name, checkpoint), strict=True)

    # line 113 validate.evaluator: one pass over the data.
    # Automatic mixed precision ("amp") runs on CUDA only.
    val_amp = device.type == "cuda"
    report = {"images": []}
    metrics = validate(
        model,
        val_loader,
        val_inferer,
        val_post_transforms,
        val_metrics,
        device,
        val_amp,
        report,
    )
    save_metrics_report(args.mmar_eval_output_path, metrics, report)
    own_folder(args.mmar_eval_output_path)
    write_json(os.path.join(args.mmar_eval_output_path, "metrics.json"), metrics)
    for name, value in metrics.items():
        log.info(f"{name}: {value:.4f}")
    log.info(f"validation took {time.time() - start_time:.1f} s")
    return metrics


# line 66 validate.handlers[2] MetricsSaver: the metrics whose per-case values it writes
# (its batch_transform: the loop takes each image's file name)
REPORT_DETAILS = ["val_mean_dice"]


def validate(model, loader, inferer, postprocessing, metrics, device, amp, report=None):
    """Run the evaluator once; return {metric label: value}.
    `report` (MetricsSaver) gets each case's image file name and metric values.

    line 113 validate.evaluator
    """
    model.eval()
    with torch.no_grad():
        for batch in loader:
            images, labels = batch["image"].to(device), batch["label"].to(device)
            with torch.autocast(device.type, enabled=amp):
                preds = inferer(images, model)
            outputs = decollate_batch({"pred": preds, "label": labels})
            items = [postprocessing(i) for i in outputs]
            y_pred, y = [i["pred"] for i in items], [i["label"] for i in items]
            metrics["val_mean_dice"](y_pred=y_pred, y=y)
            metrics["val_acc"](y_pred=y_pred, y=y)
            if report is not None:
                report["images"] += [
                    str(f) for f in batch["image"].meta["filename_or_obj"]
                ]
    if report is not None:  # each case's values, before metric_value resets the metrics
        report["details"] = {
            label: metric.get_buffer()
            for label, metric in metrics.items()
            if label in REPORT_DETAILS or "*" in REPORT_DETAILS
        }
    return {label: metric_value(metric) for label, metric in metrics.items()}


def save_metrics_report(save_dir, metrics, report):
    """The metrics, each case's values and their summaries, written as MONAI's
    MetricsSaver writes them (line 66 validate.handlers[2]): into a new folder of the
    script's own, then each file renamed into `save_dir`, so that none is written
    through a link that was left there."""
    os.makedirs(save_dir, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=save_dir) as fresh:
        write_metrics_reports(
            save_dir=fresh,
            images=report["images"] or None,
            metrics={
                k: v for k, v in metrics.items() if k in ["val_mean_dice", "val_acc"]
            },
            metric_details=report["details"],
            summary_ops="*",
            deli=",",
            output_type="csv",
        )
        for name in sorted(os.listdir(fresh)):
            os.replace(os.path.join(fresh, name), os.path.join(save_dir, name))


# -- The run's plumbing: options and files; nothing of the config is decided below
# this line.


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mmar-root",
        default=MMAR_ROOT,
        help="MMAR root; relative default paths are resolved against it",
    )
    parser.add_argument(
        "--data-root",
        default=None,
        help="DATA_ROOT (default: data, relative to the MMAR root)",
    )
    parser.add_argument(
        "--dataset-json",
        default=None,
        help="DATASET_JSON (default: config/dataset_0.json, relative to the MMAR root)",
    )
    parser.add_argument(
        "--mmar-ckpt",
        default=None,
        help="MMAR_CKPT (default: models/model.pt, relative to the MMAR root)",
    )
    parser.add_argument(
        "--mmar-eval-output-path",
        default=None,
        help="MMAR_EVAL_OUTPUT_PATH (default: eval, relative to the MMAR root)",
    )
    parser.add_argument(
        "--roi-size",
        default=ROI_SIZE,
        type=int,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="sliding-window ROI size (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="cuda or cpu (default: cuda when there is a GPU, else cpu)",
    )
    args = parser.parse_args(argv)
    if not os.path.isdir(args.mmar_root):
        parser.error(
            f"there is no MMAR at {args.mmar_root}; give its folder with --mmar-root"
        )
    # Relative default paths are relative to the MMAR root, as in Clara.
    if args.data_root is None:
        args.data_root = os.path.join(args.mmar_root, DATA_ROOT)
    if args.dataset_json is None:
        args.dataset_json = os.path.join(args.mmar_root, DATASET_JSON)
    if args.mmar_ckpt is None:
        args.mmar_ckpt = os.path.join(args.mmar_root, MMAR_CKPT)
    if args.mmar_eval_output_path is None:
        args.mmar_eval_output_path = os.path.join(args.mmar_root, MMAR_EVAL_OUTPUT_PATH)
    return args


def select_device(name):
    """--device, else DEVICE; "cuda" means the CPU on a machine without a GPU."""
    if name is None:
        name = (
            DEVICE
            if torch.cuda.is_available() or not DEVICE.startswith("cuda")
            else "cpu"
        )
    return torch.device(name)


def metric_value(metric):
    """Aggregate a cumulative MONAI metric into one float, and reset it."""
    value = metric.aggregate()
    metric.reset()
    if isinstance(value, (list, tuple)):
        value = value[0]
    return float(value)


def own_folder(path):
    """`path` as a folder of the files this run writes, made when missing. The script and
    the MONAI parts it runs (savers, TensorBoard) write there, so neither the folder nor
    anything in it may be a link, which would send a write elsewhere: the script stops
    and says which."""
    if os.path.islink(path):
        sys.exit(
            f"{path} is a symbolic link; give the folder it points to, or remove it"
        )
    os.makedirs(path, exist_ok=True)
    for folder, folders, files in os.walk(path):  # (os.walk follows no link)
        for name in folders + files:
            if os.path.islink(os.path.join(folder, name)):
                sys.exit(
                    f"{os.path.join(folder, name)} is a symbolic link, which this "
                    "script writes no file through; remove it"
                )


def remove_file(path):
    """Remove the file at `path`, if there is one: a link there goes, not what it points
    to."""
    if os.path.lexists(path):
        os.unlink(path)


def open_new(path):
    """`path` as a new file, open for writing (binary): what was there goes first, and the
    file is created here, never through a link that was left in its place (O_EXCL |
    O_NOFOLLOW). Every file the script writes itself is made with it."""
    remove_file(path)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644)
    return os.fdopen(fd, "wb")


def replace_atomically(path, write):
    """Write `path` with `write(f)` into `path`.tmp, flush it to disk, then rename it onto
    `path`: a reader of `path`, or a run killed while writing, finds the old file or the
    new one, never half of one."""
    tmp = path + ".tmp"
    with open_new(tmp) as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_json(path, data):
    """`data` as JSON into `path`, atomically (see replace_atomically)."""
    text = json.dumps(data, indent=2) + "\n"
    replace_atomically(path, lambda f: f.write(text.encode("utf-8")))


if __name__ == "__main__":
    main()
