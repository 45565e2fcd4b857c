"""Reading the TF OD API's label_map.pbtxt text format."""
from __future__ import annotations

import pytest

from services.object_detection.label_map import (LabelMapError, format_label_map,
                                                 load_label_map, parse_label_map)
from services.object_detection.shapes import LABELS


def test_the_shipped_label_map():
    from services.object_detection.app import ARTIFACTS
    labels = load_label_map(ARTIFACTS / "label_map.pbtxt")
    assert labels == {i + 1: name for i, name in enumerate(LABELS)}


def test_single_line_items_and_quotes():
    text = "item { id: 1 name: 'circle' } item { id: 2 name: \"square\" }"
    assert parse_label_map(text) == {1: "circle", 2: "square"}


def test_a_zoo_style_map_with_comments_display_names_and_nested_blocks():
    text = """
    # COCO, abridged
    item {
      name: "/m/01g317"
      id: 1
      display_name: "person"
      keypoints { id: 0 label: "nose" }
      keypoints { id: 1 label: "left_eye" }
    }
    item {
      name: "/m/0199g"   # no display name: the name is used
      id: 2
    }
    item { id: 3 name: 'it\\'s {braces}' }
    """
    assert parse_label_map(text) == {1: "person", 2: "/m/0199g", 3: "it's {braces}"}


def test_format_and_parse_round_trip():
    labels = {1: "circle", 7: "a b", 3: "x"}
    assert parse_label_map(format_label_map(labels)) == labels


@pytest.mark.parametrize("text", [
    "", "item { name: 'no id' }", "item { id: 'x' name: 'bad id' }", "item { id: 1 }",
    "thing { id: 1 name: 'a' }", "item { id: 1 name: 'a' ", "item { id 1 name: 'a' }",
    "item { id: 1 name: 'a' k { }",
])
def test_malformed_maps_are_errors(text):
    with pytest.raises(LabelMapError):
        parse_label_map(text)
