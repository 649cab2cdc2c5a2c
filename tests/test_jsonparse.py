from claragen.transpiler.diagnostics import Diagnostics, Span
from claragen.transpiler.jsonparse import JArray, JObject, JScalar, JString, parse_json


def test_every_node_has_its_position():
    text = '{\n  "a": [1, "x"],\n  "b": {"c": 2e-4, "d": true, "e": null}\n}'
    doc = parse_json(text, "c.json")
    assert isinstance(doc, JObject)
    arr = doc.get("a")
    assert isinstance(arr, JArray) and arr.span == Span("c.json", 2, 8)
    assert arr.items[1] == JString(Span("c.json", 2, 12), "x")
    inner = doc.get("b")
    assert inner.get("c") == JScalar(Span("c.json", 3, 14), 0.0002)
    assert inner.get("d").value is True and inner.get("e").value is None
    assert doc.key_span("b") == Span("c.json", 3, 3)
    assert doc.to_python() == {"a": [1, "x"], "b": {"c": 2e-4, "d": True, "e": None}}


def test_ints_stay_ints_and_escapes_decode():
    doc = parse_json('{"n": 3, "f": 3.0, "s": "a\\"b\\u00e9"}', "c.json")
    assert doc.to_python() == {"n": 3, "f": 3.0, "s": 'a"bé'}
    assert isinstance(doc.get("n").value, int) and isinstance(doc.get("f").value, float)


def test_duplicate_keys_keep_the_last_like_python_json():
    assert parse_json('{"a": 1, "a": 2}', "c.json").get("a").value == 2


def errors(text):
    diags = Diagnostics()
    assert parse_json(text, "c.json", diags) is None
    return [(d.span.line, d.span.column, d.message, d.help) for d in diags.errors]


def test_misspelt_literal_from_the_corpus():  # "use_amp": ture (INDEX.tsv notes)
    ((line, col, message, help_),) = errors('{\n  "use_amp": ture\n}')
    assert (line, col) == (2, 14)
    assert message == "invalid JSON: unknown literal 'ture'"
    assert help_ == "did you mean 'true'?"


def test_trailing_comma():
    ((line, col, message, _),) = errors('{"a": [1, 2,],\n "b": 1}')
    assert (line, col, message) == (1, 13, "invalid JSON: trailing comma before ']'")


def test_missing_comma_and_missing_brace():
    assert errors('{"a": 1\n "b": 2}')[0][:3] == (
        2,
        2,
        'invalid JSON: unexpected string "b"',
    )
    assert errors('{"a": 1')[0][2] == "invalid JSON: unexpected end of file"


def test_python_literals_and_quotes_are_named():
    assert errors('{"a": True}')[0][3] == "did you mean 'true'?"
    assert errors("{'a': 1}")[0][2] == "invalid JSON: strings must use double quotes"


def test_a_broken_unicode_escape_is_a_syntax_error():
    """Found by make fuzz: '\\u' without four hex digits crashed the string decoder."""
    for text in ('{"a": "\\u12"}', '{"a": "\\u[[1]]dc00"}', '{"a": "\\uZZZZ"}'):
        diags = Diagnostics()
        assert parse_json(text, "c.json", diags) is None
        assert [d.code for d in diags.errors] == ["E101"]
    assert (
        parse_json('{"a": "\\u00e9\\ud800"}', "c.json").get("a").value == "\xe9\ud800"
    )
