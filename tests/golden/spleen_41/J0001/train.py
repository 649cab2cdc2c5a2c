"""Train job J0001 of config_train.json, compiled by claragen 0.1.0.

Dialect: Clara 4.1. Target: plain PyTorch + MONAI (MONAI 1.6.1).

Search values of this job (parameter id = value):
    :learning_rate = 0.0002
    :mySearchLoss1,mySearchLoss2 = [true, false]
    train.model:channels = [[16, 32, 64, 128, 256]]
    train.model:num_res_units = [2]
    train.pre_transforms[2]:a_min,a_max = [-57, 164]
    train.pre_transforms[5]:prob = 0.5

Run:
    python train.py [--epochs N] [--device cpu|cuda] [--data-root DIR] ...
    python train.py --help

It writes its checkpoints, TensorBoard logs and result.json (the key metric, its
best value and epoch, per-epoch values, wall time) into --mmar-ckpt-dir.
"""

import argparse
import atexit
import functools
import json
import logging
import multiprocessing
import os
import shlex
import signal
import stat
import sys
import time

import torch
from monai.data import (
    CacheDataset,
    DataLoader,
    decollate_batch,
    load_decathlon_datalist,
)
from monai.inferers import SlidingWindowInferer
from monai.losses import FocalLoss
from monai.metrics import ConfusionMatrixMetric, DiceMetric
from monai.networks.nets import UNet
from monai.transforms import (
    Activationsd,
    AsDiscreted,
    Compose,
    CropForegroundd,
    EnsureChannelFirstd,
    LoadImaged,
    RandCropByPosNegLabeld,
    RandGaussianNoised,
    RandShiftIntensityd,
    ScaleIntensityRanged,
    ToTensord,
)
from monai.utils import set_determinism
from torch.utils.tensorboard import SummaryWriter

log = logging.getLogger("train")

# Compiled from config_train.json; each is the default of a command-line option.
MMAR_ROOT = "/path/to/spleen_41"  # the MMAR this script was compiled from (absolute)
DATA_ROOT = "data"  # environment.json
DATASET_JSON = "config/dataset_0.json"  # environment.json
MMAR_CKPT_DIR = "models"  # environment.json
CROP_SIZE = (96, 96, 96)  # the config's random crop size
ROI_SIZE = (160, 160, 160)  # the config's sliding-window ROI size
VAL_INTERVAL = 1  # line 165 train.handlers[1] ValidationHandler interval
EPOCHS = 1260  # line 220 train.trainer max_epochs
DEVICE = "cuda"  # the trainer's device; the CPU when there is no GPU
SEED = 0  # config_train.json determinism.random_seed
KEY_METRIC = "val_mean_dice"  # validate key metric: the score of this job
# The searched values of this job (see the docstring).
LEARNING_RATE = 0.0002  # :learning_rate (lr, float)
CHANNELS = [16, 32, 64, 128, 256]  # train.model:channels (net, enum)
NUM_RES_UNITS = 2  # train.model:num_res_units (net, enum)
A_MIN = -57  # train.pre_transforms[2]:a_min,a_max (transform, enum)
A_MAX = 164  # train.pre_transforms[2]:a_min,a_max (transform, enum)
MY_PROB = 0.5  # train.pre_transforms[5]:prob (transform, float)
# The first-level values of the config, saved in checkpoints as "train_conf" (@conf).
TRAIN_CONF = {
    "epochs": 1260,
    "num_interval_per_valid": 1,
    "multi_gpu": False,
    "amp": True,
    "learning_rate": 0.0002,
    "cudnn_benchmark": False,
    "dont_load_ckpt_model": True,
}


