"""Version requirements (``sentiment@1``, ``sentiment@>=1.2,<2``) and choosing, among a
service's deployments, the newest one that meets a requirement.

Several versions of one service can run side by side (``versions:`` in the registry);
the pipe client, ``X-Pipe-Next``, pipeline steps and the gateway all pick through
:func:`pick_deployment`, so they agree on which deployment ``name@requirement`` means.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from .errors import InvalidInput, VersionMismatch
from .registry import ServiceEntry, load_registry, versions_of


def version_matches(version: str, requirement: str) -> bool:
    """``1`` matches 1.x.y, ``1.2`` matches 1.2.y; operators (``>=1.2,<2``) are PEP 440."""
    try:
        if any(op in requirement for op in "<>=!~"):
            return Version(version) in SpecifierSet(requirement)
        wanted = [int(part) for part in requirement.split(".")]
        return list(Version(version).release[:len(wanted)]) == wanted
    except (InvalidSpecifier, InvalidVersion, ValueError) as e:
        raise InvalidInput(f"Cannot compare version {version!r} with requirement "
                           f"{requirement!r}.") from e


def split_ref(ref: str) -> tuple[str, str | None]:
    """``"sentiment@1"`` as ``("sentiment", "1")``; no requirement is None."""
    name, _, requirement = ref.partition("@")
    return name.strip(), (requirement.strip() or None)


#: A service's deployments as (version, deployment name), newest first.
Deployments = Sequence[tuple[str, str]]


def deployment_table(entries: Mapping[str, ServiceEntry]) -> dict[str, list[tuple[str, str]]]:
    """For each service that states its versions in the registry, its deployments
    newest first; services that state none are called by their name alone."""
    return {service: [(e.version, e.name) for e in deployments]
            for service, deployments in versions_of(entries).items()
            if any(e.version for e in deployments)}


def pick_deployment(service: str, requirement: str | None,
                    table: Mapping[str, Deployments]) -> str:
    """The deployment ``service@requirement`` reaches: the newest whose version meets
    the requirement (the newest of all without one); :class:`VersionMismatch` naming
    the versions served when none does. A service without stated versions is its own
    single deployment (its ``/metadata`` is then checked by the caller)."""
    deployments = table.get(service)
    if not deployments:
        return service
    for version, name in deployments:
        if requirement is None or version_matches(version, requirement):
            return name
    served = [version for version, _ in deployments]
    raise VersionMismatch(f"{service} has no version matching {requirement!r}; it serves "
                          f"{', '.join(served)}.",
                          {"requirement": requirement, "versions": served}, service=service)


def resolve_ref(ref: str, entries: Mapping[str, ServiceEntry] | None = None) -> str:
    """The registry name of the deployment ``ref`` (``name`` or ``name@requirement``)
    reaches, by the registry in force unless ``entries`` are given."""
    service, requirement = split_ref(ref)
    try:
        table = deployment_table(load_registry() if entries is None else entries)
    except OSError:    # no registry here: names are deployments
        table = {}
    return pick_deployment(service, requirement, table)
