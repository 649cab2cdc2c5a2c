import json

import pytest

from claragen.transpiler.jsonparse import parse_json
from claragen.transpiler.passes.dialect import detect_dialect
from tests.conftest import CORPUS, minimal


def dialect(obj):
    return detect_dialect(parse_json(json.dumps(obj), "c.json"))


def test_version_marker_and_code_strings_mean_41():
    assert dialect(minimal()) == "4.1"
    cfg = minimal()
    del cfg["CLARA_TRAIN_VERSION"]
    assert dialect(cfg) == "4.1"  # "#@model.parameters()", "@dataset"


def test_tf_markers_mean_3x_and_monai_markers_40():
    tf = {"train": {"pre_transforms": [{"name": "LoadNifti", "args": {"fields": "image"}}],
                    "image_pipeline": {}}}  # fmt: skip
    assert dialect(tf) == "3"
    assert dialect({"train": {"pre_transforms": [{"name": "LoadImaged",
                                                  "args": {"keys": "image"}}]}}) == "4.0"  # fmt: skip


def corpus_rows():
    index = CORPUS / "INDEX.tsv"
    if not index.is_file():
        return []
    lines = index.read_text().splitlines()
    head = lines[0].split("\t")
    rows = [dict(zip(head, line.split("\t"), strict=False)) for line in lines[1:]]
    return [
        r
        for r in rows
        if r["kind"] == "train"
        and r["json_ok"] == "yes"
        and r["syntax_detected"] != "neutral"
    ]


@pytest.mark.corpus
@pytest.mark.parametrize("row", corpus_rows(), ids=lambda r: r["file"].split("/")[-1])
def test_detection_agrees_with_the_corpus_index(row):
    expected = {"4.1": "4.1", "4.0": "4.0"}.get(row["syntax_detected"], "3")
    node = parse_json((CORPUS / row["file"]).read_text(), row["file"])
    assert detect_dialect(node) == expected
