"""The container entry point: serve one registered service, or one process group,
under gunicorn.

``python -m deploy.serve [NAME]`` (NAME defaults to ``$MODELCHAIN_SERVICE``, which the
image's ``SERVICE`` build argument sets) looks the name up in the registry: a service
is served alone, a process group (``group:``) with all its members, each on its port.
It replaces itself with gunicorn, bound to ``0.0.0.0:<the registry's port>`` (each
member's, for a group) unless ``MODELCHAIN_BIND`` says otherwise. The compose and Kubernetes files spell out the same
command and environment (:func:`command`, :func:`environment`), so they can be checked.
"""
from __future__ import annotations

import os
import sys
from typing import Mapping

import dataclasses

from common.core.registry import (GROUP_MEMBERS_ENV, ProcessUnit, ServiceEntry,
                                  load_registry, process_units)

GUNICORN_CONFIG = "deploy/gunicorn.conf.py"   # relative to the image's WORKDIR


def as_unit(target: ServiceEntry | ProcessUnit) -> ProcessUnit:
    """What one container serves: a process group, or one service on its own."""
    if isinstance(target, ProcessUnit):
        return target
    return ProcessUnit(target.name, (dataclasses.replace(target, group=""),))


def command(target: ServiceEntry | ProcessUnit) -> list[str]:
    """The command line that serves ``target`` in a container."""
    return ["python", "-m", "gunicorn", "--config", GUNICORN_CONFIG, as_unit(target).app]


def environment(target: ServiceEntry | ProcessUnit) -> dict[str, str]:
    """The settings a container of ``target`` needs (bind on every interface)."""
    unit = as_unit(target)
    env = {"MODELCHAIN_SERVICE": unit.name,
           "MODELCHAIN_BIND": ",".join(f"0.0.0.0:{m.port}" for m in unit.members),
           "MODELCHAIN_WORKERS": str(unit.workers), "MODELCHAIN_THREADS": str(unit.threads)}
    if unit.grouped:
        env[GROUP_MEMBERS_ENV] = unit.members_value()
    return {**unit.env, **env}


def resolve(name: str | None, environ: Mapping[str, str]) -> ProcessUnit:
    """What to serve: a registered service alone, or a process group; a clear error
    for a missing or unknown name."""
    name = name or environ.get("MODELCHAIN_SERVICE", "")
    registry = load_registry(environ=environ)
    if name in registry:
        return as_unit(registry[name])
    groups = {u.name: u for u in process_units(registry.values()) if u.grouped}
    if name not in groups:
        raise SystemExit(f"deploy.serve: {name or '(none)'!r} is not a registered service "
                         f"or process group (set SERVICE when building the image); known: "
                         f"{', '.join([*registry, *groups])}")
    return groups[name]


def main(argv: list[str] | None = None) -> None:
    """Replace this process with gunicorn serving the named service."""
    argv = sys.argv[1:] if argv is None else argv
    unit = resolve(argv[0] if argv else None, os.environ)
    env = {**environment(unit), **os.environ}   # the deployment's own settings win
    cmd = command(unit)
    cmd[0] = sys.executable
    os.execve(cmd[0], cmd, env)


if __name__ == "__main__":
    main()
