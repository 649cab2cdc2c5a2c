"""A seal on the options a search records, so that `--resume` takes them from a journal
only when claragen wrote them on this machine, for this user.

A run folder may come from elsewhere, and its journal's first line says how the search
was started: which config and MMAR, which --pythonpath (whose modules `claragen automl`
imports), which --tracking-uri and --job-args. Taken as they are, they would let a
downloaded run folder choose what runs and where it writes. So the engine seals the
options it records with an HMAC under a key of the user's own (made once, 0600, in
`$CLARAGEN_KEY_FILE` or `~/.config/claragen/run.key`), and `--resume` takes recorded
options only when the seal holds; otherwise it says what the journal records and asks for
the options again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
from pathlib import Path
from typing import Any

from claragen.gates import safe_io


def key_file() -> Path:
    if os.environ.get("CLARAGEN_KEY_FILE"):
        return Path(os.environ["CLARAGEN_KEY_FILE"])
    config = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(config) / "claragen" / "run.key"


def key(create: bool = False) -> bytes | None:
    """The user's key (made when `create` and missing); None when there is none."""
    path = key_file()
    try:
        return bytes.fromhex(safe_io.read_text(path, 1024).strip())
    except FileNotFoundError:
        if not create:
            return None
    except (OSError, ValueError):
        return None  # a link, no regular file, no hex: no key to trust
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        safe_io.create(path, secrets.token_hex(32).encode(), mode=0o600)
    except OSError:
        pass  # made by another process meanwhile, or no home: read what is there
    try:
        return bytes.fromhex(safe_io.read_text(path, 1024).strip())
    except (OSError, ValueError):
        return None


def _digest(secret: bytes, options: dict[str, Any]) -> str:
    text = json.dumps(options, sort_keys=True, separators=(",", ":"), default=str)
    return hmac.new(secret, text.encode("utf-8"), hashlib.sha256).hexdigest()


def seal(options: dict[str, Any]) -> str | None:
    """The seal of recorded options (None when the user has no key to seal with)."""
    secret = key(create=True)
    return None if secret is None else _digest(secret, options)


def holds(options: Any, tag: Any) -> bool:
    """Whether `options` are what this user's claragen recorded, unchanged."""
    secret = key()
    if secret is None or not isinstance(options, dict) or not isinstance(tag, str):
        return False
    return hmac.compare_digest(_digest(secret, options), tag)
