"""Write docs/fl.md: Clara FL's components and settings and what NVIDIA FLARE does with
each, from the mapping table itself (claragen/transpiler/fl/table.py), so the docs cannot
drift from it: tests/test_fl_table.py fails when they differ.

    python tools/gen_fl_doc.py            # rewrite docs/fl.md
    python tools/gen_fl_doc.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "fl.md"
sys.path.insert(0, str(REPO))

from claragen.transpiler.fl.table import (  # noqa: E402
    CHANGED,
    CLIENT,
    COMPONENTS,
    FLARE,
    MAP,
    NO_COUNTERPART,
    SETTINGS,
    port_fate,
)

HEAD = """\
# Clara federated learning and NVIDIA FLARE

A Clara FL MMAR holds `config_fed_server.json` and `config_fed_client.json` beside the
`config_train.json` each site trains with. NVIDIA FLARE (`nvflare`, the `fl` extra) is
Clara FL's successor, with the same concepts and, for most components, the same names.
This is the table claragen maps Clara FL to FLARE with (written from
`claragen/transpiler/fl/table.py` by `tools/gen_fl_doc.py`; every NVFlare class and arg
in it is checked against nvflare's own signatures, and every setting, component and arg
of the corpus's 39 FL configs has a row).

Today `claragen compile` tells the FL configs apart: given as the training config, one
is E113, which names the MMAR's FL files and the training config to compile. The NVFlare
job (`--fl`) is being built on this table (issue 31).

What becomes of each item:

| fate | meaning |
|---|---|
| map | its value reaches the NVFlare component and arg named |
| client script | the site's training script does it (NVFlare's Client API: the global weights in, local training, the weights out with their steps and key metric) |
| FLARE | FLARE itself does it (its transport, admin client, provisioning): nothing to write |
| changed | the job does something else: a warning names Clara's side and the job's |
"""

FATE_NAMES = {MAP: "map", CLIENT: "client script", FLARE: "FLARE", CHANGED: "changed"}


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render() -> str:
    out = [HEAD, "## Components\n",
           "| Clara component | role | NVFlare | fate | what changed |",
           "|---|---|---|---|---|"]  # fmt: skip
    for name, port in sorted(COMPONENTS.items()):
        target = f"`{port.target.rsplit('.', 1)[-1]}`" if port.target else "-"
        needs = " (needs TenSEAL: `nvflare[HE]`)" if port.needs else ""
        out.append(f"| `{name}` | {port.role} | {target} | "
                   f"{FATE_NAMES[port_fate(port)]} | {cell(port.how)}{needs} |")  # fmt: skip
    for name, why in sorted(NO_COUNTERPART.items()):
        out.append(f"| `{name}` | filter | none | an error | {cell(why)} |")
    out += ["", "## Component args\n", "| Clara arg | fate | how |", "|---|---|---|"]
    for name, port in sorted(COMPONENTS.items()):
        for arg, fate in port.args.items():
            out.append(
                f"| `{name}.{arg}` | {FATE_NAMES[fate.fate]} | {cell(fate.how)} |"
            )
    out += [
        "",
        "## Settings\n",
        "| config | setting | fate | how |",
        "|---|---|---|---|",
    ]
    for (kind, key), fate in sorted(SETTINGS.items()):
        out.append(f"| config_fed_{kind}.json | `{key}` | {FATE_NAMES[fate.fate]} | "
                   f"{cell(fate.how)} |")  # fmt: skip
    out += ["", "A component given by a `path` outside Clara's own packages is the user's "
            "(BYOC): it goes through the same gate as every `path` (custom/, "
            "`--pythonpath`). A setting, component or arg the table does not know is "
            "reported, never dropped.", ""]  # fmt: skip
    return "\n".join(out)


if __name__ == "__main__":
    text = render()
    if "--check" in sys.argv[1:]:
        sys.exit(0 if DOC.read_text() == text else 1)
    DOC.write_text(text)
    print(
        f"{len(COMPONENTS)} components, {len(SETTINGS)} settings -> {DOC.relative_to(REPO)}"
    )
