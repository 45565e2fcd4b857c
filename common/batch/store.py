"""The datastore of batch jobs: SQLAlchemy Core, so any SQLAlchemy URL works (SQLite by
default, PostgreSQL in production).

Two tables. ``batch_jobs``: one row per job (its service, the fingerprint of its input,
its done/failed counters). ``batch_items``: one row per *finished* item (done or failed),
keyed by ``(job_id, item_id)``; an item without a row is still to do. Every chunk of
results is written in one transaction together with the job's counters, so after a
crash (SIGKILL included) a chunk is either wholly there or wholly absent: nothing is
lost, nothing is doubled, and a resumed job scores exactly the items without a row.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Iterator, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

DONE, FAILED = "done", "failed"
_IN_LIST = 500  # ids per IN (...) clause: well under every backend's parameter limit

metadata = sa.MetaData()

jobs = sa.Table(
    "batch_jobs", metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("service", sa.String(500), nullable=False),
    sa.Column("source", sa.Text),
    sa.Column("fingerprint", sa.String(64)),
    sa.Column("total", sa.BigInteger),
    sa.Column("done", sa.BigInteger, nullable=False, default=0),
    sa.Column("failed", sa.BigInteger, nullable=False, default=0),
    sa.Column("chunks", sa.BigInteger, nullable=False, default=0),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

items = sa.Table(
    "batch_items", metadata,
    sa.Column("job_id", sa.String(200), primary_key=True),
    sa.Column("item_id", sa.String(255), primary_key=True),
    sa.Column("item_index", sa.BigInteger),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("result", sa.Text),  # JSON text: portable to every backend
    sa.Column("error", sa.Text),
    sa.Column("attempts", sa.Integer, nullable=False, default=1),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_batch_items_order", "job_id", "item_index"),
    sa.Index("ix_batch_items_status", "job_id", "status"),
)


@dataclass
class Outcome:
    """One scored item: its key and its result or its error (a JSON-able dict)."""

    item_id: str
    index: int | None
    result: Any = None
    error: dict | None = None

    @property
    def ok(self) -> bool:
        """Whether the item was scored."""
        return self.error is None


@dataclass(frozen=True)
class JobRow:
    """A job as stored."""

    job_id: str
    service: str
    source: str | None
    fingerprint: str | None
    total: int | None
    done: int
    failed: int
    chunks: int


class JobMismatch(ValueError):
    """A job id is reused for another service or another input file."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets a reader (a test, a dashboard) look at progress while the job commits,
    # and a writer killed mid-transaction leaves the last committed chunk intact.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL and a busy timeout."""
    engine = sa.create_engine(url)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_pragmas)
    return engine


