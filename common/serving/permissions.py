"""Who may call whom: the callee checks every call against the policy.

The policy is the registry's ``calls:`` (``deploy/registry.yaml``): for each service,
the services it may call (absent: any; ``[]``: none). It is in force in a service once
``IDENTITY_PUBLIC_KEYS`` is configured there; with none, nothing here changes what a
service accepts (only its API keys, as before).

A call comes from one of:

- a service, known by its signed identity header (:mod:`common.core.identity`), or, for
  a co-located member calling in-process, by the process itself (no signature needed);
- an outside caller, known by its API key, which may be limited to some services
  (``key:sentiment+text_cleaner``, :mod:`.auth`).

A callee admits a call when the caller may call it, and, when ``X-Pipe-Next`` names
further stages, when the caller may call each of them too (else a key limited to A
could reach B by asking A to forward to B), and each forwarder may call the stages
after it. Refusals are a JSON 403 (:class:`~common.core.errors.Forbidden`) naming the
caller and the callee; through a chain it stays a 403 naming them (see ``hooks.py``).
"""
from __future__ import annotations

import contextvars
import logging
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping

from common.client.stages import PIPE_NEXT_HEADER, parse_stages
from common.core import identity
from common.core.context import REQUEST_ID_HEADER
from common.core.errors import Forbidden
from common.core.registry import ServiceEntry, load_registry

from .auth import ApiKey, check_authorization, parse_keys

log = logging.getLogger(__name__)

#: A WSGI environ key (never one a request's headers can set: theirs start with HTTP_)
#: naming the co-located service that makes an in-process call.
COLOCATED_CALLER = "modelchain.colocated_caller"
#: Set on a view that calls another service for its caller (the gateway's
#: ``/v1/algo``): an API key's scope is checked against that service there
#: (:func:`require_reach`), not against the service serving the route.
ROUTES_TO_OTHERS = "modelchain_routes_to_others"


@dataclass(frozen=True)
class Caller:
    """Who makes a call: a service (verified), or an outside caller and its key's scope
    (None: every service)."""

    service: str | None = None
    scope: frozenset[str] | None = None

    @property
    def label(self) -> str:
        """The caller as a message names it."""
        return self.service or "this API key"


OUTSIDE = Caller()
_current: contextvars.ContextVar[Caller] = contextvars.ContextVar(
    "modelchain_caller", default=OUTSIDE)


class Rules:
    """The registry's ``calls:``, by service; a deployment of another version of a
    service (``sentiment_v1_0_0``) is that service here."""

    def __init__(self, entries: Mapping[str, ServiceEntry]):
        self.service_of = {name: e.service_name for name, e in entries.items()}
        self.calls = {e.service_name: e.calls for name, e in entries.items()
                      if name == e.service_name}

    def service(self, name: str) -> str:
        """The service a registry name deploys (the name itself for a service)."""
        return self.service_of.get(name, name)

    def may_call(self, caller: str) -> tuple[str, ...] | None:
        """What ``caller`` may call: names, or None for any (no policy stated)."""
        return self.calls.get(self.service(caller))

    def allows(self, caller: str, callee: str) -> bool:
        """Whether the policy lets ``caller`` call ``callee``."""
        allowed = self.may_call(caller)
        return allowed is None or "*" in allowed or callee in allowed \
            or self.service(callee) in allowed

    def check(self, caller: str, callee: str, forward: bool = False) -> None:
        """Raise :class:`Forbidden` naming both unless ``caller`` may call ``callee``."""
        if not self.allows(caller, callee):
            raise forbidden_call(caller, callee, self.may_call(caller) or (), forward)

    def check_chain(self, names: list[str]) -> None:
        """Every forwarder of a chain (``names[0]`` then each ``X-Pipe-Next`` stage but
        the last) may call every stage after it."""
        for index, forwarder in enumerate(names[:-1]):
            for later in names[index + 1:]:
                self.check(forwarder, later, forward=True)


