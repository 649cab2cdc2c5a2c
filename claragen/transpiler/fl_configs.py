"""Clara FL's own config files, told apart from training configs (SPEC 1).

A Clara FL MMAR holds `config_fed_server.json` (rounds, minimum clients, aggregator,
model persistor, shareable generator, model selection, filters) and
`config_fed_client.json` (the client trainer, privacy filters, cross-site validation)
beside the `config_train.json` that each site trains with. Given to the compiler as the
training config, one of them is E113, which names the MMAR's FL files and the training
config to compile instead, not a did-you-mean for a trainer it never had.

They are told by their first-level keys, whatever their file names: a client config has
`client`, `client_trainer` or `cross_site_validation`; a server config `servers` (which a
client config names too), `aggregator`, `model_persistor`, ...; neither has `train`.
"""

from __future__ import annotations

from pathlib import Path

from claragen.transpiler.diagnostics import Diagnostics
from claragen.transpiler.jsonparse import JNode, JObject

CLIENT_KEYS = frozenset({"client", "client_trainer", "cross_validate",
                         "cross_site_validation"})  # fmt: skip
SERVER_KEYS = frozenset({"servers", "aggregator", "model_persistor", "shareable_generator",
                         "server_trainer", "model_saver", "admin_cmd_modules",
                         "result_processors"})  # fmt: skip
FL_FILES = "config_fed_*.json"


def fl_kind(root: JNode | None) -> str | None:
    """'client' or 'server' for a Clara FL config, None for any other."""
    if not isinstance(root, JObject):
        return None
    keys = set(root.keys())
    if "train" in keys:
        return None
    if keys & CLIENT_KEYS:
        return "client"
    if keys & SERVER_KEYS:
        return "server"
    return None


def fl_files(mmar_root: Path | None) -> list[str]:
    """The FL configs of an MMAR's config/ folder, by name."""
    if mmar_root is None or not (mmar_root / "config").is_dir():
        return []
    return sorted(p.name for p in (mmar_root / "config").glob(FL_FILES) if p.is_file())


def check_fl(root: JNode | None, name: str, mmar_root: Path | None,
             diags: Diagnostics) -> None:  # fmt: skip
    """E113 for a Clara FL config given where a training config is read."""
    kind = fl_kind(root)
    if kind is None:
        return
    assert isinstance(root, JObject)
    files = fl_files(mmar_root)
    train = mmar_root / "config" / "config_train.json" if mmar_root else None
    own = train is not None and train.is_file() and not train.samefile(name)
    instead = (
        "compile the training config each site runs, config/config_train.json "
        f"(claragen compile {train} -o out/)"
        if own
        else "compile the training config each site runs (Clara's config_train.json "
        "beside the FL configs)"
    )
    diags.error(
        "E113",
        root.pairs[0][0].span if root.pairs else root.span,
        f"{Path(name).name} is a Clara FL {kind} config (its first-level keys are "
        f"Clara FL's), not a training config"
        + (f"; this MMAR's FL configs: {', '.join(files)}" if files else ""),
        instead,
    )
    diags.raise_if_errors()
