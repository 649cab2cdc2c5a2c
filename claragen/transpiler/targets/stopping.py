"""What the engines target decides for a train.py that can be stopped (SIGTERM, Ctrl-C;
templates/_stop.py.j2): whether the script must save model_final.pt itself when
interrupted.
"""

from __future__ import annotations

from claragen.transpiler.ir import Component, Lit


def saves_final(handlers: list[Component]) -> bool:
    """Whether a CheckpointSaver of these (the trainer's) handlers saves a final
    checkpoint, which ignite writes when a stopped run ends too; else the engines script
    saves model_final.pt itself when interrupted."""
    return any(
        h.class_name == "CheckpointSaver"
        and isinstance(flag := h.arg("save_final"), Lit)
        and flag.value is True
        for h in handlers
    )
