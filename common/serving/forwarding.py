"""Hybrid sequencing: a service computes, then forwards its output to the next stages
named in ``X-Pipe-Next``; the last stage's answer travels back to the caller."""
from __future__ import annotations

from typing import Any, Callable, Mapping

from common.client import PIPE_NEXT_HEADER, Client, Stage, parse_stages
from common.core.errors import InvalidInput


def requested_stages(headers: Mapping[str, str],
                     get_client: Callable[[], Client]) -> list[Stage]:
    """The stages a request asks to be forwarded to; only registered services allowed.

    The client (and so the registry) is consulted only when the header is present.
    """
    value = headers.get(PIPE_NEXT_HEADER, "").strip()
    if not value:
        return []
    stages = parse_stages(value)
    client = get_client()
    unknown = [s.name for s in stages if not client.knows(s.name)]
    if unknown:
        raise InvalidInput(f"{PIPE_NEXT_HEADER} names {', '.join(unknown)}, which "
                           "is not a registered service; only registered services can be "
                           "next stages.", {PIPE_NEXT_HEADER: unknown})
    return stages


def forward(client: Client, stages: list[Stage], outputs: list[Any], is_batch: bool,
            own_metadata: dict[str, Any]) -> dict[str, Any]:
    """Send ``outputs`` to the first stage with the rest as its next stages."""
    first, rest = stages[0], stages[1:]
    payload = [first.select(o) for o in outputs] if is_batch else first.select(outputs[0])
    ref = first.name + (f"@{first.requirement}" if first.requirement else "")
    answer = client.algo(ref).pipe(payload, next=rest)
    downstream = dict(answer.metadata)
    hops = downstream.pop("hops", None) or [dict(downstream)]
    return {"result": answer.result, "metadata": {**downstream, "hops": [own_metadata] + hops}}
