"""Train job J0001 of config_train.json, compiled by claragen 0.1.0.

Dialect: Clara 4.1. Target: MONAI engines (SupervisedTrainer / SupervisedEvaluator, MONAI 1.6.1).

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

It writes its checkpoints and logs where the config's handlers say, and
result.json (the key metric per epoch, its best value) into --mmar-ckpt-dir.
"""

import argparse
import atexit
import functools
import json
import logging
import multiprocessing
import os
import signal
import stat
import sys
import time

import monai
import torch
from ignite.engine import Events
from ignite.metrics import Accuracy
from monai.data import CacheDataset, DataLoader, load_decathlon_datalist
from monai.engines import SupervisedEvaluator, SupervisedTrainer
from monai.handlers import (
    CheckpointSaver,
    LrScheduleHandler,
    MeanDice,
    StatsHandler,
    TensorBoardStatsHandler,
    ValidationHandler,
    from_engine,
)
from monai.inferers import SimpleInferer, SlidingWindowInferer
from monai.losses import FocalLoss
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
KEY_METRIC = "val_mean_dice"  # the evaluator's key metric: the score of this job
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


class TrainConf:
    """TRAIN_CONF as ignite's Checkpoint saves an object: by its state_dict, so that
    every checkpoint holds {"model": ..., "train_conf": ...} as the plain target's do.
    """

    def state_dict(self):
        return dict(TRAIN_CONF)

    def load_state_dict(self, state):
        TRAIN_CONF.update(state)


