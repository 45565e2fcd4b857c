"""Warm dependents: a service that calls others reports ready only once they are.

A service's **dependents** are the services it calls, minus itself:

- **declared**: its model's ``calls`` (a pipeline's steps), narrowed by the registry's
  ``calls:`` policy where it states one (a call the policy forbids is refused anyway);
  ``ANY_SERVICE`` (``"*"``: the catalog, the gateway, alexa_skill) declares none;
- **observed**: the services this process has made pipe calls to, and, after a restart,
  the ones the catalog saw it call (``GET /api/calls`` of ``OBSERVED_FROM``, asked until
  it answers or the service is ready, each time within ``CATALOG_ASK_TIMEOUT_S``).
  Nothing is written to disk.

Only dependents this deployment serves count: a name whose URL is set for it
(``MODELCHAIN_URL_<NAME>``, as ``make run``, compose and Kubernetes set for every
service they start), one co-located in this process, or one of the pipe client's
in-process apps. A service started on its own with the registry's default URLs waits
for nobody.

A background thread (started after the fork, with the model's loading) probes each
dependent's ``/readyz`` every ``DEPENDENTS_POLL_S`` until the service is ready, then
every ``DEPENDENTS_RECHECK_S``, each probe within ``DEPENDENTS_PROBE_TIMEOUT_S``; a
``/readyz`` request only reads the last result. A dependent counts as ready and warmed
when its ``/readyz`` is 200 (its model is loaded and has run its warm-up), or when its
model is ready and it only waits for dependents of its own: those are then probed in
turn, and the service itself is skipped, so a cycle (or a self-call) cannot deadlock.

Once ready, a service stays ready (readiness is latched): a dependent that goes away
later is logged and shown in the ``/readyz`` body, never turned into a 503. Every
replica of a caller sees the same dependent, so taking them out of the load balancer
would turn the calls that need it failing (502, with the stage named) into every call
failing, and one blip would flap the whole chain. The wait is bounded by
``DEPENDENTS_MAX_WAIT_S`` (then the service turns ready and says which dependents it
gave up on); ``WAIT_FOR_DEPENDENTS=0`` turns it off.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from marshmallow import Schema, fields, validate

from common.client import Client, unreached
from common.client.local import find as find_colocated
from common.core import identity
from common.core.errors import NotReady, ServiceError
from common.core.registry import load_registry

from .callgraph import CallRecorder
from .model import ANY_SERVICE, Model

log = logging.getLogger(__name__)

#: The settings, with their defaults (every service has them; see the module doc).
DEFAULTS: dict[str, Any] = {
    "WAIT_FOR_DEPENDENTS": True,
    "DEPENDENTS_POLL_S": 0.5,
    "DEPENDENTS_RECHECK_S": 10.0,
    "DEPENDENTS_PROBE_TIMEOUT_S": 1.0,
    "DEPENDENTS_MAX_WAIT_S": 600.0,    # 0: no limit
    "OBSERVED_FROM": "catalog",         # "": ask no one after a restart
    "CATALOG_ASK_TIMEOUT_S": 3.0,
}
#: The route of ``OBSERVED_FROM`` that answers the gathered graph (the catalog's).
GRAPH_ROUTE = "/api/calls"

# A dependent's state, as its /readyz told us.
READY = "ready"                # 200: loaded, warmed (and its own dependents too)
WAITING = "waiting"            # 503, its model ready: it waits for its own dependents
LOADING = "loading"            # 503: its model is loading or warming up
FAILED = "failed"              # 503: its model failed to load
UNREACHABLE = "unreachable"    # no answer (refused, reset, timed out)
NO_READINESS = "no_readiness"  # it answers, but has no /readyz (not a modelchain service)
ERROR = "error"                # any other answer
UNCHECKED = "unchecked"        # not probed yet
#: The states that let a caller turn ready (a waiting one's dependents are probed too).
SATISFIED = frozenset({READY, WAITING, NO_READINESS})
MAX_REPORTED = 64              # names read from a dependent's answer


@dataclass(frozen=True)
class Probe:
    """What one dependent's ``/readyz`` said: its state, and (while it waits) whom it
    waits for."""

    state: str
    dependents: tuple[str, ...] = ()


def probe(client: Client, name: str, timeout: float) -> Probe:
    """One dependent's readiness, within ``timeout`` seconds."""
    try:
        client.call(name, "GET", "/readyz", timeout=timeout)
    except NotReady as e:
        return _not_ready(e.details if isinstance(e.details, Mapping) else {})
    except ServiceError as e:
        return Probe(_failure_state(e))
    return Probe(READY)


def _not_ready(details: Mapping[str, Any]) -> Probe:
    if details.get("model_ready") is True:
        waits = details.get("dependents")
        names = [str(n)[:100] for n in waits[:MAX_REPORTED]] if isinstance(waits, list) else []
        return Probe(WAITING, tuple(names))
    return Probe(FAILED if details.get("load_error") else LOADING)


