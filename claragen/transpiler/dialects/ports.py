"""Port a 3.x component to its MONAI (or torch) class, by the table (port_table.py).

    {"name": "ScaleByResolution#ScaleImg", "args": {"fields": ["image"],
     "target_resolution": [1.0, 1.0, 1.0]}}
    -> {"name": "Spacingd", "args": {"keys": ["image"], "pixdim": [1.0, 1.0, 1.0],
        "mode": "bilinear"}}

In this order: the TensorFlow-only args and the port's dropped ones leave (a note each);
the port's renames, then the common ones where the MONAI class takes the new name; the
port's conversion; Clara's defaults (`add`) and, where Clara documents none, NVIDIA's
choice (`choose`, a W109 warning naming it). An arg that is neither Clara's nor the MONAI
class's is an error that names it as the config wrote it. The 3.x and 4.0 dialects both
port through `port_component`.
"""

from __future__ import annotations

import dataclasses

from claragen.transpiler import symbols
from claragen.transpiler.context import PassContext
from claragen.transpiler.diagnostics import did_you_mean
from claragen.transpiler.dialects.legacy import (
    ACTIVATIONS,
    COMMON_RENAMES,
    FINAL_ACTIVATION,
    NO_ACTIVATION,
    Port,
    Porting,
    add_note,
    set_arg,
)
from claragen.transpiler.dialects.port_table import (
    COMPONENTS,
    DROP_REASONS,
    DROPPED,
    NO_EQUIVALENT,
    SIGNATURE_COMPLETE,
    TF_ONLY,
)
from claragen.transpiler.ir import Component, Config, Lit, Slot, is_literal, to_python


def port_component(comp: Component, p: Porting) -> Component | list[Component]:
    if comp.path is not None or comp.name is None:
        return comp
    if comp.name in NO_EQUIVALENT:
        p.ctx.diags.error(
            "E403",
            comp.name_span or comp.span,
            f"the Clara 3.x component {comp.name!r} has no MONAI equivalent "
            f"({NO_EQUIVALENT[comp.name]}; {comp.locator})",
            f'write one and give it as "path": "my_module.{comp.name}" (BYOC)',
        )
        return comp
    port = COMPONENTS.get(comp.name)
    if port is None:
        return comp  # a MONAI name already, or unknown: check_components says which
    old = comp.name
    _required(comp, port, p)
    sym = symbols.lookup(port.target)
    comp = dataclasses.replace(comp, name=port.target, origin=comp.origin or old)
    comp, renamed = _renamed(comp, port, sym, old, p)
    comp = dataclasses.replace(comp, renamed=comp.renamed + tuple(renamed))
    comp = _unknown_args(comp, port, sym, dict((b, a) for a, b in renamed if b), p)
    ported = port.convert(comp, p) if port.convert is not None else comp
    if isinstance(ported, list):
        return ported
    comp = ported
    for name, default in port.add.items():
        if comp.arg(name) is None:
            if callable(default):  # a value of the rest of the config
                default, why = default(p)
                if not isinstance(default, int) and is_literal(default):
                    default = to_python(default)  # a literal of the config
                shown = f"={default!r}" if isinstance(default, int | str) else ""
                comp = add_note(comp, f"{name}{shown}: {why}")
            comp = set_arg(comp, name, default, p)
    clara_names = {a: b for b, a in {**COMMON_RENAMES, **port.renames}.items()}
    for name, default in port.choose.items():
        if comp.arg(name) is None:
            comp = set_arg(comp, name, default, p)
            clara = clara_names.get(name, name)
            p.ctx.diags.warning(
                "W109",
                comp.name_span or comp.span,
                f"{old} leaves out {clara!r}, for which Clara documents no default: the "
                f"port takes {name}={default!r}, as NVIDIA's 4.x ports did ({comp.locator})",
                f'give "{clara}" to choose it yourself',
            )
    if old != comp.name:
        comp = add_note(comp, f"Clara 3.x {old} -> {comp.name}")
    return add_note(comp, port.note) if port.note else comp


def _required(comp: Component, port: Port, p: Porting) -> None:
    """An arg that Clara required and the config leaves out: E402 by Clara's name (the
    MONAI port's own check, by MONAI's names, then stays quiet: one error a cause)."""
    missing = [a for a in port.requires if comp.arg(a) is None]
    if not missing:
        return
    known = {*port.clara_args, *TF_ONLY, *port.drop}
    foreign = [k for k, _ in comp.args if k not in known]
    instead = (
        f"; it gives {', '.join(repr(k) for k in foreign)} instead, which Clara does "
        f"not document for {comp.name} (an arg of a subclass of the user's own?)"
        if foreign
        else ""
    )
    # Clara's reference documents the required args of some components in full; of
    # the others, the port needs them and Clara's own default is not known
    why = (
        f": Clara required {'them' if len(missing) > 1 else 'it'} too"
        if comp.name in SIGNATURE_COMPLETE
        else ", and its port cannot do without (Clara's reference gives no default)"
    )
    p.ctx.diags.missing_args(
        comp.name_span or comp.span,
        f"Clara 3.x {comp.name}",
        missing,
        comp.locator,
        why + instead,
    )


