"""What ``/predict`` answers: the model's outputs, or, when ``X-Pipe-Next`` names next
stages, the last stage's answer (hybrid sequencing: compute, then forward).

Per-item failures stay per item at every hop: an item that failed here, or that a next
stage refused, answers ``None`` and carries its error, in the caller's numbering, in
``metadata.errors`` (``{"1": {"code", "message", "details", "stage"}}``).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

from common.client import (PIPE_NEXT_HEADER, Client, PartialAnswer, Stage, parse_stages,
                           pipe_partial)
from common.core.errors import ITEM_ERRORS_KEY, InvalidInput, ServiceError, \
    item_error_document

from .model import Failed


#: The most next stages one request may name, and the longest header naming them.
MAX_STAGES = 8
MAX_HEADER_CHARS = 1024


def requested_stages(headers: Mapping[str, str], get_client: Callable[[], Client],
                     own_name: str = "") -> list[Stage]:
    """The stages a request asks to be forwarded to; only registered services allowed.

    A chain names at most :data:`MAX_STAGES` stages, each service once and never the
    service forwarding: every hop holds a thread of the service it waits on, so a chain
    through one service again could hold all of its threads waiting on itself. The
    client (and so the registry) is consulted only when the header is present.
    """
    value = headers.get(PIPE_NEXT_HEADER, "").strip()
    if not value:
        return []
    if len(value) > MAX_HEADER_CHARS:
        raise InvalidInput(f"{PIPE_NEXT_HEADER} is longer than {MAX_HEADER_CHARS} "
                           "characters.", {PIPE_NEXT_HEADER: ["Too long."]})
    stages = parse_stages(value)
    _check_chain([s.name for s in stages], own_name)
    client = get_client()
    unknown = [s.name for s in stages if not client.knows(s.name)]
    if unknown:
        raise InvalidInput(f"{PIPE_NEXT_HEADER} names {', '.join(unknown)}, which "
                           "is not a registered service; only registered services can be "
                           "next stages.", {PIPE_NEXT_HEADER: unknown})
    return stages


def _check_chain(names: list[str], own_name: str) -> None:
    if len(names) > MAX_STAGES:
        raise InvalidInput(f"{PIPE_NEXT_HEADER} names {len(names)} stages; at most "
                           f"{MAX_STAGES} are allowed.", {PIPE_NEXT_HEADER: ["Too many stages."]})
    repeated = sorted({n for n in names if names.count(n) > 1 or n == own_name})
    if repeated:
        raise InvalidInput(f"{PIPE_NEXT_HEADER} names {', '.join(repeated)} again; a chain "
                           "may pass through each service once, so that no service waits "
                           "on itself.", {PIPE_NEXT_HEADER: repeated})


def answer(outputs: list[Any], is_batch: bool, metadata: dict[str, Any]) -> dict[str, Any]:
    """The answer document of the model's own outputs."""
    if not is_batch:
        if isinstance(outputs[0], Failed):
            raise outputs[0].error
        return {"result": outputs[0], "metadata": metadata}
    errors = {i: o.error for i, o in enumerate(outputs) if isinstance(o, Failed)}
    results = [None if i in errors else o for i, o in enumerate(outputs)]
    return {"result": results, "metadata": with_item_errors(metadata, errors)}


def with_item_errors(metadata: dict[str, Any],
                     errors: Mapping[int, ServiceError]) -> dict[str, Any]:
    """``metadata`` with ``errors`` (by index) in its per-item form, when there are any."""
    if not errors:
        return metadata
    return {**metadata, ITEM_ERRORS_KEY: {str(i): item_error_document(e)
                                          for i, e in sorted(errors.items())}}


def forward(client: Client, stages: list[Stage], outputs: list[Any], is_batch: bool,
            own_metadata: dict[str, Any]) -> dict[str, Any]:
    """Send ``outputs`` to the first stage with the rest as its next stages."""
    first, rest = stages[0], stages[1:]
    ref = first.name + (f"@{first.requirement}" if first.requirement else "")
    algo = client.algo(ref)
    if not is_batch:
        if isinstance(outputs[0], Failed):
            raise outputs[0].error
        downstream = algo.pipe(first.select(outputs[0]), next=rest)
        return _with_hops(downstream.result, downstream.metadata, own_metadata, {})
    alive = [i for i, o in enumerate(outputs) if not isinstance(o, Failed)]
    failed = {i: o.error for i, o in enumerate(outputs) if isinstance(o, Failed)}
    partial = PartialAnswer([None] * len(outputs), failed)
    if alive:
        partial = pipe_partial(algo, [first.select(outputs[i]) for i in alive],
                               next=rest).placed(alive, len(outputs), failed)
    return _with_hops(partial.results, partial.metadata, own_metadata, partial.errors)


def _with_hops(result: Any, downstream: Mapping[str, Any], own_metadata: dict[str, Any],
               errors: Mapping[int, ServiceError]) -> dict[str, Any]:
    """The answer: the last stage's metadata, every hop's, and the items' errors in the
    caller's numbering (a later stage's own numbering is dropped)."""
    downstream = {k: v for k, v in downstream.items() if k != ITEM_ERRORS_KEY}
    hops = downstream.pop("hops", None) or ([dict(downstream)] if downstream else [])
    # The caller's batch: a later stage may have been sent only the items still alive.
    metadata = {**downstream, "batch_size": own_metadata["batch_size"],
                "hops": [own_metadata] + hops}
    return {"result": result, "metadata": with_item_errors(metadata, errors)}