def _failure_state(error: ServiceError) -> str:
    if unreached(error):
        return UNREACHABLE
    details = error.details if isinstance(error.details, Mapping) else {}
    return NO_READINESS if 404 in (error.status, details.get("status")) else ERROR


def served_here(name: str, environ: Mapping[str, str], client: Callable[[], Client],
                own: Client | None = None) -> bool:
    """Whether this deployment serves ``name`` (see the module doc): one of ``own``'s
    in-process apps (a client set on the model), co-located here, or given a URL by the
    environment (and then known to the process's ``client()``, built only then)."""
    if own is not None and name in own.local:
        return True
    if find_colocated(name) is None and \
            not environ.get(f"MODELCHAIN_URL_{name.upper()}", "").strip():
        return False
    try:
        return client().knows(name)
    except ServiceError:   # no registry to build a client from: nothing is served
        return False


def declared(model: Model, policy: Iterable[str] | None) -> list[str]:
    """The dependents ``model`` declares: its ``calls`` (none for ``ANY_SERVICE``), less
    itself, within the registry's ``policy`` when it states one."""
    names = [n for n in model.calls if n not in (ANY_SERVICE, model.name)]
    if ANY_SERVICE in model.calls:
        return []
    return names if policy is None else [n for n in names if n in set(policy)]


def walk(name: str, first: Iterable[str], check: Callable[[str], Probe],
         reachable: Callable[[str], bool]) -> dict[str, str]:
    """Every dependent's state: ``first``, then the dependents of those that wait for
    their own, each probed once, ``name`` itself never (cycles end there)."""
    states: dict[str, str] = {}
    pending = list(first)
    while pending:
        current = pending.pop(0)
        if current == name or current in states:
            continue
        result = check(current)
        states[current] = result.state
        if result.state == WAITING:
            pending += [n for n in result.dependents if reachable(n)]
    return states


