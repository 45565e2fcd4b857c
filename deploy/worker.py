"""The gunicorn worker every service runs: gunicorn's threaded worker (gthread), made to
answer in our JSON envelope and to keep a service answering under pressure.

- **JSON errors from gunicorn itself.** gunicorn answers some requests before any
  application sees them: a request line over its limit (414), headers over theirs
  (431), malformed framing (400), an unsupported transfer coding (501). It renders them
  with ``gunicorn.util.write_error`` as an HTML page and has no setting to change that;
  the worker class is the extension point it offers, so this worker writes
  ``{"error": {"code", "message", "details"}}`` instead.
- **Idle connections hold no thread.** A new connection waits on the poller until its
  first bytes arrive (gthread would hand it a thread at once, to wait up to 5 s), so
  clients that open connections early, or never send, cannot fill the pool.
- **Time waiting for a thread counts.** A request is stamped when its bytes are there
  and it is queued for a thread; the service counts its deadline from then
  (``environ["modelchain.queued_at"]``), not from when a thread picked it up.
- **No request waits for a thread past its deadline.** Every 0.1 s the main loop looks
  at the requests still queued: one whose ``X-Deadline-Ms`` has passed is answered 504,
  and one that waited ``MODELCHAIN_MAX_QUEUE_WAIT_S`` (0.8 s; 0: no limit) is answered
  503 with ``Retry-After``, from the main loop, without a thread.
- **Stalled reads end.** On a new connection each read or write waits at most
  ``MODELCHAIN_READ_TIMEOUT_S`` (30 s). That is no bound on a client that trickles its
  headers a byte at a time: a buffering front is the answer to slow clients.
- **Refusals never stall the loop.** A refused request's answer is sent without
  blocking, and its socket is closed gracefully by a closer thread, not the main loop.

``deploy/gunicorn.conf.py`` sets it as ``worker_class``.
"""
from __future__ import annotations

import errno
import json
import os
import queue
import re
import selectors
import socket
import threading
import time
from functools import partial

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

#: Error codes of the statuses gunicorn answers itself.
CODES = {400: "bad_request", 403: "forbidden", 414: "request_line_too_long",
         417: "expectation_failed", 431: "headers_too_large", 500: "internal_error",
         501: "not_implemented", 503: "busy", 504: "deadline_exceeded"}
QUEUED_AT = "modelchain.queued_at"
SWEEP_S = 0.1
_PROTOCOL_LINE = re.compile(rb"[A-Z]{3,7} /v2(?:[/? ])")
_DEADLINE_HEADER = re.compile(rb"\r\nx-deadline-ms:[ \t]*([0-9]{1,9}(?:\.[0-9]*)?)", re.I)
_current = threading.local()


