"""Reading a job's inputs: JSON Lines or CSV, one record per input, in file order.

Every record gets a stable key: its index (its position among the file's records) and
an item id (the value of ``--id-field`` when given, else the index). A record that cannot
be read is not fatal: it becomes a failed item with an ``invalid_record`` error, so a
million-line file with one bad line still finishes, and the bad line is reported.
"""
from __future__ import annotations

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

FORMATS = ("jsonl", "csv", "files")


@dataclass(frozen=True)
class Record:
    """One input: its index in the source, its item id, and its payload or a problem."""

    index: int | None
    item_id: str
    payload: Any = None
    #: Why this record cannot be sent (an error dict); it is then recorded as failed.
    problem: dict | None = None


@dataclass(frozen=True)
class SourceInfo:
    """What a job knows about its input file before scoring it."""

    path: Path
    fmt: str
    total: int
    fingerprint: str  # sha256 of the bytes: a resumed job must read the same file


class SourceError(ValueError):
    """The input file cannot be used (unknown format, duplicate ids)."""


def detect_format(path: Path, fmt: str | None = None) -> str:
    """``fmt`` if given, else a folder is ``files`` and a file goes by its extension
    (``.csv`` or JSON Lines)."""
    fmt = fmt or ("files" if path.is_dir() else "csv" if path.suffix.lower() == ".csv"
                  else "jsonl")
    if fmt not in FORMATS:
        raise SourceError(f"unknown input format {fmt!r}; use one of {', '.join(FORMATS)}")
    return fmt


def invalid_record(message: str) -> dict:
    """The error recorded for a record that could not be read."""
    return {"code": "invalid_record", "status": 400, "message": message, "details": {}}


def read_records(path: Path, fmt: str, id_field: str | None = None,
                 fields: Sequence[str] | None = None) -> Iterator[Record]:
    """Every record of the file, in order; streamed, so any size fits in memory (the
    ``files`` format is read by ``files.read_source``)."""
    rows = _jsonl_rows(path) if fmt == "jsonl" else _csv_rows(path)
    for index, (row, problem) in enumerate(rows):
        yield _record(index, row, problem, id_field, fields)


def _jsonl_rows(path: Path) -> Iterator[tuple[Any, str | None]]:
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue  # blank lines are not records (a trailing newline is common)
            try:
                yield json.loads(line), None
            except ValueError as e:
                yield None, f"line {number} is not JSON: {e}"


def _csv_rows(path: Path) -> Iterator[tuple[Any, str | None]]:
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            yield dict(row), None


def _record(index: int, row: Any, problem: str | None, id_field: str | None,
            fields: Sequence[str] | None) -> Record:
    if problem is not None:
        return Record(index, _fallback_id(index, id_field), problem=invalid_record(problem))
    item_id = str(index)
    if id_field:
        if not isinstance(row, dict) or row.get(id_field) in (None, ""):
            return Record(index, _fallback_id(index, id_field),
                          problem=invalid_record(f"record {index} has no {id_field!r}"))
        row = dict(row)
        item_id = str(row.pop(id_field))  # the id is ours, not the service's input
    if fields and isinstance(row, dict):
        row = {key: row[key] for key in fields if key in row}
    return Record(index, item_id, row)


def _fallback_id(index: int, id_field: str | None) -> str:
    # With --id-field, a record without an id still needs a key that no real id has.
    return f"#{index}" if id_field else str(index)


def scan_source(path: Path, fmt: str | None = None, id_field: str | None = None) -> SourceInfo:
    """Count the records (for the progress bar), fingerprint the file, and refuse
    duplicate item ids before anything is scored."""
    fmt = detect_format(path, fmt)
    seen: set[str] = set()
    total = 0
    for record in read_records(path, fmt, id_field):
        total += 1
        if id_field and record.problem is None:
            if record.item_id in seen:
                raise SourceError(f"duplicate {id_field} {record.item_id!r} in {path} "
                                  f"(record {record.index}); item ids must be unique")
            seen.add(record.item_id)
    return SourceInfo(path, fmt, total, file_sha256(path))


def file_sha256(path: Path) -> str:
    """The file's sha256, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
