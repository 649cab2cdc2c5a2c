"""multi_gpu: a generated script under `torchrun --nproc_per_node=2` (gloo, CPU) trains
like one process on the same global batch, and only rank 0 logs and writes files.

Two ranks with a batch of 1 each see, at each step, the two cases that one process with
a batch of 2 sees (the data are shared out item by item, nothing shuffles, no transform
is random, and instance norm keeps each case's statistics its own). DDP averages the
gradients of the ranks, which equals the gradient of the batch mean: the losses of each
iteration and the validation Dice must agree.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from claragen.runtime.executor import JobSpec, LocalExecutor
from claragen.runtime.workers import Worker
from claragen.transpiler.pipeline import compile_files
from tests import scriptrunner
from tests.conftest import ENV, REPO, compilation, minimal, synthetic_data

pytestmark = pytest.mark.e2e
ROI = [32, 32, 32]
TOL = 1e-5


def config(dataset: str, batch_size: int) -> dict:
    """A 4.1 config in the form of Clara's examples, with multi_gpu and rank-0 handlers."""
    load = [
        {"name": "LoadImaged", "args": {"keys": ["image", "label"]}},
        {"name": "EnsureChannelFirstd", "args": {"keys": ["image", "label"]}},
        {"name": "ScaleIntensityRanged", "args": {"keys": "image", "a_min": -57,
         "a_max": 164, "b_min": 0.0, "b_max": 1.0, "clip": True}},
        {"name": "ToTensord", "args": {"keys": ["image", "label"]}},
    ]  # fmt: skip
    cache = {"cache_rate": 1.0, "num_workers": 0} if dataset == "CacheDataset" else {}

    def data(key: str) -> dict:
        return {"name": dataset, "data_list_file_path": "{DATASET_JSON}",
                "data_file_base_dir": "{DATA_ROOT}", "data_list_key": key,
                "args": {"transform": "@pre_transforms", **cache}}  # fmt: skip

    post = [
        {"name": "Activationsd", "args": {"keys": "pred", "softmax": True}},
        {"name": "AsDiscreted", "args": {"keys": ["pred", "label"],
         "argmax": [True, False], "to_onehot": 2}},
    ]  # fmt: skip
    return {
        "epochs": 2, "multi_gpu": True, "amp": False, "learning_rate": 1e-3,
        "determinism": {"random_seed": 0},
        "train": {
            "loss": {"name": "DiceLoss", "args": {"to_onehot_y": True, "softmax": True}},
            "optimizer": {"name": "Adam", "args": {"params": "#@model.parameters()",
                                                   "lr": "{learning_rate}"}},
            "model": {"name": "UNet", "args": {"spatial_dims": 3, "in_channels": 1,
                      "out_channels": 2, "channels": [8, 16, 32], "strides": [2, 2],
                      "num_res_units": 1, "norm": "instance"}},
            "pre_transforms": load,
            "dataset": data("training"),
            "dataloader": {"name": "DataLoader", "args": {"dataset": "@dataset",
                           "batch_size": batch_size, "shuffle": False, "num_workers": 0}},
            "inferer": {"name": "SimpleInferer"},
            "handlers": [
                {"name": "ValidationHandler", "args": {"validator": "@evaluator",
                 "epoch_level": True, "interval": 1}},
                {"name": "CheckpointSaver", "rank": 0, "args": {"save_dir": "{MMAR_CKPT_DIR}",
                 "save_dict": {"model": "@model"}, "save_final": True}},
                {"name": "StatsHandler", "rank": 0, "args": {"tag_name": "train_loss",
                 "output_transform": "#monai.handlers.from_engine(['loss'], first=True)"}},
                {"name": "TensorBoardStatsHandler", "rank": 0, "args": {
                 "log_dir": "{MMAR_CKPT_DIR}", "tag_name": "train_loss",
                 "output_transform": "#monai.handlers.from_engine(['loss'], first=True)"}},
            ],
            "trainer": {"name": "SupervisedTrainer", "args": {
                "max_epochs": "{epochs}", "train_data_loader": "@dataloader",
                "network": "@model", "loss_function": "@loss", "optimizer": "@optimizer",
                "inferer": "@inferer", "train_handlers": "@handlers", "amp": "{amp}"}},
        },
        "validate": {
            "pre_transforms": load,
            "dataset": data("validation"),
            "dataloader": {"name": "DataLoader", "args": {"dataset": "@dataset",
                           "batch_size": 1, "shuffle": False, "num_workers": 0}},
            "inferer": {"name": "SlidingWindowInferer", "args": {"roi_size": ROI,
                        "sw_batch_size": 1, "overlap": 0.25}},
            "post_transforms": post,
            "key_metric": {"name": "MeanDice", "log_label": "val_mean_dice",
                           "args": {"include_background": False,
                           "output_transform": "#monai.handlers.from_engine(['pred', 'label'])"}},
            "handlers": [
                {"name": "StatsHandler", "rank": 0, "args": {"output_transform": "lambda x: None"}},
                {"name": "CheckpointSaver", "rank": 0, "args": {"save_dir": "{MMAR_CKPT_DIR}",
                 "save_dict": {"model": "@model"}, "save_key_metric": True}},
            ],
            "evaluator": {"name": "SupervisedEvaluator", "args": {
                "val_data_loader": "@dataloader", "network": "@model", "inferer": "@inferer",
                "postprocessing": "@post_transforms", "key_val_metric": "@key_metric",
                "val_handlers": "@handlers", "amp": "{amp}"}},
        },
    }  # fmt: skip


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return synthetic_data(tmp_path_factory.mktemp("data"), 7, 3, (32, 32, 32))