def json_error_response(status: int, reason: str, message: str,
                        headers: tuple[str, ...] = (), protocol: bool = False) -> bytes:
    """A complete HTTP/1.1 response carrying the JSON error envelope (``protocol``: the
    Open Inference Protocol's form, ``{"error": "<message>"}``, for its /v2 routes)."""
    body = json.dumps({"error": message or reason} if protocol else {"error": {
        "code": CODES.get(status, "http_error"), "message": message or reason,
        "details": {"status": status, "reason": reason}}}).encode()
    head = [f"HTTP/1.1 {status} {reason}", "Connection: close",
            "Content-Type: application/json", f"Content-Length: {len(body)}", *headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def write_json_error(sock, status_int: int, reason: str, mesg: str) -> None:
    """``gunicorn.util.write_error`` with our envelope in place of its HTML page."""
    util.write_nonblock(sock, json_error_response(int(status_int), reason, mesg))


def _seconds(name: str, default: float) -> float:
    try:
        return max(0.0, float(os.environ.get(name, default)))
    except ValueError:
        return default


class ServiceConn(TConn):
    """A connection whose reads and writes time out (new connections only: gunicorn
    makes a kept-alive socket blocking again without one)."""

    def init(self) -> None:
        first = not self.initialized
        super().init()
        if first:
            self.sock.settimeout(_seconds("MODELCHAIN_READ_TIMEOUT_S", 30.0) or None)


class ServiceWorker(ThreadWorker):
    """gthread with JSON errors, deadlines counted from the queue, and no request left
    waiting for a thread past its deadline or the queue-wait limit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._queued: dict[ServiceConn, object] = {}
        self._closing: queue.SimpleQueue = queue.SimpleQueue()
        self.max_queue_wait = _seconds("MODELCHAIN_MAX_QUEUE_WAIT_S", 0.8)
        self.default_deadline = _seconds("MODELCHAIN_DEFAULT_TIMEOUT_S", 30.0)

    def init_process(self) -> None:
        # handle_error (gunicorn.workers.base) looks write_error up on util at call
        # time, in this worker process only.
        util.write_error = write_json_error
        threading.Thread(target=self._close_refused, name="closer", daemon=True).start()
        super().init_process()

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def stamped(environ, start_response):
            environ[QUEUED_AT] = getattr(_current, "queued_at", None)
            return app(environ, start_response)
        stamped.__wrapped__ = app  # the app itself, for post_worker_init
        self.wsgi = stamped

    def accept(self, listener) -> None:
        """gthread's accept, with a :class:`ServiceConn`."""
        try:
            client_sock, client_addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = ServiceConn(self.cfg, client_sock, client_addr, listener.getsockname())
        # Wait for its first bytes on the poller, as gthread does for a deferred one.
        conn.timeout = time.monotonic() + self.cfg.keepalive
        self.pending_conns.append(conn)
        self.poller.register(conn.sock, selectors.EVENT_READ,
                             partial(self.on_pending_socket_readable, conn))

    def enqueue_req(self, conn) -> None:
        """Queue a connection for a thread, stamped, and watched while it waits."""
        conn.queued_at = time.monotonic()
        conn.head = None  # this request's own, read once its headers are in
        future = self.tpool.submit(self._run_queued, conn)
        self._queued[conn] = future
        future.add_done_callback(
            lambda fut: self.method_queue.defer(self.finish_request, conn, fut))

    def _run_queued(self, conn):
        self._queued.pop(conn, None)
        _current.queued_at = conn.queued_at
        try:
            return self.handle(conn)
        finally:
            _current.queued_at = None

    def wait_for_and_dispatch_events(self, timeout) -> None:
        super().wait_for_and_dispatch_events(min(timeout, SWEEP_S) if self._queued
                                             else timeout)
        self._answer_overdue()

    def _answer_overdue(self) -> None:
        """Answer, from the main loop, each queued request past its deadline or the
        queue-wait limit; a request a thread has taken meanwhile is left to it."""
        now = time.monotonic()
        for conn, future in list(self._queued.items()):
            if future.running() or future.done():  # taken before it was listed
                self._queued.pop(conn, None)
                continue
            verdict = self._overdue(conn, now)
            if verdict and future.cancel():  # not started: it is ours to answer
                self._queued.pop(conn, None)
                conn.refused = True
                self._refuse(conn, *verdict)

    def finish_request(self, conn, fs) -> None:
        """gthread's, but a refused connection is closed by the closer thread: a
        graceful close drains the socket, which must not stall the main loop."""
        if getattr(conn, "refused", False):
            self.nr_conns -= 1
            self._closing.put(conn.sock)
            return
        super().finish_request(conn, fs)

    def _close_refused(self) -> None:
        while True:
            sock = self._closing.get()
            try:
                util.close_graceful(sock)
            except OSError:
                pass

    def _overdue(self, conn, now: float):
        waited = now - conn.queued_at
        budget = (_head(conn) or (None, False))[0]
        if budget is not None and waited >= budget:
            return (504, "Gateway Timeout",
                    "The deadline passed while the request waited for a thread.", ())
        if self.max_queue_wait and waited >= self.max_queue_wait:
            return (503, "Service Unavailable", "Every thread of the service is busy; "
                    "try again shortly.", ("Retry-After: 1",))
        if waited >= self.default_deadline:
            return (504, "Gateway Timeout",
                    "The service's own deadline passed while the request waited.", ())
        return None

    def _refuse(self, conn, status: int, reason: str, message: str, headers) -> None:
        head = _head(conn)  # a request line alone is enough to tell a /v2 route
        protocol = head[1] if head else \
            _PROTOCOL_LINE.match(_peek(conn.sock) or b"") is not None
        try:  # a few hundred bytes: the socket buffer takes them without waiting
            conn.sock.send(json_error_response(status, reason, message, headers, protocol),
                           socket.MSG_DONTWAIT)
        except OSError:
            pass  # the client is gone; the closer thread closes the socket either way


def _peek(sock) -> bytes | None:
    """What has arrived on ``sock``, read without consuming it (None: nothing yet).

    It peeks through a duplicate of the descriptor: a Python socket with a timeout
    waits for data before any recv, MSG_DONTWAIT or not, and the main loop must never
    wait (a thread may have taken the connection since it was looked at)."""
    try:
        peeker = socket.socket(fileno=os.dup(sock.fileno()))
    except OSError:
        return None
    try:
        return peeker.recv(8192, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except OSError:  # BlockingIOError: nothing has arrived yet
        return None
    finally:
        peeker.close()


def _head(conn) -> tuple[float | None, bool] | None:
    """What the sweep needs of the request waiting on ``conn``: its ``X-Deadline-Ms``
    budget in seconds (None without one) and whether it is for a /v2 route. Peeked once
    its headers have all arrived, then kept on the connection; None before."""
    if conn.head is None:
        data = _peek(conn.sock) or b""
        end = data.find(b"\r\n\r\n")
        if end < 0:
            return None
        match = _DEADLINE_HEADER.search(data, 0, end + 2)  # the headers, not the body
        conn.head = (float(match.group(1)) / 1000.0 if match else None,
                     _PROTOCOL_LINE.match(data) is not None)
    return conn.head
