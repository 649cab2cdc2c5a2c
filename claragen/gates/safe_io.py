"""The one way claragen reads and writes the files of an output folder, a run folder or a
job's checkpoint folder. Such a folder may come from elsewhere (an MMAR archive, a shared
disk, an earlier run), so nothing in it is trusted:

- a read opens the file without following a link and without blocking (a FIFO, a device
  or a folder where a file should be is refused at once, not waited on), checks that it
  is a regular file, and reads at most `limit` bytes (a larger file is refused);
- a write creates its file afresh with O_EXCL | O_NOFOLLOW (a link in its place is
  removed, never written through), writes every byte, flushes, and renames it into place
  (a reader finds the old file or the new one); an append goes to a regular file only;
- a folder is made without following a link on the way, and removed without following
  the links inside it;
- `inside` tells whether a path, links resolved, stays under a root (MLflow's artifact
  store, which a run folder's database names).

The generated scripts carry the same discipline in templates/_files.py.j2 (they are
standalone). tests/gates/test_safe_io.py scans claragen for any file access around this
module.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import stat
from pathlib import Path
from typing import Any

MiB = 1024 * 1024
# Bounds of what claragen reads back; each is far above what it writes there itself.
LIMITS = {
    "journal": 256 * MiB,  # a search of 10,000 jobs writes about 20 MiB
    "json": 64 * MiB,  # result.json with a loss per iteration, manifest.json
    "script": 16 * MiB,  # a generated script: 100 KB
    "log": 1 * MiB,  # the tail of a job's log, for the error it ended with
    "study": 512 * MiB,  # optuna.log
}


class UnsafeFile(OSError):
    """A file that claragen does not read or write: a link, no regular file, too large.
    Its str() says which file, why, and what to do."""


def _refuse(
    path: Path | str, why: str, todo: str = "remove it, or look at it"
) -> UnsafeFile:
    return UnsafeFile(errno.EPERM, f"{why}; {todo}", str(path))


def reason(exc: OSError) -> str:
    """Why an OSError happened, in words (a link refused, a full disk, ...)."""
    if isinstance(exc, UnsafeFile):
        return exc.strerror or str(exc)
    if exc.errno == errno.ELOOP:
        return "it is a symbolic link, which claragen does not follow"
    return exc.strerror or str(exc)


# -- reading --------------------------------------------------------------------------


def open_regular(path: Path | str) -> int:
    """A read-only descriptor of the regular file `path`: no link followed, no waiting
    on a FIFO. Raises FileNotFoundError when it is not there, UnsafeFile when it is no
    regular file of its own."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _refuse(
                path, "it is a symbolic link, which claragen does not follow"
            ) from None
        raise
    info = os.fstat(fd)
    if not stat.S_ISREG(info.st_mode):
        os.close(fd)
        kind = (
            "a folder"
            if stat.S_ISDIR(info.st_mode)
            else "no regular file (a FIFO, a device?)"
        )
        raise _refuse(path, f"it is {kind}")
    return fd


def read_bytes(path: Path | str, limit: int, tail: bool = False) -> bytes:
    """The bytes of the regular file `path`, at most `limit` of them: a larger file is
    refused (UnsafeFile), or with `tail`, its last `limit` bytes are read."""
    fd = open_regular(path)
    try:
        size = os.fstat(fd).st_size
        if size > limit and not tail:
            raise _refuse(path, f"it is {size:,} bytes, more than claragen reads there "
                                f"({limit:,})")  # fmt: skip
        if tail and size > limit:
            os.lseek(fd, size - limit, os.SEEK_SET)
        chunks, left = [], limit
        while left > 0:
            chunk = os.read(fd, min(left, MiB))
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_text(path: Path | str, limit: int, errors: str = "strict") -> str:
    """The UTF-8 text of a regular file, bounded as `read_bytes`."""
    try:
        return read_bytes(path, limit).decode("utf-8", errors)
    except UnicodeDecodeError as exc:
        raise _refuse(path, f"it is not UTF-8 text ({exc.reason})") from None


def read_text_inside(root: Path | str, rel: str, limit: int) -> str:
    """The text of the file `rel` inside the folder `root`, read as `read_text`, with no
    link followed on the way either (a linked subfolder is refused too)."""
    path = Path(root) / rel
    if not no_link_on_the_way(root, path):
        raise _refuse(path, "it is, or lies under, a symbolic link, which claragen does "
                            "not follow")  # fmt: skip
    return read_text(path, limit)


def read_json(path: Path | str, limit: int) -> Any:
    """The JSON value of a regular file, bounded as `read_bytes`; ValueError when it is
    no JSON (nested too deep included)."""
    text = read_text(path, limit)
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"{path}: nested too deep to be claragen's") from None