def _renamed(
    comp: Component, port: Port, sym: symbols.Symbol | None, old: str, p: Porting
) -> tuple[Component, list[tuple[str, str | None]]]:
    """Drops first, then renames, so that a diagnostic names the config's own arg. A
    dropped arg whose leaving changes nothing says why in a note; one that switches an
    option off (false, 0, null, empty) is left out without a word; any other changes
    what the script does, and W102 names both sides."""
    renamed: list[tuple[str, str | None]] = []
    for name in (*TF_ONLY, *port.drop):
        value = comp.arg(name)
        if name in port.renames or value is None:
            continue
        renamed.append((name, None))
        why = TF_ONLY.get(name) or DROP_REASONS.get(name)
        literal = is_literal(value)
        text = to_python(value) if literal else None
        if why is None and literal and text in (False, None, 0, [], ""):
            comp = comp.with_arg(name, None)  # an option that is off: nothing is lost
            continue
        shown = f" ({text!r})" if isinstance(text, str | int | float | list) else ""
        if why is None:
            why = f"MONAI's {port.target} has no counterpart"
            p.ctx.diags.warning(
                "W102",
                comp.arg_span(name),
                f"Clara 3.x {old}'s {name!r}{shown} has no counterpart in MONAI's "
                f"{port.target}: the script does without it ({comp.locator})",
                "add a transform of your own (BYOC) where it matters",
            )
        comp = add_note(
            comp.with_arg(name, None), f"3.x arg {name!r}{shown} left out: {why}"
        )
    common = {k: v for k, v in COMMON_RENAMES.items() if k not in port.renames}
    for before, after in {**port.renames, **common}.items():
        if comp.arg(before) is None or before == after:
            continue
        if before in common and not (
            port.convert or (sym and after in (sym.params or ()))
        ):
            continue  # the MONAI class does not take the new name: E401 names the old
        comp = comp.with_arg_renamed(before, after)
        renamed.append((before, after))
    return comp, renamed


def _unknown_args(
    comp: Component,
    port: Port,
    sym: symbols.Symbol | None,
    original: dict[str, str],
    p: Porting,
) -> Component:
    """An arg neither Clara documents for the class nor the MONAI class takes: E401, by the
    name the config gave it, with a did-you-mean over both."""
    if sym is None or sym.params is None:
        return comp
    known = set(port.clara_args) | set(sym.params)
    for key, _ in comp.args:
        given = original.get(key, key)
        if key in sym.params or given in port.clara_args:
            continue
        if sym.varkw and given in COMMON_RENAMES.values():
            continue
        close = did_you_mean(given, sorted(known))
        hint = close or (
            f"Clara documents {', '.join(port.clara_args) or 'no arguments'} for it"
        )
        # known in part: an arg close to one we know is its misspelling, which Clara's
        # class refused too; any other may be one Clara took that we do not know
        if comp.origin in SIGNATURE_COMPLETE or close:
            p.ctx.diags.error(
                "E401",
                comp.arg_span(key),
                f"{comp.origin} takes no argument {given!r} (its MONAI port is "
                f"{sym.module}.{sym.name}; {comp.locator})",
                hint,
            )
        else:  # Clara's reference knows its args in part: Clara may have taken it
            p.ctx.diags.warning(
                "W100",
                comp.arg_span(key),
                f"{comp.origin}'s argument {given!r} is not one Clara documents (its "
                f"arguments are known only in part) nor one its MONAI port "
                f"{sym.module}.{sym.name} takes: it is left out ({comp.locator})",
                hint,
            )
        comp = comp.with_arg(key, None)
    return comp


def port_components(config: Config, ctx: PassContext) -> Config:
    p = Porting(config, ctx)

    def port(slot: Slot) -> Slot:
        if isinstance(slot, Component):
            return port_component(slot, p)
        if isinstance(slot, list):
            return port_list(slot, p)
        return slot

    sections = {
        s: {k: port(v) for k, v in slots.items()}
        for s, slots in config.sections.items()
    }
    # the network's final_activation leaves with its port; the post-transforms made
    # after the ports apply it (Porting.activation)
    extras = dict(config.extras)
    if (activation := p.model_arg("final_activation")) is not None:
        extras[FINAL_ACTIVATION] = Lit(config.span, activation)
        if str(activation).lower() not in ACTIVATIONS | NO_ACTIVATION:
            model = config.sections["train"]["model"]
            assert isinstance(model, Component)
            ctx.diags.warning(
                "W102",
                model.arg_span("final_activation"),
                f"the network's final_activation {activation!r} is none claragen knows "
                f"(softmax, sigmoid, linear): the loss and the post-transforms apply a "
                f"softmax, Clara's default ({model.locator})",
                'write "softmax", "sigmoid" or "linear"',
            )
    return dataclasses.replace(config, sections=sections, extras=extras)


def port_list(comps: list[Component], p: Porting) -> list[Component]:
    """Port each; a transform MONAI does not need leaves, said at the next one."""
    out: list[Component] = []
    pending: list[str] = []
    for comp in comps:
        if comp.path is None and comp.name in DROPPED:
            why = DROPPED[comp.name]
            p.ctx.diags.warning(
                "W101",
                comp.name_span or comp.span,
                f"{comp.name} is not needed ({why}); left out ({comp.locator})",
            )
            pending.append(
                f"Clara 3.x {comp.name} (line {comp.span.line}) left out: {why}"
            )
            continue
        ported = port_component(comp, p)
        for new in ported if isinstance(ported, list) else [ported]:
            out.append(dataclasses.replace(new, notes=(*pending, *new.notes)))
            pending = []
    if pending and out:
        out[-1] = dataclasses.replace(out[-1], notes=(*out[-1].notes, *pending))
    return out
