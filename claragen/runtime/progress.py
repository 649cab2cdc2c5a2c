"""Following a running job: the lines its script appends to `models/progress.jsonl`.

    {"epoch": 3, "epochs": 20, "time": 1764680000.5, "epoch_s": 4.2, "lr": 0.0001,
     "key_metric": "val_mean_dice", "metrics": {"val_mean_dice": 0.41, ...}}

The engine polls each running job's file about once a second: the live table shows the
epoch, the key metric and an ETA from these lines, MLflow gets each epoch as it ends, and
the pruner decides on them. The file is read as untrusted input: only complete lines, only
records of the shape above (others are skipped), never through a link. A file that shrinks
or is replaced (a fresh run of the script starts it again) is read again from its start.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claragen.gates import safe_io

MAX_LINE = 1 << 20  # a line longer than this is not one of ours: skipped
MAX_READ = 1 << 22  # read at most this much per poll


@dataclass(frozen=True)
class Epoch:
    epoch: int
    epochs: int | None
    time: float
    epoch_s: float
    lr: float | None
    key_metric: str
    metrics: dict[str, float]

    @property
    def value(self) -> float | None:
        """The key metric of this epoch (None: it did not validate this epoch)."""
        return self.metrics.get(self.key_metric)


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def parse(line: bytes) -> Epoch | None:
    """One line -> an Epoch, or None when it is not a well-formed record."""
    try:
        data = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    epoch, epochs, metrics = data.get("epoch"), data.get("epochs"), data.get("metrics")
    if not (isinstance(epoch, int) and not isinstance(epoch, bool) and epoch >= 1):
        return None
    if not (epochs is None or (isinstance(epochs, int) and epochs >= 1)):
        return None
    if not _number(data.get("time")) or not _number(data.get("epoch_s")):
        return None
    if not isinstance(metrics, dict):
        return None
    lr = data.get("lr")
    return Epoch(
        epoch,
        epochs,
        float(data["time"]),
        float(data["epoch_s"]),
        float(lr) if _number(lr) else None,
        str(data.get("key_metric") or ""),
        {str(k): float(v) for k, v in metrics.items() if _number(v)},
    )


class Follower:
    """The epochs of one progress.jsonl so far; `poll()` returns the ones new since the
    last poll (after a restart of the file: all of it again, with `restarted` set)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.inode: int | None = None
        self.partial = b""
        self.epochs: list[Epoch] = []
        self.restarted = False

    def poll(self) -> list[Epoch]:
        self.restarted = False
        try:
            fd = safe_io.open_regular(self.path)
        except OSError:  # not written yet (or a link, a FIFO: not ours)
            return []
        try:
            info = os.fstat(fd)
            if self.inode not in (None, info.st_ino) or info.st_size < self.offset:
                self._reset()
                self.restarted = True
            self.inode = info.st_ino
            os.lseek(fd, self.offset, os.SEEK_SET)
            data = os.read(fd, MAX_READ)
        finally:
            os.close(fd)
        self.offset += len(data)
        *lines, self.partial = (self.partial + data).split(b"\n")
        if len(self.partial) > MAX_LINE:
            self.partial = b""
        new = [e for e in map(parse, lines) if e is not None]
        # --resume of a script goes on after its last saved epoch: an epoch seen again
        # replaces the one before it
        for epoch in new:
            self.epochs = [e for e in self.epochs if e.epoch < epoch.epoch]
            self.epochs.append(epoch)
        return new

    def _reset(self) -> None:
        self.offset = 0
        self.partial = b""
        self.epochs = []

    @property
    def last(self) -> Epoch | None:
        return self.epochs[-1] if self.epochs else None

    def latest_value(self) -> tuple[str, float] | None:
        """The key metric's name and its latest value."""
        for epoch in reversed(self.epochs):
            if epoch.value is not None:
                return epoch.key_metric, epoch.value
        return None

    def eta(self) -> float | None:
        """Seconds left: the mean epoch time so far times the epochs still to run."""
        last = self.last
        if last is None or last.epochs is None:
            return None
        mean = sum(e.epoch_s for e in self.epochs) / len(self.epochs)
        return max(last.epochs - last.epoch, 0) * mean
