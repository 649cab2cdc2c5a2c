"""The run folder automl/<run_id>/ and the engine's writes into it.

A run folder may come from elsewhere (an MMAR archive, a shared disk), so the engine
trusts nothing already in it:

- it reads and writes its files through claragen.gates.safe_io (no link followed, no
  FIFO waited on, bounded reads) and makes each job folder afresh, so a link planted
  there is refused (the journal, the lock, the MLflow store) or replaced (a job folder),
  never written through;
- it writes every byte (a short write is continued) and a failed write ends the search
  with `error: cannot write PATH: why; what to do`, not a traceback;
- one process at a time runs a search: an exclusive flock on <run_dir>/.lock, held until
  the search ends, dropped by the kernel however the process ends.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from claragen.gates import safe_io

# The files of a run folder that the engine and MLflow's local store write.
OWN_FILES = (
    "journal.jsonl",
    ".lock",
    "mlflow.db",
    "mlartifacts",
    "report.html",
    "optuna.log",
    "optuna.log.lock",
)


class SearchError(Exception):
    """A search that cannot start, go on or resume (the message says why and what to do)."""


def cannot_write(path: Path, exc: OSError, what: str = "") -> SearchError:
    """The error of a failed write: `cannot write [what ]PATH: why; what to do`."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        todo = "free space, then --resume"
    elif exc.errno == errno.ELOOP or isinstance(exc, safe_io.UnsafeFile):
        todo = "remove it"
    else:
        todo = "fix it, then --resume"
    why = safe_io.reason(exc).split("; ", 1)[0]
    return SearchError(f"cannot write {what}{path}: {why}; {todo}")


def write_file(path: Path, text: str) -> None:
    """A file of the engine's, whole; a link at `path` is replaced, not followed."""
    try:
        safe_io.replace(path, text.encode("utf-8"))
    except OSError as exc:
        raise cannot_write(path, exc) from None


def remove(path: Path) -> None:
    """Remove a job folder of the engine's: a link goes, not what it points to."""
    try:
        safe_io.remove_tree(path)
    except OSError as exc:
        raise SearchError(
            f"cannot remove {path}: {exc.strerror or exc}; fix it, then --resume"
        ) from None


def fresh_folder(path: Path) -> None:
    """An empty folder at `path`, made now (what was there goes, a link included)."""
    try:
        safe_io.fresh_folder(path)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def check_run_dir(run_dir: Path) -> None:
    """Make the run folder, or check the one there: a folder, not a link, and none of its
    own files (journal, lock, MLflow store) a link."""
    if run_dir.is_symlink():
        raise SearchError(
            f"{run_dir} is a symbolic link; a run folder must be a folder of its own: "
            "remove the link or give another --run-id"
        )
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(run_dir, exc) from None
    for name in OWN_FILES:
        if (run_dir / name).is_symlink():
            raise SearchError(
                f"{run_dir / name} is a symbolic link, which claragen does not write "
                "through; remove it, then try again"
            )


class RunLock:
    """One search per run folder at a time: an exclusive, non-blocking flock on
    <run_dir>/.lock, whose file holds the pid of the process that has it.

    The journal's format is ours, so Optuna's JournalFileBackend locks (which guard its
    own journal) do not apply; a flock also goes with the process, however it dies.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def acquire(self, run_id: str) -> None:
        if self.fd is not None:
            return
        try:
            fd = safe_io.open_lock(self.path)
        except OSError as exc:
            raise cannot_write(self.path, exc, "the lock ") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            holder = _pid_in(fd)
            os.close(fd)
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise cannot_write(self.path, exc, "the lock ") from None
            pid = f" (pid {holder})" if holder else ""
            raise SearchError(
                f"the search {run_id} is running in another process{pid}; "
                "wait for it or stop it"
            ) from None
        try:  # who holds it, for the message of the next process that tries
            os.ftruncate(fd, 0)
            safe_io.write_all(fd, f"{os.getpid()}\n".encode())
        except OSError:
            pass  # the lock holds without its pid
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)  # drops the flock
            self.fd = None


def _pid_in(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() and len(text) < 12 else None