class Store:
    """Jobs and their item results in one SQL database."""

    def __init__(self, url: str):
        self.engine = create_engine(url)
        metadata.create_all(self.engine)

    def describe(self) -> str:
        """The database URL with any password hidden, for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Release pooled connections."""
        self.engine.dispose()

    # -- jobs ------------------------------------------------------------------------
    def job(self, job_id: str) -> JobRow | None:
        """The stored job, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(jobs).where(jobs.c.job_id == job_id)).first()
        return JobRow(**{k: row._mapping[k] for k in JobRow.__dataclass_fields__}) \
            if row else None

    def start_job(self, job_id: str, service: str, *, source: str | None = None,
                  fingerprint: str | None = None, total: int | None = None) -> JobRow:
        """Create the job, or check that a stored one is the same job (same service,
        same input bytes) before it is resumed."""
        existing = self.job(job_id)
        if existing is None and self._insert_job(job_id, service, source, fingerprint,
                                                 total):
            return self.job(job_id)
        existing = existing or self.job(job_id)  # another process created it just now
        _check_same(existing, service, fingerprint)
        return existing

    def _insert_job(self, job_id, service, source, fingerprint, total) -> bool:
        """Insert the job's row; False when another process inserted it first (queue
        workers starting together), in which case that row is checked instead."""
        now = _now()
        try:
            with self.engine.begin() as conn:
                conn.execute(jobs.insert().values(
                    job_id=job_id, service=service, source=source, fingerprint=fingerprint,
                    total=total, done=0, failed=0, chunks=0, created_at=now, updated_at=now))
        except sa.exc.IntegrityError:
            return False
        return True

    # -- items -----------------------------------------------------------------------
    def statuses(self, job_id: str, first: int, last: int) -> dict[int, str]:
        """``{item_index: status}`` of the finished items with first <= index < last."""
        query = sa.select(items.c.item_index, items.c.status).where(
            items.c.job_id == job_id, items.c.item_index >= first, items.c.item_index < last)
        with self.engine.connect() as conn:
            return {index: status for index, status in conn.execute(query)}

    def commit_chunk(self, job_id: str, outcomes: Sequence[Outcome]) -> None:
        """Write a chunk's results (replacing earlier failures of the same items) and the
        job's counters, in one transaction."""
        if not outcomes:
            return
        with self.engine.begin() as conn:
            prior = _prior_rows(conn, job_id, [o.item_id for o in outcomes])
            _delete_items(conn, job_id, list(prior))
            conn.execute(items.insert(), [_item_row(job_id, o, prior.get(o.item_id))
                                          for o in outcomes])
            _bump_counters(conn, job_id, outcomes, prior)

    def store_once(self, job_id: str, outcomes: Sequence[Outcome], attempts: int = 3) -> int:
        """Insert the results of items not stored yet (a redelivered queue message finds
        its result already there); returns how many were new. Idempotent by item id."""
        for attempt in range(attempts):
            try:
                return self._insert_new(job_id, outcomes)
            except sa.exc.IntegrityError:
                # Another worker stored one of these items between our read and our
                # write; the next attempt sees it and skips it.
                if attempt == attempts - 1:
                    raise
        return 0

    def _insert_new(self, job_id: str, outcomes: Sequence[Outcome]) -> int:
        with self.engine.begin() as conn:
            prior = _prior_rows(conn, job_id, [o.item_id for o in outcomes])
            fresh = list({o.item_id: o for o in outcomes if o.item_id not in prior}.values())
            if fresh:
                conn.execute(items.insert(), [_item_row(job_id, o, None) for o in fresh])
                _bump_counters(conn, job_id, fresh, {})
        return len(fresh)

    def iter_items(self, job_id: str, batch: int = 1000) -> Iterator[sa.Row]:
        """The job's finished items in input order (streamed in batches)."""
        query = sa.select(items.c.item_index, items.c.item_id, items.c.status,
                          items.c.result, items.c.error, items.c.attempts) \
            .where(items.c.job_id == job_id).order_by(items.c.item_index, items.c.item_id)
        with self.engine.connect() as conn:
            yield from conn.execution_options(yield_per=batch).execute(query)


def _check_same(job: JobRow, service: str, fingerprint: str | None) -> None:
    if job.service != service:
        raise JobMismatch(f"job {job.job_id!r} scores {job.service!r}, not {service!r}; "
                          "use another --job id")
    if job.fingerprint and fingerprint and job.fingerprint != fingerprint:
        raise JobMismatch(f"job {job.job_id!r} was started on other input bytes "
                          f"({job.source}); the file changed, so use another --job id")


def _chunks(values: list, size: int = _IN_LIST) -> Iterable[list]:
    return (values[start:start + size] for start in range(0, len(values), size))


def _prior_rows(conn: Connection, job_id: str, ids: list[str]) -> dict[str, tuple[str, int]]:
    """``{item_id: (status, attempts)}`` of the stored items among ``ids``."""
    found: dict[str, tuple[str, int]] = {}
    for part in _chunks(ids):
        query = sa.select(items.c.item_id, items.c.status, items.c.attempts).where(
            items.c.job_id == job_id, items.c.item_id.in_(part))
        found.update({row.item_id: (row.status, row.attempts) for row in conn.execute(query)})
    return found


def _delete_items(conn: Connection, job_id: str, ids: list[str]) -> None:
    for part in _chunks(ids):
        conn.execute(items.delete().where(items.c.job_id == job_id, items.c.item_id.in_(part)))


def _item_row(job_id: str, outcome: Outcome, prior: tuple[str, int] | None) -> dict:
    return {"job_id": job_id, "item_id": outcome.item_id, "item_index": outcome.index,
            "status": DONE if outcome.ok else FAILED,
            "result": json.dumps(outcome.result) if outcome.ok else None,
            "error": None if outcome.ok else json.dumps(outcome.error),
            "attempts": (prior[1] + 1) if prior else 1, "updated_at": _now()}


def _bump_counters(conn: Connection, job_id: str, outcomes: Sequence[Outcome],
                   prior: dict[str, tuple[str, int]]) -> None:
    done = sum(o.ok for o in outcomes) - sum(s == DONE for s, _ in prior.values())
    failed = sum(not o.ok for o in outcomes) - sum(s == FAILED for s, _ in prior.values())
    conn.execute(jobs.update().where(jobs.c.job_id == job_id).values(
        done=jobs.c.done + done, failed=jobs.c.failed + failed, chunks=jobs.c.chunks + 1,
        updated_at=_now()))
