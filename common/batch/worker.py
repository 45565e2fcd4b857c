"""``python -m common.batch.worker SERVICE``: score a Redis stream with a consumer group.

Producers ``XADD`` inputs to a stream (field ``data``: the input as JSON; optional
``id``: a stable item id, else the message id). Any number of workers share the stream
through one consumer group. Each worker reads micro-batches, scores them through the
service in list calls within its limits, stores the results, and only then acknowledges
the messages (at-least-once delivery). Storing is idempotent by item id, so a message
delivered twice (a worker died after storing but before its ``XACK``, or a slow one
had its messages claimed) still has exactly one stored result.

Where results go (``--sink``):

- ``stream``: ``XADD`` to a results stream (fields ``id``, ``status``, ``result`` or
  ``error``, ``message_id``). A Lua script does, atomically per message: ``HSETNX`` the
  item id into ``<results stream>:ids``; only if it was new, ``XADD`` the result; then
  ``XACK``. Storing and acknowledging cannot be separated by a crash.
- ``db``: the batch datastore (:class:`~common.batch.store.Store`), job id ``--job``
  (default: the stream's name), one transaction per micro-batch, then ``XACK``.

A dead worker's pending messages are claimed by the others with ``XAUTOCLAIM`` once
they have been idle ``--claim-idle-ms``. ``--drain`` exits once the stream has nothing
undelivered and the group nothing pending (for batch use and tests); without it, the
worker runs until SIGTERM or Ctrl-C, finishing the micro-batch in hand first.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from typing import Protocol, Sequence

import redis

from .records import Record, invalid_record
from .scoring import JobAborted, Scorer, ServiceUnavailable, build_scorer, check_available
from .store import Outcome, Store

log = logging.getLogger("modelchain.batch.worker")
REDIS_ENV = "MODELCHAIN_REDIS_URL"
DEFAULT_REDIS = "redis://127.0.0.1:6379/0"

Message = tuple[str, dict[str, str]]

# KEYS: results stream, seen-ids hash, input stream. ARGV: group, count, consumer, then
# per message: item id, message id, status, body. One script run is atomic in Redis.
STORE_AND_ACK = """
local stored = 0
for i = 0, tonumber(ARGV[2]) - 1 do
  local at = 4 + i * 4
  local item, message, status, body = ARGV[at], ARGV[at + 1], ARGV[at + 2], ARGV[at + 3]
  if redis.call('HSETNX', KEYS[2], item, message) == 1 then
    local key = 'result'
    if status == 'failed' then key = 'error' end
    redis.call('XADD', KEYS[1], '*', 'id', item, 'status', status, key, body,
               'message_id', message, 'consumer', ARGV[3])
    stored = stored + 1
  end
  redis.call('XACK', KEYS[3], ARGV[1], message)
