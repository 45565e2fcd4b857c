"""Printing tables and writing ``bench-results/<scenario>.json``."""
from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from common.core.registry import ROOT

RESULTS_DIR = ROOT / "bench-results"


@dataclass
class Table:
    """A titled table of rows (lists of cells) with notes printed under it."""

    title: str
    columns: Sequence[str]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: Any) -> None:
        """Append one row."""
        self.rows.append(list(cells))

    def render(self) -> str:
        """The table as fixed-width text: first column left-aligned, the others right."""
        cells = [[str(c) for c in self.columns]] + [[fmt(c) for c in r] for r in self.rows]
        widths = [max(len(row[i]) for row in cells) for i in range(len(self.columns))]
        lines = [self.title, "-" * len(self.title)]
        for index, row in enumerate(cells):
            lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(row, widths))).rstrip())
            if index == 0:
                lines.append("  ".join("-" * w for w in widths))
        return "\n".join(lines + [f"  {note}" for note in self.notes])


def fmt(value: Any) -> str:
    """A cell: floats with sensible precision, None as a dash."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return str(value)


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator / denominator, or None when either is missing or zero."""
    if not numerator or not denominator:
        return None
    return numerator / denominator


def machine() -> dict[str, Any]:
    """What the figures were taken on, and how busy it was."""
    load1, load5, load15 = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": platform.python_version(),
            "platform": platform.platform(), "loadavg": [round(load1, 2), round(load5, 2),
                                                         round(load15, 2)],
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}


def load_line() -> str:
    """``load average 1.23 0.98 0.75 on 2 CPUs``, for the printed header."""
    info = machine()
    return f"load average {' '.join(map(str, info['loadavg']))} on {info['cpus']} CPUs"


def write_json(scenario: str, payload: dict[str, Any], directory: Path = RESULTS_DIR) -> Path:
    """Write one scenario's results; returns the file."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario}.json"
    path.write_text(json.dumps({"scenario": scenario, "machine": machine(), **payload},
                               indent=2, default=str) + "\n")
    return path