def is_own_file(path: Path | str) -> bool:
    """Whether `path` is a regular file, not a link (nor a FIFO, a device, a folder)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def check_regular(path: Path | str, limit: int) -> None:
    """Refuse (UnsafeFile) what is at `path` unless it is nothing or a regular file of
    at most `limit` bytes: for a file that a library opens itself (Optuna's journal,
    MLflow's database)."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode):
        raise _refuse(path, "it is a symbolic link, which claragen does not follow")
    if not stat.S_ISREG(info.st_mode):
        raise _refuse(path, "it is no regular file (a FIFO, a device, a folder?)")
    if info.st_size > limit:
        raise _refuse(path, f"it is {info.st_size:,} bytes, more than claragen reads "
                            f"there ({limit:,})")  # fmt: skip


# -- writing --------------------------------------------------------------------------


def write_all(fd: int, data: bytes) -> None:
    """Write every byte of `data`: os.write may write fewer than it was given."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        if written <= 0:
            raise OSError(errno.EIO, "a write wrote nothing")
        view = view[written:]


def remove_file(path: Path | str) -> None:
    """Remove the file or link at `path`, if any (a link goes, not what it points to)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def create(path: Path | str, data: bytes, mode: int = 0o644) -> None:
    """A new file at `path` holding `data`: created here (O_EXCL | O_NOFOLLOW), so that
    nothing that appeared there is written through. FileExistsError if something did."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    fd = os.open(path, flags, mode)
    try:
        write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def replace(path: Path | str, data: bytes) -> None:
    """`path` holds `data`, whole: written to `path`.tmp (made afresh), flushed, renamed
    onto `path`; a link at either name is replaced, never followed."""
    tmp = f"{os.fspath(path)}.tmp"
    remove_file(tmp)
    create(tmp, data)
    os.replace(tmp, path)


def open_append(path: Path | str) -> int:
    """A descriptor that appends to the regular file `path` (made when missing): no link
    followed, no FIFO waited on. The caller closes it."""
    flags = (
        os.O_WRONLY
        | os.O_APPEND
        | os.O_CREAT
        | os.O_NOFOLLOW
        | os.O_NONBLOCK
        | os.O_CLOEXEC
    )
    fd = os.open(path, flags, 0o644)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(path, "it is no regular file (a FIFO, a device?)")
    return fd


def open_rewrite(path: Path | str) -> int:
    """A descriptor of `path` made empty for writing (a job's log): what was there goes
    first, and the file is made afresh, not through a link. The caller closes it."""
    remove_file(path)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    return os.open(path, flags, 0o644)


def rewrite_text(path: Path | str):
    """`path` made afresh as a text file open for writing (see `open_rewrite`)."""
    return os.fdopen(open_rewrite(path), "w", encoding="utf-8")


def open_lock(path: Path | str) -> int:
    """A read-write descriptor of a lock file (made when missing), not through a link and
    only a regular file."""
    fd = os.open(
        path,
        os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC,
        0o644,
    )
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise _refuse(path, "it is no regular file (a FIFO, a device?)")
    return fd


def truncate(fd: int, size: int) -> None:
    os.ftruncate(fd, size)
    os.fsync(fd)


# -- folders --------------------------------------------------------------------------


def remove_tree(path: Path | str) -> None:
    """Remove what is at `path`: a link or a file goes, a folder goes with what is in it,
    and no link inside is followed."""
    path = Path(path)
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)  # unlinks the links inside, follows none


def make_folders(root: Path, rel: Path | str) -> Path:
    """`root`/`rel`, each folder on the way made when missing; a link on the way is
    refused (UnsafeFile), so that nothing below it is written elsewhere."""
    here = Path(root)
    for part in Path(rel).parts:
        if part in ("..", "/") or os.sep in part:
            raise _refuse(here / part, "it would leave the folder")
        here = here / part
        if here.is_symlink():
            raise _refuse(here, "it is a symbolic link, which claragen does not write "
                                "through")  # fmt: skip
        if not here.exists():
            here.mkdir()
        elif not here.is_dir():
            raise _refuse(here, "it is no folder")
    return here


def fresh_folder(path: Path | str) -> None:
    """An empty folder at `path`, made now (what was there goes, a link included)."""
    remove_tree(path)
    Path(path).mkdir()


def inside(path: Path | str, root: Path | str) -> bool:
    """Whether `path`, with every link resolved, is `root` or under it (resolved too)."""
    real = Path(os.path.realpath(path))
    base = Path(os.path.realpath(root))
    return real == base or base in real.parents


def no_link_on_the_way(root: Path | str, path: Path | str) -> bool:
    """Whether `path` is under `root` and no part of it below `root` is a link."""
    root, path = Path(root), Path(path)
    try:
        rel = path.relative_to(root)
    except ValueError:
        return False
    here = root
    for part in rel.parts:
        if part == "..":
            return False
        here = here / part
        if here.is_symlink():
            return False
    return True