class Permissions:
    """What one service enforces: its API keys (and their scopes), and, once public
    keys are configured, the identity of calling services and the registry's policy."""

    def __init__(self, own: str, config: Mapping[str, Any],
                 entries: Mapping[str, ServiceEntry] | None = None):
        self.own = own
        self.keys: tuple[ApiKey, ...] = parse_keys(config["API_KEYS"])
        self.rules: Rules | None = None
        self.verifier: identity.Verifier | None = None
        signer = _own_signer(own, config)
        if signer is not None:   # it signs its calls whether or not it checks callers
            identity.register_signer(signer)
        public = identity.parse_public_keys(identity.read_setting(
            config["IDENTITY_PUBLIC_KEYS"], config["IDENTITY_PUBLIC_KEYS_FILE"]))
        if public:
            self._enforce(public, config, entries)
            _check_own_key(own, signer, public)

    @property
    def enforced(self) -> bool:
        """Whether the calls policy is in force here (public keys are configured)."""
        return self.verifier is not None

    def _enforce(self, public: Mapping[str, Any], config: Mapping[str, Any],
                 entries: Mapping[str, ServiceEntry] | None) -> None:
        """Read the policy from the registry, and accept calls signed for this service
        under its name or the name of any deployment of it."""
        self.rules = Rules(entries if entries is not None
                           else load_registry(config["REGISTRY"] or None))
        names = [self.own, *(n for n, s in self.rules.service_of.items() if s == self.own)]
        self.verifier = identity.Verifier(public, names, float(config["IDENTITY_WINDOW_S"]))

    def admit(self, method: str, path: str, headers: Mapping[str, str],
              in_process: str | None = None, routing: bool = False) -> Caller:
        """Who is calling, once the call is found permitted: a 401 for a key or a
        signature that does not hold, a 403 for a call the policy forbids. ``in_process``
        names the co-located service making the call; ``routing`` says the route calls
        another service for its caller, which then checks the scope itself."""
        caller = self.identify(method, path, headers, in_process)
        if self.enforced or caller.scope is not None:
            stages = _stage_names(headers)
            targets = stages if routing and caller.service is None else [self.own, *stages]
            for target in targets:
                self.check_reach(caller, target, forward=target != self.own)
            if self.rules is not None:
                self.rules.check_chain([self.own, *stages])
        return caller

    def identify(self, method: str, path: str, headers: Mapping[str, str],
                 in_process: str | None = None) -> Caller:
        """The caller: a co-located or signed service when the policy is in force,
        else the API key presented (checked when keys are configured)."""
        if self.verifier is not None:
            if in_process:
                return Caller(service=in_process)
            token = headers.get(identity.IDENTITY_HEADER)
            if token:
                return Caller(service=self.verifier.verify(
                    token, method, path, headers.get(REQUEST_ID_HEADER, "")))
        if self.keys:
            return Caller(scope=check_authorization(headers.get("Authorization"),
                                                    self.keys).scope)
        return OUTSIDE

    def check_reach(self, caller: Caller, target: str, forward: bool = False) -> None:
        """A 403 unless ``caller`` may call ``target`` (its key's scope, or the policy)."""
        if caller.service is not None:
            if self.rules is not None:
                self.rules.check(caller.service, target)
            return
        service = self.rules.service(target) if self.rules else target
        if caller.scope is not None and service not in caller.scope \
                and target not in caller.scope:
            raise forbidden_key(target, caller.scope, forward)

    def describe(self) -> dict[str, Any]:
        """The policy as ``/metadata`` states it: whether it is enforced, and what this
        service may call (None: any service)."""
        may_call = self.rules.may_call(self.own) if self.rules else None
        return {"enforced": self.enforced, "identity": self.own,
                "may_call": None if may_call is None else list(may_call)}


def _stage_names(headers: Mapping[str, str]) -> list[str]:
    value = headers.get(PIPE_NEXT_HEADER, "").strip()
    return [s.name for s in parse_stages(value)] if value else []


def _own_signer(own: str, config: Mapping[str, Any]) -> identity.Signer | None:
    text = identity.read_setting(config["IDENTITY_KEY"], config["IDENTITY_KEY_FILE"])
    return identity.Signer(own, text) if text.strip() else None


def _check_own_key(own: str, signer: identity.Signer | None,
                   public: Mapping[str, Iterable[Any]]) -> None:
    """Warn at start when this service's calls will be refused: it holds no key, or one
    whose public half is not the one published for it."""
    if signer is None:
        log.warning("%s has no IDENTITY_KEY: its calls are unsigned, so callees treat "
                    "them as an outside caller's", own)
        return
    mine = signer.key.public_key()
    if not any(identity.same_key(mine, k) for k in public.get(own, ())):
        log.warning("%s's IDENTITY_KEY is not the key IDENTITY_PUBLIC_KEYS publishes "
                    "for %s: callees will refuse its calls", own, own)


def forbidden_call(caller: str, callee: str, allowed: Iterable[str],
                   forward: bool = False) -> Forbidden:
    """The 403 for a service the policy does not let call ``callee``."""
    allowed = list(allowed)
    listed = f"{', '.join(allowed)} only" if allowed else "no service"
    why = f"the registry lets {caller} call {listed}"
    message = f"X-Pipe-Next asks {caller} to forward to {callee}, but {why}." if forward \
        else f"{callee} refuses calls from {caller}: {why}."
    return Forbidden(message, {"caller": caller, "callee": callee, "allowed": allowed,
                               "forward": forward})


def forbidden_key(callee: str, scope: Iterable[str], forward: bool = False) -> Forbidden:
    """The 403 for an API key limited to other services (the key is never shown)."""
    scope = sorted(scope)
    named = " (named in X-Pipe-Next)" if forward else ""
    return Forbidden(f"This API key may not call {callee}{named}: it is limited to "
                     f"{', '.join(scope)}.",
                     {"caller": "api_key", "callee": callee, "scope": scope,
                      "forward": forward})


def enter(caller: Caller) -> contextvars.Token:
    """Make ``caller`` the caller of the request served on this thread."""
    return _current.set(caller)


def leave(token: contextvars.Token) -> None:
    """Undo :func:`enter`."""
    _current.reset(token)


def current_caller() -> Caller:
    """The caller of the request served on this thread (an outside caller if none)."""
    return _current.get()


def require_reach(target: str, permissions: Permissions) -> None:
    """For a route that calls ``target`` for its caller (the gateway's): a 403 unless
    the caller may call ``target`` too."""
    permissions.check_reach(current_caller(), target)


def routes_to_others(view: Callable) -> Callable:
    """Mark ``view`` as calling another service for its caller (see
    :data:`ROUTES_TO_OTHERS`); it must call :func:`require_reach` itself."""
    setattr(view, ROUTES_TO_OTHERS, True)
    return view