def main(argv=None):
    args = parse_args(argv)
    TRAIN_CONF.update({"epochs": args.epochs})  # the config's values these options set
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = select_device(args.device)
    own_folder(args.mmar_ckpt_dir)
    set_determinism(seed=SEED)
    torch.backends.cudnn.benchmark = False

    # line 72 train.pre_transforms
    train_transforms = Compose(
        [
            LoadImaged(keys=["image", "label"]),
            EnsureChannelFirstd(keys=["image", "label"]),
            ScaleIntensityRanged(
                keys="image", a_min=A_MIN, a_max=A_MAX, b_min=0.0, b_max=1.0, clip=True
            ),
            CropForegroundd(keys=["image", "label"], source_key="image"),
            RandCropByPosNegLabeld(
                keys=["image", "label"],
                label_key="label",
                spatial_size=args.crop_size,
                pos=1,
                neg=1,
                num_samples=4,
                image_key="image",
                image_threshold=0,
            ),
            RandShiftIntensityd(keys="image", offsets=0.1, prob=MY_PROB),
            RandGaussianNoised(keys="image", prob=0.1),
            ToTensord(keys=["image", "label"]),
        ]
    )

    # line 138 train.dataset
    train_dataset = CacheDataset(
        data=load_decathlon_datalist(
            args.dataset_json,
            is_segmentation=True,
            data_list_key="training",
            base_dir=args.data_root,
        ),
        transform=train_transforms,
        cache_num=32,
        cache_rate=1.0,
        num_workers=2,
    )

    # line 150 train.dataloader
    train_loader = DataLoader(
        dataset=train_dataset, batch_size=2, shuffle=True, num_workers=2
    )

    # line 236 validate.pre_transforms (its refs copy train.pre_transforms)
    val_transforms = Compose(
        [
            LoadImaged(keys=["image", "label"]),
            EnsureChannelFirstd(keys=["image", "label"]),
            ScaleIntensityRanged(
                keys="image", a_min=A_MIN, a_max=A_MAX, b_min=0.0, b_max=1.0, clip=True
            ),
            CropForegroundd(keys=["image", "label"], source_key="image"),
            ToTensord(keys=["image", "label"]),
        ]
    )

    # line 242 validate.dataset
    val_dataset = CacheDataset(
        data=load_decathlon_datalist(
            args.dataset_json,
            is_segmentation=True,
            data_list_key="validation",
            base_dir=args.data_root,
        ),
        transform=val_transforms,
        cache_num=9,
        cache_rate=1.0,
        num_workers=2,
    )

    # line 254 validate.dataloader
    val_loader = DataLoader(
        dataset=val_dataset, batch_size=1, shuffle=False, num_workers=2
    )

    # line 45 train.model
    # migrated: dimensions -> spatial_dims
    model = UNet(
        spatial_dims=3,
        in_channels=1,
        out_channels=2,
        channels=CHANNELS,
        strides=[2, 2, 2, 2],
        num_res_units=NUM_RES_UNITS,
        norm="batch",
    ).to(device)

    # line 31 train.loss[1]
    loss_function = FocalLoss(to_onehot_y=True)

    # line 37 train.optimizer
    optimizer = torch.optim.Adam(params=model.parameters(), lr=LEARNING_RATE)

    # line 41 train.lr_scheduler
    lr_scheduler = torch.optim.lr_scheduler.StepLR(
        optimizer=optimizer, step_size=5000, gamma=0.1
    )

    # line 263 validate.inferer
    val_inferer = SlidingWindowInferer(
        roi_size=args.roi_size, sw_batch_size=4, overlap=0.5
    )

    # line 203 train.post_transforms
    train_post_transforms = Compose(
        [
            Activationsd(keys="pred", softmax=True),
            AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=2),
        ]
    )

    # line 289 validate.post_transforms (its refs copy train.post_transforms)
    val_post_transforms = Compose(
        [
            Activationsd(keys="pred", softmax=True),
            AsDiscreted(keys=["pred", "label"], argmax=[True, False], to_onehot=2),
        ]
    )

    # Metrics of the trainer and the evaluator, by log label.
    train_metrics = {
        # line 212 train.key_metric
        # ignite Accuracy on one-hot outputs: the accuracy over their entries, as ignite computes it (ConfusionMatrixMetric)
        "train_acc": ConfusionMatrixMetric(metric_name="accuracy"),
    }
    val_metrics = {
        # line 292 validate.key_metric
        "val_mean_dice": DiceMetric(reduction="mean", include_background=False),
        # line 301 validate.additional_metrics[0]
        # ignite Accuracy on one-hot outputs: the accuracy over their entries, as ignite computes it (ConfusionMatrixMetric)
        "val_acc": ConfusionMatrixMetric(metric_name="accuracy"),
    }

    # line 184 train.handlers[3], line 192 train.handlers[4],
    # line 268 validate.handlers[0], line 273 validate.handlers[1]
    writer = SummaryWriter(log_dir=args.mmar_ckpt_dir)

    # line 217 train.trainer: the training loop.
    # Automatic mixed precision ("amp") runs on CUDA only.
    train_amp = device.type == "cuda"
    val_amp = device.type == "cuda"
    scaler = torch.amp.GradScaler(device.type, enabled=train_amp)
    # The epochs' values, the best key metric, resume.pt and progress.jsonl (RunRecord).
    run = RunRecord(
        args.mmar_ckpt_dir,
        args.epochs,
        {
            "model": model,
            "optimizer": optimizer,
            "lr_scheduler": lr_scheduler,
            "scaler": scaler,
        },
    )
    run.start(args.resume, device)

    # SIGTERM or Ctrl-C: stop after the current iteration (see StopOnSignal).
    stop = StopOnSignal(train_loader, val_loader)
    interrupted = False
    for epoch in range(run.start_epoch, args.epochs + 1):
        # a signal that came while the last epoch validated or saved its checkpoints
        interrupted = stop.requested()
        if interrupted:
            break
        model.train()
        epoch_loss, steps = 0.0, 0
        for batch in train_loader:
            steps += 1
            inputs, labels = batch["image"].to(device), batch["label"].to(device)
            optimizer.zero_grad(set_to_none=True)
            with torch.autocast(device.type, enabled=train_amp):
                preds = model(inputs)  # line 159 train.inferer: SimpleInferer
                loss = loss_function(preds, labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            loss_value = loss.item()
            epoch_loss += loss_value
            run.iteration_losses.append(loss_value)
            log.info(
                f"Epoch {epoch}/{args.epochs}, iteration {steps}/{len(train_loader)}: "
                f"train_loss {loss_value:.4f}"
            )
            writer.add_scalar("train_loss", loss_value, len(run.iteration_losses))
            outputs = decollate_batch({"pred": preds.detach(), "label": labels})
            items = [train_post_transforms(i) for i in outputs]
            y_pred, y = [i["pred"] for i in items], [i["label"] for i in items]
            train_metrics["train_acc"](y_pred=y_pred, y=y)
            interrupted = stop.requested()
            if interrupted:
                break
        if interrupted:
            break  # an unfinished epoch: not recorded, --resume trains it again
        record = {"epoch": epoch, "loss": epoch_loss / max(steps, 1)}
        record.update({label: metric_value(m) for label, m in train_metrics.items()})

        # line 161 train.handlers[0] LrScheduleHandler
        lr_scheduler.step()
        log.info(f"Current learning rate: {lr_scheduler.get_last_lr()[0]}")

        # line 165 train.handlers[1] ValidationHandler
        if epoch % args.val_interval == 0:
            record |= validate(
                model,
                val_loader,
                val_inferer,
                val_post_transforms,
                val_metrics,
                device,
                val_amp,
            )
        improved = run.add_epoch(record)

        # line 169 train.handlers[2] CheckpointSaver
        if epoch % 400 == 0:
            save_checkpoint(
                os.path.join(args.mmar_ckpt_dir, f"checkpoint_epoch={epoch}.pt"),
                {
                    "model": model,
                    "optimizer": optimizer,
                    "lr_scheduler": lr_scheduler,
                    "train_conf": TRAIN_CONF,
                },
            )

        # line 278 validate.handlers[2] CheckpointSaver
        if improved:
            save_checkpoint(
                os.path.join(args.mmar_ckpt_dir, "model.pt"),
                {"model": model, "train_conf": TRAIN_CONF},
            )
        run.save(optimizer.param_groups[0]["lr"])  # resume.pt and progress.jsonl
        log.info(
            f"Epoch {epoch}/{args.epochs}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in record.items() if k != "epoch")
        )
        for name, value in record.items():
            if name != "epoch":
                writer.add_scalar(name, value, epoch)

    # line 169 train.handlers[2] CheckpointSaver (final), also when interrupted
    save_checkpoint(
        os.path.join(args.mmar_ckpt_dir, "model_final.pt"),
        {
            "model": model,
            "optimizer": optimizer,
            "lr_scheduler": lr_scheduler,
            "train_conf": TRAIN_CONF,
        },
    )
    writer.close()
    result = run.result(interrupted)
    if interrupted:
        again = sys.argv if args.resume else [*sys.argv, "--resume"]
        log.warning(
            f"Interrupted by {signal.Signals(stop.signum).name} after {len(run.history)} of "
            f"{args.epochs} epochs. Go on with: python {shlex.join(again)}"
        )
        sys.exit(128 + stop.signum)
    return result


def validate(model, loader, inferer, postprocessing, metrics, device, amp):
    """Run the evaluator once; return {metric label: value}.

    line 307 validate.evaluator
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
    return {label: metric_value(metric) for label, metric in metrics.items()}


# -- The run's plumbing: options, files, signals and checkpoints; nothing of the
# config is decided below this line.


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
        "--mmar-ckpt-dir",
        default=None,
        help="MMAR_CKPT_DIR (default: models, relative to the MMAR root)",
    )
    parser.add_argument(
        "--crop-size",
        default=CROP_SIZE,
        type=int,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="random crop size (default: %(default)s)",
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
        "--val-interval",
        default=VAL_INTERVAL,
        type=int,
        help="validate every N epochs (default: %(default)s)",
    )
    parser.add_argument(
        "--epochs",
        default=EPOCHS,
        type=int,
        help="epochs to train (default: %(default)s)",
    )
    parser.add_argument(
        "--device",
        default=None,
        help="cuda or cpu (default: cuda when there is a GPU, else cpu)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="go on from resume.pt in --mmar-ckpt-dir, where an interrupted run stopped",
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
    if args.mmar_ckpt_dir is None:
        args.mmar_ckpt_dir = os.path.join(args.mmar_root, MMAR_CKPT_DIR)
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


def append_line(path, text):
    """Append a line to the regular file `path` (made when missing), never through a link."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK
    with os.fdopen(os.open(path, flags, 0o644), "ab") as f:
        if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
            raise OSError(f"{path} is no regular file")
        f.write(text.encode("utf-8") + b"\n")


def own_file(path):
    """Whether `path` is a regular file, not a link (nor a FIFO or a folder)."""
    return os.path.lexists(path) and stat.S_ISREG(os.lstat(path).st_mode)


def append_progress(path, epoch, epochs, epoch_s, lr, metrics):
    """One line of progress.jsonl per finished epoch, flushed at once, for whoever follows
    the run while it trains (`claragen automl` reads it to track and prune its jobs): the
    epoch of how many, the wall time, the epoch's seconds (validation and checkpoints
    included), the learning rate, the key metric's name and every metric. A fresh run
    starts the file again; --resume goes on with it."""
    record = {
        "epoch": epoch,
        "epochs": epochs,
        "time": time.time(),
        "epoch_s": round(epoch_s, 3),
        "lr": lr,
        "key_metric": KEY_METRIC,
    }
    append_line(path, json.dumps({**record, "metrics": metrics}))


class StopOnSignal:
    """SIGTERM or Ctrl-C (SIGINT) only sets `signum`: the training loop reads it after
    each iteration and stops there, saves its checkpoints, writes result.json and exits
    with 128 + signum (143 for SIGTERM, 130 for Ctrl-C). A second signal ends the script
    at once; the files it writes atomically stay whole. The workers of the `loaders` leave
    both signals to the loop (quiet_worker) and end with the script (end_workers)."""

    def __init__(self, *loaders):
        self.signum = None
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, self.handle)
        for loader in loaders:
            loader.worker_init_fn = functools.partial(
                quiet_worker, loader.worker_init_fn
            )
        # (registered after multiprocessing's exit function, it runs before it)
        if loaders:
            atexit.register(end_workers)

    def handle(self, signum, frame):
        self.signum = signum
        for other in (signal.SIGINT, signal.SIGTERM):
            signal.signal(other, signal.SIG_DFL)  # the next one ends the script

    def requested(self):
        return self.signum is not None


