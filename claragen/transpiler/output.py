"""Write a compile's files into its output folder, and nowhere else.

    out/                 an empty or new folder, or an earlier claragen output:
      manifest.json      the earlier manifest's job folders (and any J0001-style folder)
      J0001/train.py     are removed whole first, so no stale job outlives a compile
      ...

A folder that holds anything else (the user's files) is refused, not mixed into. Nothing
is written through a link: links where claragen writes are removed, folders are made anew
and each file is created with O_EXCL | O_NOFOLLOW, so a link planted in the folder (say
`out/manifest.json -> ../elsewhere`) cannot send a write outside it. The folder itself may
be a link: that is the user's choice of where the output goes.
"""

from __future__ import annotations

import re
from pathlib import Path

from claragen.gates import safe_io

MANIFEST = "manifest.json"
JOB_FOLDER = re.compile(r"^J\d{4,}$")


class OutputError(Exception):
    """The output folder cannot take the compile (the message says why and what to do)."""


def prepare(out_dir: Path) -> None:
    """Make `out_dir` ready: new, empty, or an earlier output cleared of its jobs."""
    if not out_dir.exists() and not out_dir.is_symlink():
        out_dir.mkdir(parents=True)
        return
    if not out_dir.is_dir():
        raise OutputError(f"-o {out_dir}: it exists and is no folder; give a folder")
    entries = list(out_dir.iterdir())
    if not entries:
        return
    if not _is_claragen_output(out_dir):
        names = ", ".join(sorted(e.name for e in entries)[:5])
        raise OutputError(
            f"-o {out_dir} holds files claragen did not write ({names}); give an empty "
            "or new folder, or one that an earlier `claragen compile` wrote"
        )
    foreign = [e.name for e in entries if not _ours(e)]
    if foreign:
        raise OutputError(
            f"-o {out_dir} is an earlier claragen output, and it also holds "
            f"{', '.join(sorted(foreign)[:5])}; move those away, or give another folder"
        )
    for entry in entries:  # each is a link, manifest.json or a job folder
        safe_io.remove_tree(entry)  # never follows the links inside


def write_files(out_dir: Path, files: dict[str, str]) -> None:
    """Create each file (a path relative to `out_dir`) with its text."""
    for name in sorted(files):
        path = out_dir / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise OutputError(f"{name!r} would leave {out_dir}")  # a claragen bug
        try:
            safe_io.make_folders(out_dir, Path(name).parent)
            safe_io.create(path, files[name].encode("utf-8"))
        except FileExistsError:
            raise OutputError(
                f"{path} appeared while claragen wrote the folder"
            ) from None
        except OSError as exc:
            raise OutputError(f"cannot write {path}: {safe_io.reason(exc)}") from None


def _is_claragen_output(out_dir: Path) -> bool:
    try:
        data = safe_io.read_json(out_dir / MANIFEST, safe_io.LIMITS["json"])
    except (OSError, ValueError):  # none, a link, a FIFO, too large, no JSON
        return False
    return isinstance(data, dict) and "claragen" in data and "jobs" in data


def _ours(entry: Path) -> bool:
    return entry.name == MANIFEST or (
        JOB_FOLDER.match(entry.name) is not None
        and (entry.is_symlink() or entry.is_dir())
    )
