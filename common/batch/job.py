"""A batch job: a file of inputs scored through a service, resumable at any point.

The job reads its source in windows, asks the datastore which items of the window are
finished, cuts the rest into chunks and scores each chunk (one item per call, or list
calls within the service's limits, on N threads). Each chunk's results are committed in
one transaction with the job's counters, in input order, while the next chunk is already
being scored. At the end, the JSONL output is rewritten from the datastore.
"""
from __future__ import annotations

import os
import re
import sys
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path
from typing import Callable, Iterable, Iterator

from tqdm import tqdm

from common.client.client import Client
from .export import export_jsonl
from .files import ResultFiles, materialize, read_source, scan_any
from .records import Record, SourceError, SourceInfo
from .scoring import JobAborted, Scorer, build_scorer, check_available
from .store import FAILED, Outcome, Store

MODES = ("serial", "parallel", "chunked")
#: Records whose finished/pending state is looked up in one query.
WINDOW = 5000
#: Chunks scored ahead of the one being committed: keeps the threads busy meanwhile.
AHEAD = 2
DB_ENV = "MODELCHAIN_BATCH_DB"


@dataclass
class JobOptions:
    """Everything a job run is told (see ``python -m common.batch --help``)."""

    service: str
    input: Path
    output: Path | None = None
    db_url: str | None = None
    job_id: str | None = None
    fmt: str | None = None
    id_field: str | None = None
    fields: tuple[str, ...] = ()
    mode: str = "chunked"
    workers: int = 4
    batch_size: int | None = None
    chunk_size: int = 500
    timeout: float = 30.0
    retry_failed: bool = False
    next_stages: tuple[str, ...] = ()
    url: str | None = None
    progress: bool = True
    #: File inputs (``--format files``): the input field each file is sent as.
    file_field: str = "video"
    #: A result field holding a base64 file, written to ``files_dir`` (see files.py);
    #: default ``video`` for file inputs, none otherwise.
    save_field: str | None = None
    save_ext: str = ".mp4"
    files_dir: Path | None = None

    def result_files(self, fmt: str) -> ResultFiles | None:
        """Where results' files go, if anywhere."""
        field = self.save_field or (self.file_field if fmt == "files" else None)
        if not field:
            return None
        folder = self.files_dir or self.output_path().with_name(
            f"{self.output_path().stem}.files")
        return ResultFiles(folder, field, self.save_ext)

    def output_path(self) -> Path:
        """The JSONL output (default: ``<input stem>.results.jsonl`` beside the input)."""
        return self.output or self.input.with_name(f"{self.input.stem}.results.jsonl")

    def database_url(self) -> str:
        """``--db``, else ``$MODELCHAIN_BATCH_DB``, else SQLite beside the output."""
        return self.db_url or os.environ.get(DB_ENV) or \
            f"sqlite:///{self.output_path().with_suffix('.db')}"

    def service_label(self) -> str:
        """The service and its hybrid next stages, as stored with the job."""
        return ">".join([self.service, *self.next_stages])


@dataclass
class Summary:
    """How a run went, and where the job stands."""

    job_id: str
    total: int
    done: int
    failed: int
    scored: int = 0
    seconds: float = 0.0
    output: Path | None = None
    database: str = ""
    aborted: str | None = None

    @property
    def rate(self) -> float:
        """Items scored per second in this run."""
        return self.scored / self.seconds if self.seconds > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 all done, 3 some items failed (recorded), 4 aborted (run again to resume)."""
        return 4 if self.aborted else 3 if self.failed else 0

    def __str__(self) -> str:
        lines = [f"job {self.job_id}: {self.total} items, {self.done} done, "
                 f"{self.failed} failed, {self.total - self.done - self.failed} to do",
                 f"this run: scored {self.scored} in {self.seconds:.1f}s "
                 f"({self.rate:.1f} items/s)",
                 f"results: {self.output}  datastore: {self.database}"]
        if self.failed and not self.aborted:
            lines.append("failed items are recorded with their errors; "
                         "run again with --retry-failed to retry them alone")
        if self.aborted:
            lines.append(f"ABORTED: {self.aborted}; run the same command again to resume")
        return "\n".join(lines)


def default_job_id(options: JobOptions, source: SourceInfo) -> str:
    """The same command on the same file gives the same id, so running it again resumes."""
    raw = f"{options.input.stem}-{'+'.join([options.service, *options.next_stages])}"
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", raw)[:150] + f"-{source.fingerprint[:12]}"


def run_job(options: JobOptions, client: Client | None = None) -> Summary:
    """Run (or resume) a job to its end; the JSONL output is rewritten from the store."""
    if options.mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {options.mode!r}")
    source = scan_any(options.input, options.fmt, options.id_field)
    store = Store(options.database_url())
    try:
        job_id = options.job_id or default_job_id(options, source)
        store.start_job(job_id, options.service_label(), source=str(source.path),
                        fingerprint=source.fingerprint, total=source.total)
        return _run(options, source, store, job_id, client)
    finally:
        store.close()


def _run(options: JobOptions, source: SourceInfo, store: Store, job_id: str,
         client: Client | None) -> Summary:
    started, tally, aborted = time.monotonic(), [0], None
    try:
        scorer = make_scorer(options, client)
        check_fields(options, source, scorer.algo.metadata())
        _score_pending(options, source, store, job_id, scorer, tally)
    except JobAborted as e:
        aborted = str(e)  # what was committed stays; the summary says how to resume
    seconds = time.monotonic() - started
    output = options.output_path()
    export_jsonl(store, job_id, output)
    job = store.job(job_id)
    return Summary(job_id, source.total, job.done, job.failed, tally[0], seconds, output,
                   store.describe(), aborted)


#: Field names that hold an item's id rather than an input of the service.
ID_FIELD_NAMES = ("id", "_id", "uuid", "key", "item_id", "row_id")


def check_fields(options: JobOptions, source: SourceInfo, metadata: dict) -> None:
    """Refuse, before anything is sent, records whose fields the service does not take
    (every item would fail with "Unknown field"), and say which option fixes it."""
    schema = metadata.get("input_schema") or {}
    if schema.get("additionalProperties", True) is not False or options.fields:
        return
    first = next(iter(read_source(source.path, source.fmt, options.id_field, None)), None)
    if first is None or not isinstance(first.payload, dict):
        return
    taken = set(schema.get("properties") or {})
    extra = sorted(set(first.payload) - taken)
    if not extra:
        return
    ids = [f for f in extra if f.lower() in ID_FIELD_NAMES]
    hint = f"--id-field {ids[0]} (the item id)" if ids else \
        f"--fields {','.join(sorted(set(first.payload) & taken)) or '<fields>'}"
    raise SourceError(f"the records carry {', '.join(extra)}, which {options.service} does "
                      f"not take, so every item would fail; use {hint}. It takes: "
                      f"{', '.join(sorted(taken))}.")


def make_scorer(options: JobOptions, client: Client | None = None) -> Scorer:
    """A scorer for the job's service, with the limits its ``/metadata`` declares."""
    return build_scorer(options.service, url=options.url, timeout=options.timeout,
                        batch_size=options.batch_size, next_stages=options.next_stages,
                        client=client)


