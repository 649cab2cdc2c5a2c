"""The search's append-only journal: one JSON object per line, each fsync'd.

    {"event": "search", "run_id": ..., "controller": ..., "seed": ...}   first line
    {"event": "recommend", "job": "J3", "rec_id": 3, "values": {...}}
    {"event": "start", "job": "J3", "name": "W1_2_J3", "worker": 1, "round": 2}
    {"event": "end", "job": "J3", "name": "W1_2_J3", "status": "ok", "score": 0.71, ...}
    {"event": "tracked", "job": "J3", "mlflow_run": "..."}
    {"event": "parent", "mlflow_run": "..."} / {"event": "interrupted"}
    {"event": "stop", "reason": ...} / {"event": "done", "status": ...}
    {"event": "reopen", "reason": ...}     a stopped search goes on (--resume --time-budget)
    {"event": "retrain", "job": "J3", "name": "R1_J3"}     --retrain-top: the best again
    {"event": "retrained", "job": "J3", "name": "R1_J3", "status": "ok", "score": 0.9, ...}
    {"event": "tracked", "job": "J3", "retrain": "R1_J3", "mlflow_run": "..."}  its MLflow run

A line is written before the state it records is acted on, so after a crash (even
SIGKILL) the journal tells which jobs ended (kept), which started but did not end (run
again) and which were recommended but not started.

A journal is read as untrusted input: each record must be an object with a known event
and that event's fields, of their types (a job folder's name is a plain `W1_2_J3`, checked
before it names a path). A torn tail (a last line without its newline, or lines that are
not JSON after the last record: a kill mid-write, bytes appended) is left out, and
`repair` cuts it off before anything is appended; anything else wrong is a JournalError
that names the file and line.
"""

from __future__ import annotations

import json
import math
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from claragen.gates import safe_io
from claragen.runtime.handlers import log
from claragen.runtime.rundir import SearchError, cannot_write

JOB = re.compile(r"J[1-9][0-9]{0,8}")  # "J3"
NAME = re.compile(r"W[0-9]{1,9}_[0-9]{1,9}_J[0-9]{1,9}")  # a job folder: "W1_2_J3"
RETRAIN = re.compile(
    r"R[1-9][0-9]{0,8}_J[1-9][0-9]{0,8}"
)  # a retrain's folder: "R1_J3"
MLFLOW_RUN = re.compile(r"[A-Za-z0-9_-]{1,64}")  # it goes into MLflow search filters


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    )


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 1e9


# Per event: field -> (check, what it must be); optional fields are checked when there.
_STR = (lambda v: isinstance(v, str), "a string")
_STR_OR_NONE = (lambda v: v is None or isinstance(v, str), "a string or null")
_JOB = (lambda v: isinstance(v, str) and JOB.fullmatch(v), "a job id such as J3")
_NAME = (lambda v: isinstance(v, str) and NAME.fullmatch(v), "a job folder W1_2_J3")
_RUN = (lambda v: isinstance(v, str) and MLFLOW_RUN.fullmatch(v), "an MLflow run id")
_RNAME = (
    lambda v: isinstance(v, str) and RETRAIN.fullmatch(v),
    "a retrain folder R1_J3",
)
_COUNT = (_count, "a whole number from 1")
_NUMBER = (_number, "a number")
_SCORE = (lambda v: v is None or _number(v), "a number or null")
_REC_ID = (
    lambda v: isinstance(v, str | int) and not isinstance(v, bool),
    "a number or a string",
)
_VALUES = (lambda v: isinstance(v, dict), "an object")
_EPOCHS = (
    lambda v: isinstance(v, list) and len(v) <= 100_000 and all(
        isinstance(p, list) and len(p) == 2 and _count(p[0]) and _number(p[1])
        for p in v),
    "a list of [epoch, value] pairs",
)  # fmt: skip
REQUIRED: dict[str, dict[str, tuple]] = {
    "search": {"run_id": _STR},
    "recommend": {"job": _JOB, "rec_id": _REC_ID, "values": _VALUES},
    "start": {"job": _JOB, "name": _NAME, "worker": _COUNT, "round": _COUNT},
    "end": {"job": _JOB, "name": _NAME, "status": _STR},
    "tracked": {"job": _JOB, "mlflow_run": _RUN},
    "parent": {"mlflow_run": _RUN},
    "interrupted": {},
    "stop": {},
    "done": {},
    "retrain": {"job": _JOB, "name": _RNAME},
    "retrained": {"job": _JOB, "name": _RNAME, "status": _STR},
    "retry": {"job": _JOB, "name": _NAME},  # a failed attempt, run again (--retries)
    "reopen": {},  # a search its time budget stopped goes on (--resume --time-budget)
}
OPTIONAL: dict[str, dict[str, tuple]] = {
    "tracked": {"retrain": _RNAME},
    "recommend": {"params": _VALUES},  # the values by name (runtime/params.py)
    "search": {
        "direction": (
            lambda v: v in ("maximize", "minimize"),
            "'maximize' or 'minimize'",
        )
    },  # fmt: skip
    "end": {"score": _SCORE, "reason": _STR, "elapsed": _NUMBER, "worker_label": _STR,
            "values": _EPOCHS},  # fmt: skip
    "stop": {"reason": _STR_OR_NONE, "by": _STR_OR_NONE},
    "done": {"status": _STR},
    "retrained": {"score": _SCORE, "reason": _STR, "elapsed": _NUMBER},
    "retry": {"reason": _STR},
    "reopen": {"reason": _STR},
}


class JournalError(SearchError):
    """A journal that cannot be read, or written (the message says where and why)."""


