"""Fetching an image URL without opening a door into the private network (SSRF).

Every hop (the first URL and each redirect, followed here by hand, at most
``max_redirects``) goes through the same checks:

1. the URL: ``http`` or ``https``, a host, no ``user:password@``;
2. the host name: metadata names (``metadata.google.internal``...) are refused;
3. resolution: the name is resolved once and *every* address is checked; any loopback,
   private, link-local, multicast, reserved, unspecified, shared (CGNAT) or metadata
   address refuses the hop (IPv4-mapped, 6to4, Teredo and NAT64 IPv6 addresses are
   checked as the IPv4 address they carry);
4. the connection goes to the checked address and no other (the name is never resolved
   again, so DNS rebinding cannot swap in another address), with the original
   ``Host`` header, and for HTTPS the original name for SNI and certificate checks.

A configured allow-list lets chosen destinations through: ``10.0.0.0/8`` (a network,
any port), ``127.0.0.1:8080`` or ``[::1]:8080`` (one address and port: that server
only, not every service on the machine), ``images.internal`` or ``images.internal:8080``
(a host name). ``allow_private`` lets private, loopback, link-local and shared addresses
through; metadata, multicast, unspecified and reserved addresses then still need an
explicit allow-list entry.

Limits: the body is streamed and the fetch stops past ``max_bytes`` (413); connect and
read timeouts per socket operation and a total deadline checked between reads (504);
only ``image/jpeg``, ``image/png`` and ``image/gif`` responses whose magic bytes agree.
"""
from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping
from urllib.parse import urljoin, urlsplit

import urllib3
from marshmallow import fields, validate
from requests.certs import where as ca_bundle
from requests.utils import requote_uri

from common.core.errors import DeadlineExceeded, InvalidInput, PayloadTooLarge, UpstreamError
from common.media.images import sniff

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str, int], list[str]]

CONTENT_TYPES = ("image/jpeg", "image/png", "image/gif")
REDIRECTS = (301, 302, 303, 307, 308)
CHUNK = 64 * 1024
USER_AGENT = "modelchain-downloader/1.0"

#: Cloud metadata endpoints, refused even when private addresses are allowed.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "169.254.170.2", "169.254.169.253", "100.100.100.200",
    "192.0.0.192", "fd00:ec2::254"))
METADATA_HOSTS = frozenset({"metadata", "metadata.google.internal", "metadata.goog",
                            "metadata.azure.com", "instance-data",
                            "instance-data.ec2.internal"})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
#: What ``allow_private`` lets through; the other reasons need an allow-list entry.
PRIVATE_REASONS = frozenset({"private", "loopback", "link-local", "shared"})

#: The longest URL a service accepts (most browsers and servers stop near here).
MAX_URL_LENGTH = 2048


def url_field(**kwargs: Any) -> fields.String:
    """A schema field holding an http(s) URL. The schema checks only its form; the
    fetcher checks where it leads (no private addresses), naming the reason."""
    return fields.String(validate=[
        validate.Length(min=1, max=MAX_URL_LENGTH),
        # No inline flags: the pattern is published in JSON Schema, whose regexes lack them.
        validate.Regexp(r"^[Hh][Tt][Tt][Pp][Ss]?://\S+$",
                        error="Must be an http:// or https:// URL.")],
        **kwargs)


FETCH_DEFAULTS: dict[str, Any] = {
    "ALLOW_PRIVATE": False,
    # False: only the allow-list is fetched; no other host is even resolved (tests, and
    # deployments that fetch from known hosts only).
    "ALLOW_PUBLIC": True,
    "ALLOW_LIST": "",
    "FETCH_MAX_BYTES": 5 * 1024 * 1024,
    "FETCH_CONNECT_TIMEOUT_S": 3.0,
    "FETCH_READ_TIMEOUT_S": 5.0,
    "FETCH_DEADLINE_S": 10.0,
    "FETCH_MAX_REDIRECTS": 3,
}


@dataclass(frozen=True)
class AllowRule:
    """One allow-list entry: a network or a host name, optionally with a port."""

    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    host: str | None = None
    port: int | None = None

    def matches(self, host: str, address: IPAddress, port: int) -> bool:
        """Whether a connection to ``address``:``port`` for ``host`` is allowed."""
        if self.port is not None and self.port != port:
            return False
        if self.network is not None:
            return address in self.network
        return host == self.host


def parse_allow_list(text: str) -> tuple[AllowRule, ...]:
    """Rules from a comma- or space-separated list (see the module docstring)."""
    return tuple(parse_allow_rule(entry) for entry in text.replace(",", " ").split())