def compile_config(
    tmp: Path, dataset: str, batch_size: int, fast: bool = False
) -> Path:
    """train.py of the config (with `fast`, train_fast.py of --optimize)."""
    mmar = tmp / f"mmar_b{batch_size}{'_fast' if fast else ''}"
    (mmar / "config").mkdir(parents=True)
    text = json.dumps(config(dataset, batch_size), indent=2)
    (mmar / "config" / "config_train.json").write_text(text)
    env = {"DATA_ROOT": "data", "DATASET_JSON": "config/dataset.json",
           "MMAR_CKPT_DIR": "models"}  # fmt: skip
    (mmar / "config" / "environment.json").write_text(json.dumps(env))
    subprocess.run(
        [sys.executable, "-m", "claragen", "compile", "-m", str(mmar), "-o",
         str(mmar / "out"), *(["--optimize"] if fast else [])],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    return mmar / "out" / "J0001" / ("train_fast.py" if fast else "train.py")


def options(data: Path, ckpt: Path) -> list[str]:
    return ["--device", "cpu", "--data-root", str(data), "--dataset-json",
            str(data / "dataset.json"), "--mmar-ckpt-dir", str(ckpt),
            "--roi-size", *map(str, ROI)]  # fmt: skip


@pytest.mark.parametrize(
    "dataset, fast",
    [("CacheDataset", False), ("Dataset", False),
     ("CacheDataset", True)],  # train_fast.py (--optimize) under torchrun, like train.py
)  # fmt: skip
def test_two_ranks_train_like_one_process_and_only_rank_0_writes(
    tmp_path, data, dataset, fast
):
    single_script = compile_config(tmp_path, dataset, batch_size=2)
    ddp_script = compile_config(tmp_path, dataset, batch_size=1, fast=fast)
    if fast:
        assert "--optimize device-cache" in ddp_script.read_text()
    text = ddp_script.read_text()
    assert "torchrun --nproc_per_node=N train.py" in text  # the header says how
    sharding = (
        "partition_dataset(" if dataset == "CacheDataset" else "DistributedSampler("
    )
    assert sharding in text and "DistributedDataParallel(" in text

    single = tmp_path / "single"
    proc = scriptrunner.run(
        [sys.executable, str(single_script), *options(data, single)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]

    ddp, probe = tmp_path / "ddp", tmp_path / "probe"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         "--standalone", str(REPO / "tests" / "ddp" / "probe.py"), str(probe),
         str(ddp_script), *options(data, ddp)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        output = proc.communicate(timeout=300)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # torchrun and both ranks
        output = proc.communicate()[0]
    logs = {r: (probe / f"rank{r}.log").read_text() for r in (0, 1)}
    assert proc.returncode == 0, output[-3000:] + logs[0][-2000:] + logs[1][-2000:]

    one = json.loads((single / "result.json").read_text())
    two = json.loads((ddp / "result.json").read_text())
    assert len(two["iteration_losses"]) == len(one["iteration_losses"]) == 4
    for i, (a, b) in enumerate(
        zip(one["iteration_losses"], two["iteration_losses"], strict=True)
    ):
        assert abs(a - b) < TOL, f"iteration {i + 1}: one process {a}, two ranks {b}"
    assert one["key_metric"] == two["key_metric"] == "val_mean_dice"
    for a, b in zip(one["values"], two["values"], strict=True):
        assert abs(a - b) < TOL, (one["values"], two["values"])

    # Rank 0 logs and writes; rank 1 neither logs nor writes anything of the run.
    writes = {r: json.loads((probe / f"rank{r}.json").read_text()) for r in (0, 1)}
    # (each file is written to NAME.tmp, then renamed: see the script's save_checkpoint)
    saved = [Path(p).name for p in writes[0]["torch.save"]]
    assert "model_final.pt.tmp" in saved and "model.pt.tmp" in saved  # final, best
    assert "resume.pt.tmp" in saved
    assert writes[0]["SummaryWriter"]
    assert str(ddp / "result.json.tmp") in writes[0]["open"]
    assert "Epoch 2/2" in logs[0] and "val_mean_dice" in logs[0]
    assert writes[1]["torch.save"] == writes[1]["SummaryWriter"] == []
    assert not [p for p in writes[1]["open"] if str(ddp) in p], writes[1]["open"]
    assert "Epoch" not in logs[1]
    assert len(list(ddp.glob("events.out.tfevents.*"))) == 1


def test_multi_gpu_warns_where_it_is_not_lowered(tmp_path):
    """The plain target lowers multi_gpu; engines says (W104) that it runs on one
    device."""
    config = minimal()
    config["multi_gpu"] = True
    for target, expected in (("plain", []), ("engines", ["W104"])):
        comp = compilation(tmp_path / target, config, ENV, target=target)
        compile_files(comp, tmp_path / target / "out")
        assert [d.code for d in comp.diags.warnings] == expected
    # a dataset written inside the loader is the section's dataset (it was built
    # without its data, which the binding check of issue 29 found): sharded like one
    config["train"]["dataloader"]["args"]["dataset"] = config["train"].pop("dataset")
    comp = compilation(tmp_path / "inline", config, ENV)
    files, _ = compile_files(comp, tmp_path / "out")
    assert not [d for d in comp.diags.warnings if d.code == "W104"]
    text = files["J0001/train.py"]
    assert "train_dataset = Dataset(\n        data=load_decathlon_datalist(" in text
    assert "sampler=DistributedSampler(\n            train_dataset" in text


def test_a_multi_gpu_job_on_a_worker_of_two_gpus_runs_under_torchrun(tmp_path, data):
    """`claragen automl` gives a multi_gpu job on a worker of N GPUs N processes, as
    Clara did: here a worker of GPUs 0,1 on a machine without CUDA, so gloo on the CPU.
    """
    script = compile_config(tmp_path, "CacheDataset", batch_size=1)
    comp = compilation(tmp_path / "c", config("CacheDataset", 1), ENV)
    compile_files(comp, tmp_path / "c" / "out")
    assert comp.distributed == {"J0001/train.py"}

    folder = script.parent
    args = (
        "--data-root",
        str(data),
        "--dataset-json",
        str(data / "dataset.json"),
        "--roi-size",
        *map(str, ROI),
    )  # no --device: cuda, which is the CPU here
    spec = JobSpec("J1", "W1_1_J1", folder, script, Worker(1, ("0", "1")), args,
                   processes=len(("0", "1")))  # fmt: skip
    assert LocalExecutor().command(spec)[1:4] == ["-m", "torch.distributed.run",
                                                  "--standalone"]  # fmt: skip
    result = LocalExecutor().execute(spec)
    log = (folder / "log.txt").read_text()
    assert result.status == "ok", result.reason + log[-3000:]
    assert 0 <= result.score <= 1
    assert log.count("Epoch 2/2:") == 1  # rank 0 logs, rank 1 does not