def check_record(record: Any, recommended: int) -> str | None:
    """What is wrong with `record` (None: nothing); `recommended`: how many recommend
    records came before it (they number the jobs J1, J2, ... in order)."""
    if not isinstance(record, dict):
        return "not a JSON object"
    event = record.get("event")
    if not isinstance(event, str) or event not in REQUIRED:
        return f"unknown event {str(event)[:40]!r}"
    if (recommended < 0) != (event == "search"):
        return "the first record must be the one search record"
    if "time" in record and not _number(record["time"]):
        return "'time' must be a number"
    for name, (check, what) in REQUIRED[event].items():
        if name not in record:
            return f"a {event} record without {name!r}"
        if not check(record[name]):
            return f"{event} {name!r} must be {what}"
    for name, (check, what) in OPTIONAL.get(event, {}).items():
        if name in record and not check(record[name]):
            return f"{event} {name!r} must be {what}"
    if event == "recommend" and record["job"] != f"J{recommended + 1}":
        return f"recommend {record['job']!r} out of order (J{recommended + 1} is next)"
    return None


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._broken: str | None = None  # a failed write left bytes it could not undo

    def write(self, event: str, **data: Any) -> None:
        """Append one record, whole and fsync'd; a failed write is undone (the file is cut
        back) and raises JournalError: `cannot write the journal PATH: why; what to do`.
        """
        record = {"event": event, "time": round(time.time(), 3), **data}
        line = json.dumps(record, sort_keys=True, default=str) + "\n"
        with self._lock:
            if self._broken is not None:
                raise JournalError(self._broken)
            try:
                fd = safe_io.open_append(self.path)
            except OSError as exc:
                raise self._error(exc) from None
            try:
                size = os.fstat(fd).st_size
                safe_io.write_all(fd, line.encode("utf-8"))
                os.fsync(fd)
            except OSError as exc:
                error = self._error(exc)
                try:  # no torn record left for the next write to follow
                    os.ftruncate(fd, size)
                except OSError:
                    self._broken = str(error)
                raise error from None
            finally:
                os.close(fd)

    def _error(self, exc: OSError) -> JournalError:
        return JournalError(str(cannot_write(self.path, exc, "the journal ")))

    def read(self) -> list[dict[str, Any]]:
        """The records, each checked; a torn tail is left out (the file is not changed)."""
        return self._scan()[0]

    def repair(self) -> list[dict[str, Any]]:
        """The records; a torn tail is cut off the file (with a warning), so that what is
        appended next follows the last complete record."""
        records, end, size = self._scan()
        if end < size:
            log.warning(
                "%s: %d bytes after the last complete record dropped (a torn last line)",
                self.path,
                size - end,
            )
            try:
                fd = safe_io.open_append(self.path)
                try:
                    safe_io.truncate(fd, end)
                finally:
                    os.close(fd)
            except OSError as exc:
                raise self._error(exc) from None
        return records

    def _scan(self) -> tuple[list[dict[str, Any]], int, int]:
        """(records, the offset after the last complete record, the file's size)."""
        try:
            data = safe_io.read_bytes(self.path, safe_io.LIMITS["journal"])
        except FileNotFoundError:
            return [], 0, 0
        except OSError as exc:
            raise JournalError(
                f"cannot read the journal {self.path}: {safe_io.reason(exc)}"
            ) from None
        records: list[dict[str, Any]] = []
        end, start, line_no = 0, 0, 0
        torn: int | None = None  # the line where the torn tail starts
        recommended = -1  # -1: before the search record
        while start < len(data):
            line_no += 1
            newline = data.find(b"\n", start)
            if newline < 0:  # no newline: a write cut short
                torn = line_no if torn is None else torn
                break
            raw, start = data[start:newline], newline + 1
            try:
                record = json.loads(raw.decode("utf-8"))
            except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
                torn = line_no if torn is None else torn
                continue
            if torn is not None:
                raise JournalError(
                    f"{self.path}:{torn}: not a JSON record, and records follow it (line "
                    f"{line_no}): the journal is damaged; restore it, or start the "
                    "search afresh with another --run-id"
                )
            problem = check_record(record, recommended)
            if problem is not None:
                raise JournalError(
                    f"{self.path}:{line_no}: {problem}: not a record of a claragen "
                    "journal; restore the journal, or start the search afresh with "
                    "another --run-id"
                )
            recommended += 1 if record["event"] in ("search", "recommend") else 0
            records.append(record)
            end = start
        return records, end, len(data)


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
    # R1_J3 -> MLflow run id
    retrain_tracked: dict[str, str] = field(default_factory=dict)
    parent_run: str | None = None
    done: bool = False
    stop: str | None = None  # who stopped it early (the handler's module.Class)
    retrained: dict[str, dict[str, Any]] = field(default_factory=dict)  # R1_J3 -> end
    retried: dict[str, int] = field(
        default_factory=dict
    )  # job -> failed attempts rerun

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
            elif kind == "retry":
                state.retried[r["job"]] = state.retried.get(r["job"], 0) + 1
            elif kind == "end" and r["job"] not in state.ended:
                state.ended[r["job"]] = r
                state.end_order.append(r["job"])
            elif kind == "tracked" and "retrain" in r:
                state.retrain_tracked[r["retrain"]] = r["mlflow_run"]
            elif kind == "tracked":
                state.tracked[r["job"]] = r["mlflow_run"]
            elif kind == "parent":
                state.parent_run = r["mlflow_run"]
            elif kind == "done":
                state.done = True
            elif kind == "stop":
                state.stop = r.get("by")
            elif (
                kind == "reopen"
            ):  # --resume --time-budget: more time, the search goes on
                state.done, state.stop = False, None
            elif kind == "retrained":
                state.retrained[r["name"]] = r
        return state
