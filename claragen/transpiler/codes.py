"""The stable codes of claragen's diagnostics.

Every error and warning carries one (`error[E401]: ...`), so that editors, CI scripts and
people can tell diagnostics apart without parsing their text. A code never changes meaning;
a retired code is not reused. `docs/diagnostics.md` shows an example of each, produced by
the compiler itself (`tools/gen_diagnostics_doc.py`, checked by tests/test_diagnostics.py).

Errors: E1xx input and syntax, E2xx values, E3xx structure and references, E4xx components
and their args, E5xx search spaces, E6xx lowering to a target. Warnings: W1xx.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str


CODES: dict[str, Code] = {
    c.code: c
    for c in (
        # input and syntax
        Code("E100", "unreadable-file", "a config file cannot be read as UTF-8 text"),
        Code("E101", "invalid-json", "a config file is not valid JSON"),
        Code("E102", "not-an-object", "a config, section or environment.json is not an object"),
        Code("E103", "unknown-dialect", "--dialect names a dialect claragen does not know"),
        Code("E104", "bad-component", "a component's 'name', 'path', 'args' or 'ref' is malformed"),
        Code("E105", "bad-byoc-path", "a BYOC 'path' is not 'module.Class'"),
        Code("E106", "foreign-byoc-path", "a BYOC 'path' names code outside custom/, --pythonpath and the component table"),
        Code("E107", "file-too-large", "a config file is larger than --max-config-size"),
        Code("E108", "too-deep", "arrays and objects nest deeper than claragen reads"),
        Code("E109", "bad-number", "a number too long to be a config value, or infinite"),
        Code("E110", "not-a-file", "a config path is no regular file (a FIFO, a device)"),
        Code("E111", "older-era", "a Clara 2.x / TLT-era config, which claragen does not read"),
        Code("E112", "too-large-expansion", "{VAR} uses or the generated files grow past what claragen writes"),
        Code("E113", "fl-config", "a Clara FL server or client config given where a training config is read"),
        # values
        Code("E200", "unknown-variable", "a '{NAME}' names no variable"),
        Code("E201", "unbalanced-brace", "a string has a '{' or '}' that opens or closes nothing"),
        Code("E202", "bad-reference", "a string starting with '@' is not a reference"),
        Code("E203", "bad-expression", "a '#' or 'lambda' string is not one Python expression"),
        Code("E204", "forbidden-name", "an expression uses a name a config may not use"),
        Code("E205", "forbidden-attribute", "an expression reaches past the public ML API"),
        Code("E207", "computed-constant", "a value that becomes a module-level constant is computed"),
        Code("E206", "forbidden-construct", "an expression assigns, or holds a '__' string"),
        Code("E208", "unknown-set", "a --set names no variable of the config"),
        # structure and references
        Code("E300", "unresolved-reference", "an '@name' refers to nothing"),
        Code("E301", "reference-cycle", "objects refer to each other in a cycle"),
        Code("E302", "bad-ref", "a 'ref' component matches no component, or several"),
        Code("E303", "bad-disabled", "'disabled' is not a boolean"),
        Code("E304", "alternatives", "a list of alternatives has no or several enabled"),
        # components and args
        Code("E400", "unknown-component", "a component names no class"),
        Code("E401", "unknown-argument", "an arg the class's signature does not take"),
        Code("E402", "missing-argument", "an arg the class (or the target) needs is missing"),
        Code("E403", "no-equivalent", "a legacy component has no MONAI equivalent"),
        Code("E404", "unknown-pipeline", "an unknown Clara 3.x image pipeline"),
        Code("E405", "no-datalist", "a dataset or pipeline without a datalist"),
        Code("E410", "byoc-import", "--import-byoc: a BYOC class cannot be imported"),
        Code("E411", "weakened-deserializer", "an arg would let a deserializer run a file's code (weights_only=False, allow_pickle, pickle_module)"),
        # search spaces
        Code("E500", "bad-search", "a 'search' block or item is malformed"),
        Code("E501", "bad-float-targets", "float targets are not [min, max] with min < max"),
        Code("E502", "bad-enum-targets", "enum targets are empty or do not fit the args"),
        Code("E503", "unknown-search-type", "a search 'type' other than float or enum"),
        Code("E504", "search-arg", "'search' or 'apply' names an arg the class does not take"),
        Code("E505", "duplicate-alias", "an alias is defined twice"),
        Code("E506", "undefined-alias", "'apply' names an alias no search item defines"),
        Code("E507", "search-too-large", "a grid of more jobs than claragen makes (10,000)"),
        # lowering to a target
        Code("E600", "cannot-lower", "the target cannot lower a component or an arg"),
        Code("E601", "missing-engine", "no trainer, evaluator or model to build the script from"),
        Code("E602", "invalid-value", "a value the target needs in another form"),
        Code("E603", "validation-model", "a validation config's model cannot be built"),
        # warnings
        Code("W100", "unknown-key", "a component key claragen does not know is ignored"),
        Code("W101", "left-out", "a part of the config is left out of the script"),
        Code("W102", "approximated", "a legacy construct is ported with an approximation"),
        Code("W103", "enum-choice", "an enum choice is not a list"),
        Code("W104", "not-lowered", "a setting the script does not honour yet"),
        Code("W105", "value-type", "a value whose type cannot fit the argument"),
        Code("W106", "legacy-name", "a Clara 3.x class name in a 4.x config is ported"),
        Code("W108", "duplicate-key", "a key given twice in one object: the last one is used"),
        Code("W107", "inert-search", "a searched arg changes nothing in the scripts"),
        Code("W110", "transform-order", "a spatial transform runs before the channel is made first"),
        Code("W111", "never-validates", "the validation interval is longer than the training"),
        Code("W113", "engines-fallback", "--target auto runs a config on MONAI's engines, which the plain target cannot lower"),
        Code("W112", "unchecked-reader-arg", "an arg of LoadImage(d) that only the file loader behind a reader's **kwargs may take"),
        Code("W109", "chosen-default", "an arg a legacy config left out, with no documented Clara default, is given NVIDIA's choice"),
    )
}  # fmt: skip


def check(code: str) -> str:
    """`code` itself, when it is a known code (a claragen bug otherwise)."""
    if code not in CODES:
        raise ValueError(f"unknown diagnostic code {code!r}")
    return code