def main(argv=None):
    args = parse_args(argv)
    TRAIN_CONF.update({"epochs": args.epochs})  # the config's values these options set
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    device = select_device(args.device)
    own_folder(args.mmar_ckpt_dir)
    set_determinism(seed=SEED)
    torch.backends.cudnn.benchmark = False
    start_time = time.time()

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

    # line 159 train.inferer
    train_inferer = SimpleInferer()

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

    # line 212 train.key_metric
    # metrics by log label
    train_key_metric = {
        "train_acc": Accuracy(
            output_transform=monai.handlers.from_engine(["pred", "label"])
        )
    }

    # line 301 validate.additional_metrics
    # metrics by log label
    val_additional_metrics = {
        "val_acc": Accuracy(
            output_transform=monai.handlers.from_engine(["pred", "label"])
        )
    }

    # line 268 validate.handlers
    val_handlers = [
        # line 268 validate.handlers[0]
        StatsHandler(output_transform=lambda x: None),
        # line 273 validate.handlers[1]
        TensorBoardStatsHandler(
            log_dir=args.mmar_ckpt_dir, output_transform=lambda x: None
        ),
        # line 278 validate.handlers[2]
        # key_metric_filename='model.pt': Clara's checkpoint names
        CheckpointSaver(
            save_dir=args.mmar_ckpt_dir,
            save_dict={"model": model, "train_conf": TrainConf()},
            save_key_metric=True,
            key_metric_filename="model.pt",
        ),
    ]

    # line 292 validate.key_metric
    # metrics by log label
    val_key_metric = {
        "val_mean_dice": MeanDice(
            include_background=False,
            output_transform=monai.handlers.from_engine(["pred", "label"]),
        )
    }

    # line 307 validate.evaluator
    # "device": "cuda" -> the script's device
    evaluator = SupervisedEvaluator(
        device=device,
        val_data_loader=val_loader,
        network=model,
        inferer=val_inferer,
        postprocessing=val_post_transforms,
        key_val_metric=val_key_metric,
        additional_metrics=val_additional_metrics,
        val_handlers=val_handlers,
        amp=device.type == "cuda",
    )

    # line 161 train.handlers
    train_handlers = [
        # line 161 train.handlers[0]
        LrScheduleHandler(lr_scheduler=lr_scheduler, print_lr=True),
        # line 165 train.handlers[1]
        ValidationHandler(
            validator=evaluator, interval=args.val_interval, epoch_level=True
        ),
        # line 169 train.handlers[2]
        # final_filename='model_final.pt': Clara's checkpoint names
        CheckpointSaver(
            save_dir=args.mmar_ckpt_dir,
            save_dict={
                "model": model,
                "optimizer": optimizer,
                "lr_scheduler": lr_scheduler,
                "train_conf": TrainConf(),
            },
            save_final=True,
            save_interval=400,
            final_filename="model_final.pt",
        ),
        # line 184 train.handlers[3]
        StatsHandler(
            tag_name="train_loss",
            output_transform=monai.handlers.from_engine(["loss"], first=True),
        ),
        # line 192 train.handlers[4]
        TensorBoardStatsHandler(
            log_dir=args.mmar_ckpt_dir,
            tag_name="train_loss",
            output_transform=monai.handlers.from_engine(["loss"], first=True),
        ),
    ]

    # line 217 train.trainer
    # "device": "cuda" -> the script's device
    trainer = SupervisedTrainer(
        max_epochs=args.epochs,
        device=device,
        train_data_loader=train_loader,
        network=model,
        loss_function=loss_function,
        optimizer=optimizer,
        inferer=train_inferer,
        postprocessing=train_post_transforms,
        key_train_metric=train_key_metric,
        train_handlers=train_handlers,
        amp=device.type == "cuda",
    )

    # The score of each epoch, for result.json: the mean training loss, and the metrics
    # of the engines that ran in that epoch.
    history, losses, iteration_losses = [], [], []

    @trainer.on(Events.ITERATION_COMPLETED)
    def record_loss(engine):
        losses.append(float(from_engine(["loss"], first=True)(engine.state.output)))
        iteration_losses.append(losses[-1])

    # progress.jsonl: a line per epoch (see append_progress); each run starts it again.
    progress_path = os.path.join(args.mmar_ckpt_dir, "progress.jsonl")
    remove_file(progress_path)
    epoch_start = [time.time()]

    @trainer.on(Events.EPOCH_STARTED)
    def start_epoch(engine):
        epoch_start[0] = time.time()

    @trainer.on(Events.EPOCH_COMPLETED)
    def record_epoch(engine):
        record = {
            "epoch": engine.state.epoch,
            "loss": sum(losses) / max(len(losses), 1),
        }
        losses.clear()
        engines = [engine]
        if evaluator.state.epoch == engine.state.epoch:  # validated this epoch
            engines.append(evaluator)
        for ran in engines:
            for name, value in ran.state.metrics.items():
                if isinstance(value, (int, float)):
                    record[name] = float(value)
        history.append(record)
        lr = engine.optimizer.param_groups[0]["lr"]
        metrics = {k: v for k, v in record.items() if k != "epoch"}
        append_progress(
            progress_path,
            record["epoch"],
            args.epochs,
            time.time() - epoch_start[0],
            lr,
            metrics,
        )

    # SIGTERM or Ctrl-C: the trainer stops after the current iteration (see StopOnSignal).
    # ignite then fires COMPLETED: a CheckpointSaver with save_final still saves. This
    # target has no --resume: going on would need the engines' own state (ignite's epoch
    # and iteration, each CheckpointSaver's record of its best checkpoint) saved with the
    # model; the plain target (--target plain) resumes.
    stop = StopOnSignal(trainer.data_loader, evaluator.data_loader)

    @trainer.on(Events.ITERATION_COMPLETED)
    def stop_on_signal(engine):
        if stop.requested():
            engine.terminate()

    trainer.run()
    # (a signal while the last epoch validated or saved leaves all epochs done)
    interrupted = stop.requested() and len(history) < args.epochs

    scored = [r for r in history if KEY_METRIC in r]
    best = max(scored, key=lambda r: r[KEY_METRIC], default=None)
    result = {
        "key_metric": KEY_METRIC,
        "direction": "maximize",  # which way the key metric is better
        "best_value": best[KEY_METRIC] if best else None,
        "best_epoch": best["epoch"] if best else None,
        "values": [r.get(KEY_METRIC) for r in history],
        "epochs": history,
        "iteration_losses": iteration_losses,
        "interrupted": interrupted,
        "wall_time_s": time.time() - start_time,
    }
    write_json(os.path.join(args.mmar_ckpt_dir, "result.json"), result)
    log.info(
        f"{KEY_METRIC}: best {result['best_value']} at epoch {result['best_epoch']}"
    )
    if interrupted:
        log.warning(
            f"Interrupted by {signal.Signals(stop.signum).name} after {len(history)} of "
            f"{args.epochs} epochs (compile with --target plain to resume a run)"
        )
        sys.exit(128 + stop.signum)
    return result


# -- The run's plumbing: options, files and signals; nothing of the config is decided
# below this line.


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


if __name__ == "__main__":
    main()
