"""The TF Object Detection API's ``label_map.pbtxt``, read without protobuf.

The format is protobuf text: a list of ``item { id: 1 name: 'circle' }`` blocks, where
an item may also carry ``display_name`` (zoo maps put a readable name there and an
identifier in ``name``), comments (``#``) and nested blocks such as ``keypoints``,
which are skipped.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator, Mapping

_TOKEN = re.compile(r"""\s*(?:(\#[^\n]*)|([{}:])|("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')|"""
                    r"""([^\s{}:"'#]+))""")


class LabelMapError(ValueError):
    """The text is not a label map."""


def parse_label_map(text: str) -> dict[int, str]:
    """``{id: name}`` from a label map's text; ``display_name`` wins over ``name``."""
    tokens = list(_tokens(text))
    labels: dict[int, str] = {}
    position = 0
    while position < len(tokens):
        if tokens[position] != "item" or tokens[position + 1:position + 2] != ["{"]:
            raise LabelMapError(f"expected 'item {{' at token {position}: "
                                f"{tokens[position]!r}")
        fields, position = _block(tokens, position + 2)
        item_id, name = _item(fields)
        labels[item_id] = name
    if not labels:
        raise LabelMapError("the label map has no items")
    return labels


def load_label_map(path: str | Path) -> dict[int, str]:
    """Parse the label map file at ``path``."""
    return parse_label_map(Path(path).read_text(encoding="utf-8"))


def format_label_map(labels: Mapping[int, str]) -> str:
    """The text of a label map with these ids and names."""
    return "".join(f"item {{\n  id: {i}\n  name: '{name}'\n}}\n"
                   for i, name in sorted(labels.items()))


def _tokens(text: str) -> Iterator[str]:
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            if text[position:].strip():
                raise LabelMapError(f"cannot read the label map near {text[position:][:20]!r}")
            return
        position = match.end()
        comment, punct, quoted, word = match.groups()
        if punct or word:
            yield punct or word
        elif quoted:
            yield "\0" + _unquote(quoted)  # marked, so a quoted "{" is no brace


def _unquote(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _block(tokens: list[str], position: int) -> tuple[dict[str, str], int]:
    """The scalar fields of a block up to its closing brace (nested blocks skipped)."""
    fields: dict[str, str] = {}
    while position < len(tokens) and tokens[position] != "}":
        key = tokens[position]
        following = tokens[position + 1] if position + 1 < len(tokens) else ""
        if following == "{" or (following == ":" and tokens[position + 2:position + 3] == ["{"]):
            position = _skip(tokens, tokens.index("{", position) + 1)
        elif following == ":" and position + 2 < len(tokens):
            fields.setdefault(key, tokens[position + 2])
            position += 3
        else:
            raise LabelMapError(f"expected 'field: value' near {key!r}")
    if position >= len(tokens):
        raise LabelMapError("an item is not closed with '}'")
    return fields, position + 1


def _skip(tokens: list[str], position: int) -> int:
    """The position after the brace that closes the block opened before ``position``."""
    depth = 1
    while position < len(tokens) and depth:
        depth += {"{": 1, "}": -1}.get(tokens[position], 0)
        position += 1
    if depth:
        raise LabelMapError("a nested block is not closed with '}'")
    return position


def _item(fields: dict[str, str]) -> tuple[int, str]:
    try:
        item_id = int(fields["id"].lstrip("\0"))
    except (KeyError, ValueError) as e:
        raise LabelMapError(f"an item needs an integer id: {fields}") from e
    name = fields.get("display_name") or fields.get("name")
    if name is None:
        raise LabelMapError(f"item {item_id} has no name")
    return item_id, name.lstrip("\0")
