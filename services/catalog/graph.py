"""A pipeline's steps (from its ``/metadata``) as nodes the service page draws.

Step shapes (``common.pipeline.Step.describe``): ``{service, take?}``,
``{service, map: true, over, as}`` and ``{parallel: {branch: step, ...}}``. Anything
else a service sends is shown as an unknown step rather than trusted.
"""
from __future__ import annotations

from typing import Any, Collection, Mapping

from .directory import as_mapping, as_text

MAX_BRANCH_DEPTH = 4  # parallel inside parallel is rare; a hostile document is not


def graph(steps: list[Any], known: Collection[str]) -> list[dict[str, Any]]:
    """The nodes of a pipeline, in order; ``known`` services get a link."""
    return [node(step, known) for step in steps[:50]]


def node(step: Any, known: Collection[str], depth: int = 0) -> dict[str, Any]:
    """One step as ``{kind, service, known, notes}`` or ``{kind: parallel, branches}``."""
    step = as_mapping(step)
    if "parallel" in step and depth < MAX_BRANCH_DEPTH:
        branches = as_mapping(step["parallel"])
        return {"kind": "parallel", "branches": [
            {"label": as_text(label, 100), "node": node(inner, known, depth + 1)}
            for label, inner in list(branches.items())[:20]]}
    service = as_text(step.get("service"), 100)
    if not service:
        return {"kind": "unknown", "service": "?", "known": False, "notes": []}
    return {"kind": "map" if step.get("map") else "service", "service": service,
            "known": service in known, "notes": _notes(step)}


def _notes(step: Mapping[str, Any]) -> list[str]:
    """What a step does besides calling its service: a map, the fields it takes."""
    notes = []
    if step.get("map"):
        notes.append(f"for each of {as_text(step.get('over'), 100)} "
                     f"→ {as_text(step.get('as'), 100)}")
    take = step.get("take")
    if isinstance(take, list):
        notes.append("takes " + ", ".join(as_text(t, 50) for t in take[:20]))
    return notes
