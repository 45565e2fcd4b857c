"""Process groups: several services in one process, each on its own port.

``group: <name>`` in the registry puts services in one gunicorn process (see
``deploy/registry.yaml``). The process binds every member's port; :class:`GroupApp`
hands each request to the member that owns the port it arrived on, so callers see the
same URLs, routes, schemas, limits, metrics and errors as before. What changes is a
call from one member to another: the pipe client finds the callee in this process
(:mod:`common.client.local`) and calls it in-process (:mod:`.colocated`).

Each member keeps its own app, model, runner, batcher and metrics, so one model's
queue shows on its own metrics, not inside another's. It also keeps its own share of
the process's threads (:class:`MemberShare`): at most its ``threads`` requests run in
it at once and as many wait, up to ``MODELCHAIN_MAX_QUEUE_WAIT_S``; past that it
answers 503 itself. The process has twice its members' threads together, so a member
flooded with requests never takes another member's threads.
"""
from __future__ import annotations

import json
import os
import threading
from typing import Any, Callable, Iterable, Mapping

from flask import Flask
from gunicorn.util import import_app
from werkzeug.wsgi import ClosingIterator

from common.client import local as colocated
from common.core.registry import GROUP_MEMBERS_ENV, load_registry, parse_members

from .colocated import ColocatedEndpoint


class MemberShare:
    """One member's share of the process's threads: ``threads`` running, as many
    waiting (each at most ``max_wait`` seconds), the rest refused at once."""

    def __init__(self, threads: int, max_wait: float):
        self.running = threading.BoundedSemaphore(threads)
        self.threads, self.max_wait = threads, max_wait
        self._waiting = 0
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        """Take a running slot; False when none came free in time."""
        if self.running.acquire(blocking=False):
            return True
        with self._lock:
            if self._waiting >= self.threads:
                return False
            self._waiting += 1
        try:
            return self.running.acquire(timeout=self.max_wait)
        finally:
            with self._lock:
                self._waiting -= 1

    def release(self) -> None:
        """Give the running slot back."""
        self.running.release()


class GroupApp:
    """A WSGI app dispatching to its members by the port a request arrived on."""

    def __init__(self, name: str, members: Mapping[str, tuple[int, Flask]],
                 threads: Mapping[str, int] | None = None, max_wait: float = 0.8):
        self.name = name
        self.by_name = {member: app for member, (_port, app) in members.items()}
        self.by_port = {str(port): app for port, app in members.values()}
        #: The member apps (``start_model`` loads each one's model after the fork).
        self.members = list(self.by_name.values())
        threads = threads or {}
        self.shares = {str(port): (member, MemberShare(threads.get(member, 8), max_wait))
                       for member, (port, _app) in members.items()}

    def register(self) -> None:
        """Make every member reachable in-process from this process's pipe clients."""
        for member, app in self.by_name.items():
            colocated.register(member, ColocatedEndpoint(app))

    def unregister(self) -> None:
        """Undo :meth:`register` (their callers go back to HTTP)."""
        for member in self.by_name:
            colocated.unregister(member)

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        port = str(environ.get("SERVER_PORT", ""))
        app = self.by_port.get(port)
        if app is None:
            return _misdirected(self.name, environ, start_response)
        member, share = self.shares[port]
        if not share.acquire():
            return _busy(member, share.threads, start_response)
        try:
            answer = app(environ, start_response)
        except BaseException:
            share.release()
            raise
        return ClosingIterator(answer, [share.release])   # held until the body is sent


def create_group_app(name: str, members: Mapping[str, int] | None = None,
                     apps: Mapping[str, str] | None = None) -> GroupApp:
    """The app of process group ``name``: its members and their ports come from
    ``members``, else ``MODELCHAIN_GROUP_MEMBERS`` (``name=port,...``, which the launcher
    and the deploy files set), else the registry's entries of that group. Members are
    built with their own factories (``apps``, else the registry's ``app``)."""
    registry = load_registry()
    members = dict(members or _members_from(name, registry, os.environ))
    if not members:
        raise SystemExit(f"process group {name!r} has no members: set "
                         f"{GROUP_MEMBERS_ENV} or give services 'group: {name}' in the "
                         "registry")
    apps = dict(apps or {})
    built = {member: (port, _build(apps.get(member) or _app_of(member, registry)))
             for member, port in members.items()}
    threads = {m: registry[m].threads for m in members if m in registry}
    group = GroupApp(name, built, threads, _seconds("MODELCHAIN_MAX_QUEUE_WAIT_S", 0.8))
    if colocated.enabled():
        group.register()
    return group


def _members_from(name: str, registry: Mapping[str, Any],
                  environ: Mapping[str, str]) -> dict[str, int]:
    if environ.get(GROUP_MEMBERS_ENV, "").strip():
        return parse_members(environ[GROUP_MEMBERS_ENV])
    return {e.name: e.port for e in registry.values() if e.group == name}


def _app_of(member: str, registry: Mapping[str, Any]) -> str:
    if member not in registry:
        raise SystemExit(f"process group member {member!r} is not a registered service")
    return registry[member].app


def _build(spec: str) -> Flask:
    """A member's app from its gunicorn-style spec, ``module:factory(...)``."""
    app = import_app(spec)
    return getattr(app, "__wrapped__", app)


def _seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


def _busy(member: str, threads: int, start_response: Callable) -> list[bytes]:
    return _json_answer(start_response, "503 Service Unavailable", {"error": {
        "code": "busy", "message": f"{member} is busy: its {threads} threads are taken and "
        "as many requests wait; try again shortly.",
        "details": {"service": member, "threads": threads}}}, [("Retry-After", "1")])


def _json_answer(start_response: Callable, status: str, document: dict,
                 headers: list[tuple[str, str]] = ()) -> list[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"),
                            ("Content-Length", str(len(body))), *headers])
    return [body]


def _misdirected(name: str, environ: Mapping[str, Any],
                 start_response: Callable) -> list[bytes]:
    port = environ.get("SERVER_PORT", "")
    return _json_answer(start_response, "404 Not Found", {"error": {
        "code": "not_found", "message": f"No service of process group {name} listens on "
        f"port {port}.", "details": {"port": port}}})