def quiet_worker(init_fn, worker_id):
    """A DataLoader worker's init (with the loader's own, `init_fn`, after it): the worker
    ignores SIGTERM and Ctrl-C, which the training loop handles. Sent to a whole process
    group (torchrun, Slurm, systemd do), they would end the workers mid-epoch; the loop
    stops them itself once it has stopped."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if init_fn is not None:
        init_fn(worker_id)


def end_workers():
    """At exit, end the DataLoader workers still running. They ignore SIGTERM, with which
    Python's multiprocessing ends them; after an error in the loop no loader has shut them
    down, and the exit would wait for them forever."""
    if hasattr(signal, "SIGCHLD"):  # not the loader's "worker killed" error
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for child in multiprocessing.active_children():
        child.kill()


class RunRecord:
    """What the training loop keeps of the run beside the model: each epoch's values, the
    best value of the key metric and its epoch, every iteration's loss. After each epoch
    it saves resume.pt, all that --resume needs to go on where a stopped run left off
    (the config's CheckpointSavers keep what the config asks for, and none holds the
    scaler, the best value or the history), then appends the epoch to progress.jsonl: an
    epoch listed there is one --resume does not redo. The random augmentations after a
    resume are not those the stopped run would have drawn."""

    def __init__(self, folder, epochs, objects):
        self.resume_path = os.path.join(folder, "resume.pt")
        self.progress_path = os.path.join(folder, "progress.jsonl")
        self.result_path = os.path.join(folder, "result.json")
        self.epochs, self.objects = epochs, objects
        self.history, self.iteration_losses = [], []
        self.best_value, self.best_epoch = None, None
        self.start_epoch = 1
        self.start_time = self.saved_at = time.time()

    def start(self, resume, device):
        """Before the first epoch: with --resume (`resume`), load resume.pt if there is
        one; a fresh run starts progress.jsonl again."""
        if resume and own_file(self.resume_path):
            state = torch.load(self.resume_path, map_location=device, weights_only=True)
            for name, obj in self.objects.items():
                obj.load_state_dict(state[name])
            self.start_epoch = state["epoch"] + 1
            self.best_value, self.best_epoch = state["best_value"], state["best_epoch"]
            self.history = state["history"]
            self.iteration_losses = state["iteration_losses"]
            self.start_time -= state["wall_time_s"]
            log.info(
                f"Resuming from {self.resume_path}: {state['epoch']} of {self.epochs} "
                "epochs done"
            )
        elif resume:
            log.info(f"No {self.resume_path} to resume from: training from the start")
        if self.start_epoch == 1:
            remove_file(self.progress_path)
        self.saved_at = time.time()

    def add_epoch(self, record):
        """Keep an epoch's values; return whether its key metric is the best so far."""
        self.history.append(record)
        value = record.get(KEY_METRIC)
        improved = value is not None and (
            self.best_value is None or value > self.best_value
        )
        if improved:
            self.best_value, self.best_epoch = record[KEY_METRIC], record["epoch"]
        return improved

    def save(self, lr):
        """After the epoch's other checkpoints: resume.pt, then its progress.jsonl line."""
        record = self.history[-1]
        save_checkpoint(
            self.resume_path,
            {
                **self.objects,
                "epoch": record["epoch"],
                "best_value": self.best_value,
                "best_epoch": self.best_epoch,
                "history": self.history,
                "iteration_losses": self.iteration_losses,
                "wall_time_s": time.time() - self.start_time,
            },
        )
        epoch_s, self.saved_at = time.time() - self.saved_at, time.time()
        metrics = {k: v for k, v in record.items() if k != "epoch"}
        append_progress(
            self.progress_path, record["epoch"], self.epochs, epoch_s, lr, metrics
        )

    def result(self, interrupted):
        """result.json: the key metric, its best value and epoch, each epoch's values,
        the iteration losses and the wall time; also returned."""
        result = {
            "key_metric": KEY_METRIC,
            "direction": "maximize",  # which way the key metric is better
            "best_value": self.best_value,
            "best_epoch": self.best_epoch,
            "values": [r.get(KEY_METRIC) for r in self.history],
            "epochs": self.history,
            "iteration_losses": self.iteration_losses,
            "interrupted": interrupted,
            "wall_time_s": time.time() - self.start_time,
        }
        write_json(self.result_path, result)
        log.info(f"{KEY_METRIC}: best {self.best_value} at epoch {self.best_epoch}")
        return result


def save_checkpoint(path, objects):
    """Save each object's state_dict() (or the object itself) under its name, atomically:
    a run killed while saving keeps the checkpoint it had. One object alone is saved as
    its state_dict itself, as MONAI's CheckpointSaver (ignite's Checkpoint) saves it."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    state = {
        k: v.state_dict() if hasattr(v, "state_dict") else v for k, v in objects.items()
    }
    if len(state) == 1:
        (state,) = state.values()
    replace_atomically(path, lambda f: torch.save(state, f))


if __name__ == "__main__":
    main()
