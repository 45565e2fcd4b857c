"""The gathered call graph laid out for the home page's SVG: services on a circle,
each edge a curve with an arrow and a label (calls, mean latency, failures).

Everything is computed here, server-side: the page draws it without a script (the
Content-Security-Policy allows none inline), and the numbers are the catalog's own
(see :mod:`.calls`), so a service cannot put markup or geometry into the page.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

NODE_RADIUS = 26
MARGIN = 140         # room for the names (read outwards) and the labels around the circle
BEND = 0.18          # how far a curve bows out, as a share of its length
MAX_NODES = 40


def layout(graph: Mapping[str, Any]) -> dict[str, Any]:
    """``{"width", "height", "nodes", "edges"}`` for the template."""
    names = list(graph.get("services") or [])[:MAX_NODES]
    radius = max(110.0, len(names) * 80 / (2 * math.pi) + 40)
    size = 2 * (radius + MARGIN)
    centre = size / 2
    spots = {n: _on_circle(i, len(names), radius, centre) for i, n in enumerate(names)}
    edges = [_edge(e, spots, centre) for e in graph.get("edges") or []
             if e["caller"] in spots and e["callee"] in spots]
    return {"width": round(size), "height": round(size),
            "nodes": [_node(n, spot, centre) for n, spot in spots.items()], "edges": edges}


def _node(name: str, spot: tuple[float, float], centre: float) -> dict[str, Any]:
    """A node, its name outside the circle (where no edge arrives: they come from
    inside), anchored so that it reads away from the node."""
    x, y = spot
    ux, uy = _unit(x - centre, y - centre)
    anchor = "start" if ux > 0.35 else "end" if ux < -0.35 else "middle"
    return {"name": name, "x": round(x, 1), "y": round(y, 1), "anchor": anchor,
            "label_x": round(x + ux * (NODE_RADIUS + 6), 1),
            "label_y": round(y + uy * (NODE_RADIUS + 12) + 4, 1)}


def _unit(dx: float, dy: float) -> tuple[float, float]:
    norm = math.hypot(dx, dy) or 1.0
    return dx / norm, dy / norm


def label(edge: Mapping[str, Any]) -> str:
    """``12 calls · 3.4 ms`` (and ``· 2 failed`` when some were not ok)."""
    calls = edge["calls"]
    text = f"{calls} call{'s' if calls != 1 else ''}"
    if edge.get("mean_ms") is not None:
        text += f" · {edge['mean_ms']:.1f} ms"
    failed = sum(n for k, n in (edge.get("outcomes") or {}).items() if k != "ok")
    return text + (f" · {failed} failed" if failed else "")


def _on_circle(index: int, count: int, radius: float, centre: float) -> tuple[float, float]:
    angle = -math.pi / 2 + 2 * math.pi * index / max(count, 1)
    return centre + radius * math.cos(angle), centre + radius * math.sin(angle)


def _edge(edge: Mapping[str, Any], spots: Mapping[str, tuple[float, float]],
          centre: float) -> dict[str, Any]:
    start, end = spots[edge["caller"]], spots[edge["callee"]]
    path, (lx, ly) = _loop(start, centre) if start == end else _curve(start, end)
    return {"caller": edge["caller"], "callee": edge["callee"], "path": path,
            "label": label(edge), "label_x": round(lx, 1), "label_y": round(ly, 1),
            "current": edge.get("current", True)}


def _curve(start: tuple[float, float], end: tuple[float, float]):
    """A quadratic curve bowing to its right (so A→B and B→A do not overlap), from
    circle edge to circle edge; and the point its label goes at."""
    (x1, y1), (x2, y2) = start, end
    dx, dy = x2 - x1, y2 - y1
    cx, cy = (x1 + x2) / 2 - dy * BEND, (y1 + y2) / 2 + dx * BEND
    sx, sy = _towards(start, (cx, cy), NODE_RADIUS)
    ex, ey = _towards(end, (cx, cy), NODE_RADIUS + 4)   # the arrowhead stays outside
    nx, ny = _unit(-dy, dx)     # the side the curve bows to: the label sits beyond it
    mid = (0.25 * sx + 0.5 * cx + 0.25 * ex + nx * 9, 0.25 * sy + 0.5 * cy + 0.25 * ey + ny * 9)
    return f"M {sx:.1f} {sy:.1f} Q {cx:.1f} {cy:.1f} {ex:.1f} {ey:.1f}", mid


def _loop(spot: tuple[float, float], centre: float):
    """A service calling itself: a loop on the outer side of its node."""
    x, y = spot
    ux, uy = _unit(x - centre, y - centre)
    px, py = -uy, ux
    base = NODE_RADIUS
    a = (x + ux * base + px * 10, y + uy * base + py * 10)
    b = (x + ux * base - px * 10, y + uy * base - py * 10)
    far = base + 55
    c1 = (x + ux * far + px * 35, y + uy * far + py * 35)
    c2 = (x + ux * far - px * 35, y + uy * far - py * 35)
    path = (f"M {a[0]:.1f} {a[1]:.1f} C {c1[0]:.1f} {c1[1]:.1f} {c2[0]:.1f} {c2[1]:.1f} "
            f"{b[0]:.1f} {b[1]:.1f}")
    return path, (x + ux * (far + 5), y + uy * (far + 5))


def _towards(point: tuple[float, float], target: tuple[float, float],
             distance: float) -> tuple[float, float]:
    (x, y), (tx, ty) = point, target
    length = math.hypot(tx - x, ty - y) or 1.0
    return x + (tx - x) * distance / length, y + (ty - y) * distance / length
