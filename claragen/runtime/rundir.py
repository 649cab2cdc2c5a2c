"""The run folder automl/<run_id>/ and the engine's writes into it.

A run folder may come from elsewhere (an MMAR archive, a shared disk), so the engine
trusts nothing already in it:

- it writes its files with O_NOFOLLOW and makes each job folder afresh, so a link planted
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
import shutil
from pathlib import Path

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
    if exc.errno == errno.ELOOP:
        reason, todo = (
            "it is a symbolic link, which claragen does not follow",
            "remove it",
        )
    elif exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason, todo = exc.strerror, "free space, then --resume"
    else:
        reason, todo = exc.strerror or str(exc), "fix it, then --resume"
    return SearchError(f"cannot write {what}{path}: {reason}; {todo}")


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data`: os.write may write fewer than it was given."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "a write wrote nothing")
        view = view[written:]


def write_file(path: Path, text: str) -> None:
    """A file of the engine's, whole; a link at `path` is replaced, not followed."""
    try:
        if path.is_symlink():
            path.unlink()
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW | os.O_CLOEXEC
        fd = os.open(path, flags, 0o644)
        try:
            write_all(fd, text.encode("utf-8"))
        finally:
            os.close(fd)
    except OSError as exc:
        raise cannot_write(path, exc) from None


def remove(path: Path) -> None:
    """Remove a job folder of the engine's: a link goes, not what it points to."""
    try:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.is_dir():
            shutil.rmtree(path)  # unlinks the links inside, follows none
    except OSError as exc:
        raise SearchError(
            f"cannot remove {path}: {exc.strerror or exc}; fix it, then --resume"
        ) from None


def fresh_folder(path: Path) -> None:
    """An empty folder at `path`, made now (what was there goes, a link included)."""
    remove(path)
    try:
        path.mkdir()
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
        flags = os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC
        try:
            fd = os.open(self.path, flags, 0o644)
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
            write_all(fd, f"{os.getpid()}\n".encode())
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