def parse_allow_rule(entry: str) -> AllowRule:
    """One entry: ``10.0.0.0/8``, ``127.0.0.1:8080``, ``[::1]:8080``, ``::1``, ``host``
    or ``host:8080``; a malformed entry raises ``ValueError``."""
    try:
        return AllowRule(network=ipaddress.ip_network(entry, strict=False))
    except ValueError:
        pass
    target, port = _split_port(entry)
    try:
        return AllowRule(network=ipaddress.ip_network(target, strict=False), port=port)
    except ValueError:
        if not target or "/" in target or ":" in target:
            raise ValueError(f"not an allow-list entry: {entry!r}") from None
        return AllowRule(host=_normal_host(target), port=port)


def _split_port(entry: str) -> tuple[str, int | None]:
    if entry.startswith("["):
        host, _, rest = entry[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else None
    host, sep, port = entry.rpartition(":")
    return (host, int(port)) if sep and port.isdigit() else (entry, None)


def _normal_host(host: str) -> str:
    return host.strip().rstrip(".").lower()


@dataclass(frozen=True)
class FetchPolicy:
    """What may be fetched, and how much and for how long."""

    allow_private: bool = False
    allow_public: bool = True
    allow: tuple[AllowRule, ...] = ()
    max_bytes: int = 5 * 1024 * 1024
    connect_timeout: float = 3.0
    read_timeout: float = 5.0
    deadline: float = 10.0
    max_redirects: int = 3
    content_types: tuple[str, ...] = CONTENT_TYPES
    #: The check of the body's first bytes: a content type, or None to refuse it
    #: (images by default; the video services pass the video one).
    sniffer: Callable[[bytes], str | None] = sniff
    what: str = "a JPEG, PNG or GIF image"

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "FetchPolicy":
        """The policy of a service's configuration (the keys of ``FETCH_DEFAULTS``)."""
        settings = {**FETCH_DEFAULTS, **config}
        return cls(allow_private=bool(settings["ALLOW_PRIVATE"]),
                   allow_public=bool(settings["ALLOW_PUBLIC"]),
                   allow=parse_allow_list(str(settings["ALLOW_LIST"])),
                   max_bytes=int(settings["FETCH_MAX_BYTES"]),
                   connect_timeout=float(settings["FETCH_CONNECT_TIMEOUT_S"]),
                   read_timeout=float(settings["FETCH_READ_TIMEOUT_S"]),
                   deadline=float(settings["FETCH_DEADLINE_S"]),
                   max_redirects=int(settings["FETCH_MAX_REDIRECTS"]))


@dataclass(frozen=True)
class Target:
    """A checked hop: where to connect (the pinned address) and what to ask for."""

    url: str
    scheme: str
    host: str
    address: IPAddress
    port: int
    path: str

    @property
    def host_header(self) -> str:
        """The ``Host`` header: the URL's host, with the port when not the default."""
        name = f"[{self.host}]" if ":" in self.host else self.host
        default = 443 if self.scheme == "https" else 80
        return name if self.port == default else f"{name}:{self.port}"


@dataclass
class Fetched:
    """A fetched image: its bytes, the type its magic bytes say, the final URL."""

    data: bytes
    content_type: str
    url: str
    redirects: int = 0
    headers: dict[str, str] = field(default_factory=dict)


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system resolver gives for ``host``."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def refused(url: str, reason: str, message: str, **details: Any) -> InvalidInput:
    """The 400 of a refused URL, naming the reason."""
    return InvalidInput(f"Refused {url}: {message}", {"url": url, "reason": reason, **details})


class SafeFetcher:
    """Fetches image URLs under a :class:`FetchPolicy`; thread-safe (no shared state).

    ``resolver`` maps (host, port) to addresses; tests pass their own to map a name to
    loopback without touching DNS.
    """

    def __init__(self, policy: FetchPolicy = FetchPolicy(),
                 resolver: Resolver = system_resolver):
        self.policy = policy
        self.resolver = resolver

    def fetch(self, url: str, budget_s: float | None = None) -> Fetched:
        """The image at ``url``; refusals are 400 (413 too large, 502 unreachable, 504
        too slow), each with ``details.reason``. ``budget_s`` caps the deadline."""
        seconds = self.policy.deadline if budget_s is None else min(self.policy.deadline,
                                                                     budget_s)
        deadline = time.monotonic() + max(0.0, seconds)
        for hop in range(self.policy.max_redirects + 1):
            target = self.check(url)
            response = self._open(target, deadline)
            location = response.headers.get("Location") if response.status in REDIRECTS \
                else None
            if location is None:
                return self._read(response, target, deadline, hop)
            response.close()  # never read a redirect's body: it could be endless
            url = urljoin(target.url, location.strip())
        raise refused(url, "too_many_redirects",
                      f"more than {self.policy.max_redirects} redirects.",
                      max_redirects=self.policy.max_redirects)

    def check(self, url: str) -> Target:
        """The checked target of one hop; a 400 naming the reason if it is refused."""
        parts = _split_url(url)
        host = _ascii_host(url, _normal_host(parts.hostname or ""))
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if host in METADATA_HOSTS and not self._rule_allows_host(host, port):
            raise refused(url, "metadata", f"{host} is a cloud metadata endpoint.")
        if not self.policy.allow_public and _ip_literal(host) is None \
                and not self._rule_allows_host(host, port) \
                and not any(rule.network is not None for rule in self.policy.allow):
            raise refused(url, "not_allowed", f"{host} is not on the allow list, and "
                          "only the allow list is fetched here (ALLOW_PUBLIC is off).")
        addresses = self._resolve(url, host, port)
        for address in addresses:
            self._check_address(url, host, address, port)
        # a Location header may hold spaces or non-ASCII: quote what must be quoted
        path = requote_uri((parts.path or "/") + (f"?{parts.query}" if parts.query else ""))
        return Target(url, parts.scheme, host, addresses[0], port, path)

    def _rule_allows_host(self, host: str, port: int) -> bool:
        return any(r.host == host and r.port in (None, port) for r in self.policy.allow)

    def _resolve(self, url: str, host: str, port: int) -> list[IPAddress]:
        literal = _ip_literal(host)
        if literal is not None:
            return [literal]
        try:
            found = [ipaddress.ip_address(a.split("%")[0]) for a in self.resolver(host, port)]
        except (OSError, UnicodeError, ValueError) as e:
            raise refused(url, "unresolvable", f"the host {host} cannot be resolved.") from e
        if not found:
            raise refused(url, "unresolvable", f"the host {host} has no address.")
        return found

    def _check_address(self, url: str, host: str, address: IPAddress, port: int) -> None:
        if any(rule.matches(host, address, port) for rule in self.policy.allow):
            return
        if not self.policy.allow_public:  # only the allow list, private or public
            raise refused(url, "not_allowed", f"{address} is not on the allow list, and "
                          "only the allow list is fetched here (ALLOW_PUBLIC is off).",
                          address=str(address))
        reason = classify(address)
        if reason is None or (self.policy.allow_private and reason in PRIVATE_REASONS):
            return
        shown = f"{host} resolves to {address}, which" if str(address) != host else str(address)
        raise refused(url, reason, f"{shown} is {_PHRASES[reason]}; only public addresses "
                      "may be fetched.", address=str(address))

    def _open(self, target: Target, deadline: float) -> urllib3.HTTPResponse:
        """Send the GET to the pinned address; redirects are not followed here."""
        remaining = _remaining(target.url, deadline)
        pool = _pool(target, urllib3.Timeout(connect=min(self.policy.connect_timeout,
                                                         remaining),
                                             read=min(self.policy.read_timeout, remaining)))
        headers = {"Host": target.host_header, "User-Agent": USER_AGENT,
                   "Accept": ", ".join(self.policy.content_types),
                   "Accept-Encoding": "identity",  # a compressed body could hide a bomb
                   "Connection": "close"}
        try:
            return pool.urlopen("GET", target.path, headers=headers, redirect=False,
                                retries=False, preload_content=False, decode_content=False,
                                assert_same_host=False)
        except urllib3.exceptions.HTTPError as e:
            raise _transport_error(target.url, e) from e
        except ValueError as e:  # http.client refuses a request line it cannot send
            raise refused(target.url, "bad_url", f"the URL cannot be requested ({e}).") from e

    def _read(self, response: urllib3.HTTPResponse, target: Target, deadline: float,
              hop: int) -> Fetched:
        try:
            self._check_response(response, target.url)
            data = self._stream(response, target.url, deadline)
        finally:
            response.close()
        kind = self.policy.sniffer(data)
        if kind is None:
            reason = "not_an_image" if self.policy.sniffer is sniff else "wrong_content"
            raise refused(target.url, reason, f"the body is not {self.policy.what} "
                          "(wrong magic bytes).")
        return Fetched(data, kind, target.url, hop, dict(response.headers))

    def _check_response(self, response: urllib3.HTTPResponse, url: str) -> None:
        if response.status in REDIRECTS:
            raise refused(url, "bad_redirect", "a redirect without a Location header.")
        if response.status != 200:
            cls = UpstreamError if response.status >= 500 else InvalidInput
            raise cls(f"{url} answered HTTP {response.status}.",
                      {"url": url, "reason": "http_status", "status": response.status})
        declared = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if declared not in self.policy.content_types:
            raise refused(url, "content_type", f"the content type is {declared or 'missing'}"
                          f", not one of {', '.join(self.policy.content_types)}.",
                          content_type=declared)
        length = response.headers.get("Content-Length", "")
        if length.isdigit() and int(length) > self.policy.max_bytes:
            raise self._too_large(url, int(length))

    def _stream(self, response: urllib3.HTTPResponse, url: str, deadline: float) -> bytes:
        """The body, read in chunks: stop past the size limit or the deadline."""
        chunks, size = [], 0
        try:
            while chunk := response.read1(CHUNK):
                size += len(chunk)
                if size > self.policy.max_bytes:
                    raise self._too_large(url, size, at_least=True)
                chunks.append(chunk)
                _remaining(url, deadline)
        except urllib3.exceptions.HTTPError as e:
            raise _transport_error(url, e) from e
        return b"".join(chunks)

    def _too_large(self, url: str, size: int, at_least: bool = False) -> PayloadTooLarge:
        over = "over" if at_least else ""
        return PayloadTooLarge(f"Refused {url}: the body is {over} {size} bytes; at most "
                               f"{self.policy.max_bytes} are allowed.".replace("  ", " "),
                               {"url": url, "reason": "too_large",
                                "max_bytes": self.policy.max_bytes})


_PHRASES = {"metadata": "a cloud metadata address", "unspecified": "the unspecified address",
            "loopback": "a loopback address", "link-local": "a link-local address",
            "multicast": "a multicast address", "reserved": "a reserved address",
            "private": "a private address",
            "shared": "not globally routable (shared or special-purpose)"}


def classify(address: IPAddress) -> str | None:
    """Why an address may not be fetched (``None``: a public address)."""
    embedded = _embedded_ipv4(address)
    if embedded is not None:
        return classify(embedded)
    if address in METADATA_ADDRESSES:
        return "metadata"
    for reason, test in (("unspecified", "is_unspecified"), ("loopback", "is_loopback"),
                         ("link-local", "is_link_local"), ("multicast", "is_multicast"),
                         ("reserved", "is_reserved"), ("private", "is_private")):
        if getattr(address, test):
            return reason
    return None if address.is_global else "shared"


def _embedded_ipv4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for (mapped, 6to4, Teredo, NAT64)."""
    if address.version != 6:
        return None
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


def _ascii_host(url: str, host: str) -> str:
    """The host as sent on the wire: an internationalised name in its IDNA form."""
    try:
        return host if host.isascii() else host.encode("idna").decode("ascii")
    except UnicodeError as e:
        raise refused(url, "bad_url", f"the host {host!r} is not a valid name.") from e


def _ip_literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.split("%")[0])
    except ValueError:
        return None


def _split_url(url: str):
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018  raises ValueError on a bad port
    except ValueError as e:
        raise refused(url, "bad_url", f"not a valid URL ({e}).") from e
    if parts.scheme not in ("http", "https"):
        raise refused(url, "scheme", f"the scheme is {parts.scheme or 'missing'}; only "
                      "http and https are fetched.")
    if not parts.hostname:
        raise refused(url, "bad_url", "the URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise refused(url, "credentials", "URLs with a user name or password are refused.")
    return parts


def _remaining(url: str, deadline: float) -> float:
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded(f"Fetching {url} took longer than its deadline.",
                               {"url": url, "reason": "timeout"})
    return remaining


def _pool(target: Target, timeout: urllib3.Timeout) -> urllib3.HTTPConnectionPool:
    """A one-connection pool to the pinned address (never to a fresh DNS answer)."""
    address = str(target.address)
    if target.scheme == "http":
        return urllib3.HTTPConnectionPool(address, target.port, timeout=timeout, maxsize=1,
                                          retries=False)
    # TLS: SNI and the certificate check use the URL's host, not the address
    return urllib3.HTTPSConnectionPool(address, target.port, timeout=timeout, maxsize=1,
                                       retries=False, cert_reqs="CERT_REQUIRED",
                                       ca_certs=ca_bundle(), assert_hostname=target.host,
                                       server_hostname=target.host)


def _transport_error(url: str, error: Exception) -> Exception:
    # NewConnectionError (refused, unreachable) subclasses ConnectTimeoutError in urllib3
    if isinstance(error, urllib3.exceptions.TimeoutError) and not isinstance(
            error, urllib3.exceptions.NewConnectionError):
        return DeadlineExceeded(f"Fetching {url} timed out.", {"url": url, "reason": "timeout"})
    return UpstreamError(f"Could not fetch {url}: {type(error).__name__}.",
                         {"url": url, "reason": "unreachable"})