end
return stored
"""


@dataclass
class WorkerOptions:
    """What a worker is told (see ``python -m common.batch.worker --help``)."""

    service: str
    redis_url: str = DEFAULT_REDIS
    stream: str = "modelchain:batch:in"
    group: str = "modelchain-batch"
    consumer: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}")
    sink: str = "stream"
    results_stream: str = "modelchain:batch:out"
    db_url: str | None = None
    job_id: str | None = None
    batch_size: int = 32
    block_ms: int = 1000
    claim_idle_ms: int = 30000
    drain: bool = False
    timeout: float = 30.0
    url: str | None = None


@dataclass
class WorkerStats:
    """What a worker did."""

    messages: int = 0
    stored: int = 0
    failed: int = 0
    started: float = field(default_factory=time.monotonic)

    def __str__(self) -> str:
        seconds = time.monotonic() - self.started
        return (f"{self.messages} messages, {self.stored} results stored "
                f"({self.messages - self.stored} already stored), {self.failed} failed, "
                f"{self.messages / seconds if seconds else 0:.1f} messages/s")


class Sink(Protocol):
    """Stores outcomes and acknowledges their messages, idempotently by item id."""

    def store_and_ack(self, outcomes: Sequence[Outcome], message_ids: Sequence[str]) -> int:
        """Store the results not stored yet, then XACK; returns how many were new."""


class StreamSink:
    """Results to a Redis stream, deduplicated and acknowledged in one Lua script."""

    def __init__(self, client: redis.Redis, options: WorkerOptions):
        self.script = client.register_script(STORE_AND_ACK)
        self.keys = [options.results_stream, f"{options.results_stream}:ids", options.stream]
        self.group, self.consumer = options.group, options.consumer

    def store_and_ack(self, outcomes: Sequence[Outcome], message_ids: Sequence[str]) -> int:
        """See :class:`Sink`."""
        args: list[str] = [self.group, str(len(outcomes)), self.consumer]
        for outcome, message_id in zip(outcomes, message_ids, strict=True):
            body = outcome.result if outcome.ok else outcome.error
            args += [outcome.item_id, message_id, "done" if outcome.ok else "failed",
                     json.dumps(body)]
        return int(self.script(keys=self.keys, args=args))


class DatabaseSink:
    """Results to the batch datastore; ``XACK`` once the transaction has committed."""

    def __init__(self, client: redis.Redis, options: WorkerOptions):
        self.client, self.options = client, options
        self.store = Store(options.db_url or os.environ.get("MODELCHAIN_BATCH_DB")
                           or "sqlite:///modelchain-batch.db")
        self.job_id = options.job_id or options.stream
        self.store.start_job(self.job_id, options.service, source=f"redis:{options.stream}")

    def store_and_ack(self, outcomes: Sequence[Outcome], message_ids: Sequence[str]) -> int:
        """See :class:`Sink`."""
        stored = self.store.store_once(self.job_id, outcomes)
        self.client.xack(self.options.stream, self.options.group, *message_ids)
        return stored


class StreamWorker:
    """One consumer of the group: claim stale messages, read new ones, score, store."""

    def __init__(self, options: WorkerOptions, client: redis.Redis, scorer: Scorer,
                 sink: Sink):
        self.options, self.redis, self.scorer, self.sink = options, client, scorer, sink
        self.stats = WorkerStats()
        self.stopping = False
        self._claim_cursor = "0-0"
        self._own_pending = True  # at start, finish what this consumer name left pending
        self._failures = 0

    def ensure_group(self) -> None:
        """Create the consumer group (and the stream) unless they exist."""
        try:
            self.redis.xgroup_create(self.options.stream, self.options.group, id="0",
                                     mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    def run(self) -> WorkerStats:
        """Work until stopped, or (with ``drain``) until the stream is drained."""
        self.ensure_group()
        while not self.stopping:
            handled = self.step()
            if not handled and self.options.drain and self._drained():
                break
        return self.stats

    def step(self) -> int:
        """One micro-batch: own pending first, then stale claims, then new messages."""
        messages = self._own() or self._claim() or self._read_new()
        live = self._drop_deleted(messages)
        if live:
            self._handle(live)
        return len(messages)

    def _own(self) -> list[Message]:
        if not self._own_pending:
            return []
        messages = self._read({self.options.stream: "0"}, block=None)
        self._own_pending = bool(messages)
        return messages

    def _claim(self) -> list[Message]:
        answer = self.redis.xautoclaim(self.options.stream, self.options.group,
                                       self.options.consumer, self.options.claim_idle_ms,
                                       start_id=self._claim_cursor,
                                       count=self.options.batch_size)
        self._claim_cursor, claimed = answer[0], answer[1]
        return list(claimed)

    def _read_new(self) -> list[Message]:
        return self._read({self.options.stream: ">"}, block=self.options.block_ms)

    def _read(self, streams: dict[str, str], block: int | None) -> list[Message]:
        answer = self.redis.xreadgroup(self.options.group, self.options.consumer, streams,
                                       count=self.options.batch_size, block=block)
        return [m for _, entries in (answer or []) for m in entries]

    def _drop_deleted(self, messages: list[Message]) -> list[Message]:
        # A message trimmed from the stream while pending comes back without fields:
        # there is nothing to score, so it is only acknowledged.
        gone = [mid for mid, fields in messages if not fields]
        if gone:
            self.redis.xack(self.options.stream, self.options.group, *gone)
        return [(mid, fields) for mid, fields in messages if fields]

    def _drained(self) -> bool:
        summary = self.redis.xpending(self.options.stream, self.options.group)
        return int(summary["pending"]) == 0

    def _handle(self, messages: list[Message]) -> None:
        records = [_record(mid, fields) for mid, fields in messages]
        try:
            outcomes = [o for call in self.scorer.plan(records)
                        for o in self.scorer.score_list(call)]
            check_available(outcomes)
        except ServiceUnavailable as e:
            self._back_off(e)
            return
        stored = self.sink.store_and_ack(outcomes, [mid for mid, _ in messages])
        self._count(outcomes, stored)

    def _count(self, outcomes: list[Outcome], stored: int) -> None:
        self._failures = 0
        self.stats.messages += len(outcomes)
        self.stats.stored += stored
        self.stats.failed += sum(not o.ok for o in outcomes)

    def _back_off(self, error: Exception) -> None:
        # Not acknowledged: the messages stay pending with this consumer, which reads
        # them again after the pause (or another worker claims them).
        self._failures += 1
        pause = min(30.0, 0.5 * 2 ** self._failures)
        log.warning("%s; retrying in %.1fs", error, pause)
        self._own_pending = True
        time.sleep(pause)


def _record(message_id: str, fields: dict[str, str]) -> Record:
    item_id = fields.get("id") or message_id
    try:
        return Record(None, item_id, json.loads(fields["data"]))
    except KeyError:
        return Record(None, item_id, problem=invalid_record("the message has no 'data' field"))
    except ValueError as e:
        return Record(None, item_id, problem=invalid_record(f"'data' is not JSON: {e}"))


def build_worker(options: WorkerOptions) -> StreamWorker:
    """A worker wired to Redis, the service and the sink the options name."""
    client = redis.Redis.from_url(options.redis_url, decode_responses=True)
    scorer = build_scorer(options.service, url=options.url, timeout=options.timeout,
                          batch_size=options.batch_size)
    sink = (DatabaseSink if options.sink == "db" else StreamSink)(client, options)
    return StreamWorker(options, client, scorer, sink)


def build_parser() -> argparse.ArgumentParser:
    """The command line."""
    parser = argparse.ArgumentParser(prog="python -m common.batch.worker",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("service", help="registered service or pipeline")
    parser.add_argument("--redis", help=f"Redis URL (default: ${REDIS_ENV}, else "
                        f"{DEFAULT_REDIS}; put passwords in the environment variable)")
    parser.add_argument("--stream", default=WorkerOptions.stream, help="input stream")
    parser.add_argument("--group", default=WorkerOptions.group, help="consumer group")
    parser.add_argument("--consumer", help="consumer name (default: host-pid)")
    parser.add_argument("--sink", choices=("stream", "db"), default="stream")
    parser.add_argument("--results-stream", default=WorkerOptions.results_stream)
    parser.add_argument("--db", help="SQLAlchemy URL for --sink db (default: "
                        "$MODELCHAIN_BATCH_DB, else sqlite:///modelchain-batch.db)")
    parser.add_argument("--job", help="job id for --sink db (default: the stream name)")
    parser.add_argument("--batch-size", type=int, default=32, help="messages per read")
    parser.add_argument("--block-ms", type=int, default=1000, help="wait for new messages")
    parser.add_argument("--claim-idle-ms", type=int, default=30000,
                        help="claim other consumers' messages pending this long")
    parser.add_argument("--drain", action="store_true",
                        help="exit when nothing is undelivered or pending")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    parser.add_argument("--url", help="the service's URL (default: the registry)")
    return parser


def options_from(args: argparse.Namespace) -> WorkerOptions:
    """Worker options from parsed arguments."""
    extra = {"consumer": args.consumer} if args.consumer else {}
    return WorkerOptions(
        service=args.service, redis_url=args.redis or os.environ.get(REDIS_ENV, DEFAULT_REDIS),
        stream=args.stream, group=args.group, sink=args.sink,
        results_stream=args.results_stream, db_url=args.db, job_id=args.job,
        batch_size=args.batch_size, block_ms=args.block_ms,
        claim_idle_ms=args.claim_idle_ms, drain=args.drain, timeout=args.timeout,
        url=args.url, **extra)


def main(argv: list[str] | None = None) -> int:
    """Run one worker until stopped; 4 when the service cannot be used."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    options = options_from(build_parser().parse_args(argv))
    try:
        worker = build_worker(options)
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: setattr(worker, "stopping", True))
        stats = worker.run()
    except JobAborted as e:
        log.error("stopping: %s", e)
        return 4
    except redis.RedisError as e:
        log.error("stopping: Redis at %s: %s", redacted(options.redis_url), e)
        return 4
    log.info("consumer %s done: %s", options.consumer, stats)
    return 0


def redacted(url: str) -> str:
    """A Redis URL without its password, for logs."""
    scheme, sep, rest = url.partition("://")
    credentials, at, host = rest.rpartition("@")
    return f"{scheme}{sep}{'***@' if at else ''}{host}"


if __name__ == "__main__":
    sys.exit(main())
