"""The search's append-only journal: one JSON object per line, each fsync'd.

    {"event": "search", "run_id": ..., "controller": ..., "seed": ...}   first line
    {"event": "recommend", "job": "J3", "rec_id": 3, "values": {...}}
    {"event": "start", "job": "J3", "name": "W1_2_J3", "worker": 1}
    {"event": "end", "job": "J3", "status": "ok", "score": 0.71, ...}
    {"event": "tracked", "job": "J3", "mlflow_run": "..."}
    {"event": "stop", "reason": ...} / {"event": "done"}

A line is written before the state it records is acted on, so after a crash (even
SIGKILL) the journal tells which jobs ended (kept), which started but did not end (run
again) and which were recommended but not started. A torn last line is ignored.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, event: str, **data: Any) -> None:
        record = {"event": event, "time": round(time.time(), 3), **data}
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        records = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError:  # torn by a kill mid-write: the last line only
                break
        return records


@dataclass
class JournalState:
    """What a journal says about a search."""

    header: dict[str, Any] | None = None
    recommended: list[dict[str, Any]] = field(default_factory=list)  # in order
    started: dict[str, dict[str, Any]] = field(
        default_factory=dict
    )  # job -> last start
    ended: dict[str, dict[str, Any]] = field(default_factory=dict)  # job -> end
    end_order: list[str] = field(default_factory=list)
    tracked: dict[str, str] = field(default_factory=dict)  # job -> MLflow run id
    parent_run: str | None = None
    done: bool = False

    @classmethod
    def of(cls, records: list[dict[str, Any]]) -> JournalState:
        state = cls()
        for r in records:
            kind = r["event"]
            if kind == "search":
                state.header = r
            elif kind == "recommend":
                state.recommended.append(r)
            elif kind == "start":
                state.started[r["job"]] = r
            elif kind == "end" and r["job"] not in state.ended:
                state.ended[r["job"]] = r
                state.end_order.append(r["job"])
            elif kind == "tracked":
                state.tracked[r["job"]] = r["mlflow_run"]
            elif kind == "parent":
                state.parent_run = r["mlflow_run"]
            elif kind == "done":
                state.done = True
        return state