class Dependents:
    """The readiness gate of one service app and the thread that keeps it informed."""

    def __init__(self, model: Model, config: Mapping[str, Any], recorder: CallRecorder,
                 model_ready: Callable[[], bool], environ: Mapping[str, str] | None = None):
        self.model, self.config, self.recorder = model, config, recorder
        self.model_ready = model_ready
        self.environ = os.environ if environ is None else environ
        self.enabled = bool(config["WAIT_FOR_DEPENDENTS"])
        self._latched = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._started_at = time.monotonic()
        self._policy: tuple[str, ...] | None = None
        self._remembered: list[str] = []
        # Asked at least once (latching waits for that), and answered (asking stops).
        self._asked = self._answered = not config["OBSERVED_FROM"]
        self._states: dict[str, str] = {}
        self.gave_up: list[str] = []

    @property
    def client(self) -> Client:
        """The client the model calls through (so the probes reach the same services)."""
        return self.model.client

    def start(self) -> None:
        """Start the background checks, once per process (after the fork)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._started_at = time.monotonic()
                    self._thread = threading.Thread(target=self._run, daemon=True,
                                                    name=f"dependents-{self.model.name}")
                    self._thread.start()

    def check(self) -> None:
        """Nothing once ready; else a 503 naming the dependents not ready yet (read from
        the last background check: no probe runs here)."""
        if not self.enabled or self._latched.is_set():
            return
        self.start()
        if not self._try_latch():
            raise NotReady("Waiting for the services it calls to be ready and warmed.",
                           self.waiting_details())

    def names(self) -> list[str]:
        """The dependents waited for: declared, observed and remembered, if served."""
        named = [self._deployment(n) for n in declared(self.model, self._policy)]
        found = [n for n in dict.fromkeys([*named, *self.recorder.callees(),
                                           *self._remembered]) if n != self.model.name]
        return [n for n in found if self._reachable(n)] if found else []

    def describe(self) -> dict[str, Any]:
        """The last known state of every dependent (the ``/readyz`` body)."""
        with self._lock:
            states = dict(self._states)
        return {"dependents": states, **({"gave_up_on": self.gave_up} if self.gave_up
                                          else {})}

    def waiting_details(self) -> dict[str, Any]:
        """What a 503 says: the dependents, and those not ready and warmed yet."""
        names = self.names()
        with self._lock:
            states = dict(self._states)   # the last round's, dependents' dependents too
        waiting = {n: s for n, s in states.items() if s not in SATISFIED}
        waiting.update({n: UNCHECKED for n in names if n not in states})
        return {"model_ready": self.model_ready(), "dependents": names,
                "waiting_for": dict(sorted(waiting.items()))}

    def _deployment(self, name: str) -> str:
        """The deployment a declared service name reaches (the newest version, where
        several run side by side); the name itself where it is not served here."""
        if not self._reachable(name):
            return name
        try:
            return self.client.algo(name).name
        except ServiceError:
            return name

    def _reachable(self, name: str) -> bool:
        # A client set on the model (tests' in-process apps) serves its own names.
        return served_here(name, self.environ, lambda: self.client,
                           getattr(self.model, "_client", None))

    def _try_latch(self) -> bool:
        """Latch ready when the model is and every dependent was last seen satisfied
        (or the wait ran out)."""
        if self._latched.is_set():
            return True
        if not self.model_ready() or (not self._asked and self._observer_reachable()):
            return False   # the checks ask the observer first (then latch, asked or not)
        waiting = self.waiting_details()["waiting_for"]
        if waiting and not self._timed_out():
            return False
        if waiting:
            self.gave_up = sorted(waiting)
            log.warning("%s: ready without waiting longer for %s", self.model.name,
                        ", ".join(f"{n} ({s})" for n, s in sorted(waiting.items())))
        self._latched.set()
        return True

    def _observer_reachable(self) -> bool:
        source = str(self.config["OBSERVED_FROM"])
        return bool(source) and source != self.model.name and self._reachable(source)

    def _timed_out(self) -> bool:
        limit = float(self.config["DEPENDENTS_MAX_WAIT_S"])
        return limit > 0 and time.monotonic() - self._started_at > limit

    def _run(self) -> None:
        self._policy = _policy_of(self.model.name, self.config)
        identity.act_as(self.model.name)   # this thread's calls are made for the service
        while True:
            try:
                self._round()
            except Exception:  # noqa: BLE001  the checks must outlive any one failure
                log.exception("%s: checking the dependents failed", self.model.name)
            ready = self._try_latch()
            time.sleep(float(self.config["DEPENDENTS_RECHECK_S" if ready
                                         else "DEPENDENTS_POLL_S"]))

    def _round(self) -> None:
        """Probe every dependent (and through the waiting ones) once."""
        if not self._answered and not self._latched.is_set():
            self._ask_observer()
        timeout = float(self.config["DEPENDENTS_PROBE_TIMEOUT_S"])
        states = walk(self.model.name, self.names(),
                      lambda n: probe(self.client, n, timeout), self._reachable)
        with self._lock:
            before, self._states = self._states, states
        if self._latched.is_set():
            _log_changes(self.model.name, before, states)

    def _ask_observer(self) -> None:
        """The callees the catalog (``OBSERVED_FROM``) saw this service call before."""
        source = str(self.config["OBSERVED_FROM"])
        if not self._observer_reachable():
            self._asked = self._answered = True
            return
        try:
            graph = self.client.call(source, "GET", GRAPH_ROUTE,
                                     timeout=float(self.config["CATALOG_ASK_TIMEOUT_S"]))
        except ServiceError as e:   # best effort: asked again next round, until ready
            log.info("%s: %s did not say whom it saw us call (%s)", self.model.name,
                     source, e.code)
            self._asked = True
            return
        self._remembered = remembered_callees(graph, self.model.name)
        self._asked = self._answered = True


def remembered_callees(graph: Any, caller: str) -> list[str]:
    """The callees of ``caller`` in a gathered graph (``{"edges": [...]}``)."""
    edges = graph.get("edges") if isinstance(graph, Mapping) else None
    if not isinstance(edges, list):
        return []
    return list(dict.fromkeys(
        str(e["callee"])[:100] for e in edges[:10_000]
        if isinstance(e, Mapping) and e.get("caller") == caller and e.get("callee")))


def _policy_of(name: str, config: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The registry's ``calls:`` for ``name`` (None: no policy, or no registry)."""
    try:
        entry = load_registry(config.get("REGISTRY") or None).get(name)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return None if entry is None else entry.calls


def _log_changes(name: str, before: Mapping[str, str], after: Mapping[str, str]) -> None:
    """Say when a dependent stops (or starts again) being ready, once per change."""
    for dependent, state in after.items():
        was = before.get(dependent, UNCHECKED)
        if (was in SATISFIED) != (state in SATISFIED) and was != UNCHECKED:
            level = logging.INFO if state in SATISFIED else logging.WARNING
            log.log(level, "%s: dependent %s is %s now (was %s); %s stays ready", name,
                    dependent, state, was, name)


STATES = (READY, WAITING, LOADING, FAILED, UNREACHABLE, NO_READINESS, ERROR, UNCHECKED)


class ReadinessSchema(Schema):
    """``GET /readyz`` when ready (the answer not ready is a 503 ``not_ready`` error,
    whose details give ``model_ready``, ``dependents`` and ``waiting_for``)."""

    ready = fields.Boolean(required=True)
    service = fields.String(required=True)
    version = fields.String(required=True)
    dependents = fields.Dict(keys=fields.String(), values=fields.String(
        validate=validate.OneOf(STATES)), required=True, metadata={
        "description": "The last known state of each service it calls (checked every "
                       "DEPENDENTS_RECHECK_S; a service stays ready whatever they say)."})
    gave_up_on = fields.List(fields.String(), metadata={
        "description": "Dependents still not ready when DEPENDENTS_MAX_WAIT_S ran out."})
