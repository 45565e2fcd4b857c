"""Naming next stages: the ``X-Pipe-Next`` header (``sentiment@1[text]``), field
selection between stages, and version requirements."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from common.core.errors import InvalidInput
from common.core.versions import version_matches  # noqa: F401  (part of this room's API)

PIPE_NEXT_HEADER = "X-Pipe-Next"
_STAGE = re.compile(r"\s*(?P<name>[a-z][a-z0-9_]*)(?:@(?P<req>[^\[,\s]+))?"
                    r"(?:\[(?P<fields>[A-Za-z0-9_ ,]*)\])?\s*(?:,|$)")


@dataclass(frozen=True)
class Stage:
    """A named next stage, optionally with a version requirement and the output fields
    it takes (``sentiment@1[text]`` keeps only ``text`` of the previous output)."""

    name: str
    requirement: str | None = None
    fields: tuple[str, ...] | None = None

    def __str__(self) -> str:
        text = self.name + (f"@{self.requirement}" if self.requirement else "")
        return text + (f"[{' '.join(self.fields)}]" if self.fields is not None else "")

    def select(self, output: Any) -> Any:
        """The part of a previous stage's output this stage takes."""
        return select_fields(output, self.fields)


def parse_stages(value: str) -> list[Stage]:
    """Parse ``"text_cleaner, sentiment@1[text]"``; a malformed list is a 400."""
    stages, position = [], 0
    value = value.strip()
    while position < len(value):
        match = _STAGE.match(value, position)
        if not match or match.end() == position:
            raise InvalidInput(f"Malformed {PIPE_NEXT_HEADER} header near "
                               f"{value[position:position + 20]!r}.")
        fields = match.group("fields")
        stages.append(Stage(match.group("name"), match.group("req"),
                            tuple(fields.replace(",", " ").split()) if fields is not None
                            else None))
        position = match.end()
    return stages


def format_stages(stages: Iterable[Stage | str]) -> str:
    """The header value for a list of next stages."""
    return ", ".join(str(s) for s in stages)


def select_fields(output: Any, names: Iterable[str] | None) -> Any:
    """The named fields of a stage's output (all of it when ``names`` is None, or when
    the output is not an object): what the next stage is sent."""
    if names is None or not isinstance(output, Mapping):
        return output
    return {k: output[k] for k in names if k in output}