# -- which items are left ----------------------------------------------------------------
def pending_chunks(options: JobOptions, source: SourceInfo, store: Store,
                   job_id: str) -> Iterator[list[Record]]:
    """The job's unfinished records (and its failed ones with ``--retry-failed``), in
    input order, in chunks of ``chunk_size``."""
    records = read_source(source.path, source.fmt, options.id_field, options.fields,
                          options.file_field)
    todo = chain.from_iterable(_todo_in(window, store, job_id, options.retry_failed)
                               for window in _batched(records, WINDOW))
    # a file is read when its chunk is scored: chunks of files stay small
    size = min(options.chunk_size, max(1, options.workers)) if source.fmt == "files" \
        else options.chunk_size
    return _batched(todo, max(1, size))


def _todo_in(window: list[Record], store: Store, job_id: str,
             retry_failed: bool) -> list[Record]:
    finished = store.statuses(job_id, window[0].index, window[-1].index + 1)
    again = {FAILED} if retry_failed else set()
    return [r for r in window if finished.get(r.index) in again or r.index not in finished]


def _batched(items: Iterable, size: int) -> Iterator[list]:
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


# -- scoring and committing chunks -----------------------------------------------------------
@dataclass
class _Flight:
    """A chunk being scored: its futures, in input order."""

    futures: list[Future]

    def outcomes(self) -> list[Outcome]:
        results = [f.result() for f in self.futures]  # re-raises JobAborted
        return [o for r in results for o in (r if isinstance(r, list) else [r])]


def _score_pending(options: JobOptions, source: SourceInfo, store: Store, job_id: str,
                   scorer: Scorer, tally: list[int]) -> None:
    """Score and commit every pending chunk; ``tally[0]`` counts the committed items
    (kept when the job aborts half-way)."""
    workers = 1 if options.mode == "serial" else max(1, options.workers)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="batch")
    bar = _progress_bar(options, source, store.job(job_id), job_id)
    try:
        submit = _submitter(options.mode, scorer, pool)
        commit = _committer(store, job_id, bar, tally, options.result_files(source.fmt))
        _pipeline(pending_chunks(options, source, store, job_id), submit, commit)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        bar.close()


def _submitter(mode: str, scorer: Scorer, pool: ThreadPoolExecutor
               ) -> Callable[[list[Record]], _Flight]:
    if mode == "chunked":
        return lambda chunk: _Flight([pool.submit(scorer.score_list, call)
                                      for call in scorer.plan(materialize(chunk))])
    return lambda chunk: _Flight([pool.submit(scorer.score_one, r)
                                  for r in materialize(chunk)])


def _committer(store: Store, job_id: str, bar: tqdm, tally: list[int],
               files: ResultFiles | None = None) -> Callable[[_Flight], None]:
    def commit(flight: _Flight) -> None:
        outcomes = flight.outcomes()
        check_available(outcomes)  # a dead service stops the job; this chunk stays to do
        if files is not None:  # the store keeps paths, not megabytes of base64
            outcomes = [replace(o, result=files.save(o.item_id, o.result)) if o.ok else o
                        for o in outcomes]
        store.commit_chunk(job_id, outcomes)
        if bar.disable is False:
            bar.set_postfix(failed=store.job(job_id).failed, refresh=False)
        bar.update(len(outcomes))
        tally[0] += len(outcomes)
    return commit


def _pipeline(chunks: Iterable[list[Record]], submit: Callable[[list[Record]], _Flight],
              commit: Callable[[_Flight], None]) -> None:
    """Score up to AHEAD chunks ahead of the one being committed, in input order."""
    window: deque[_Flight] = deque()
    for chunk in chunks:
        window.append(submit(chunk))
        if len(window) > AHEAD:
            commit(window.popleft())
    while window:
        commit(window.popleft())


def _progress_bar(options: JobOptions, source: SourceInfo, job, job_id: str) -> tqdm:
    # With --retry-failed the failed items are to do again, so they are not counted yet.
    finished = job.done + (0 if options.retry_failed else job.failed)
    return tqdm(total=source.total, initial=min(finished, source.total), unit="item",
                desc=job_id[:40], file=sys.stderr, disable=not options.progress,
                mininterval=0.5, smoothing=0.1, dynamic_ncols=True)
