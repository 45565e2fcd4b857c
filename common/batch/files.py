"""Files as a job's inputs and outputs: a folder (or a list) of videos or images in,
result files out.

With ``--format files`` (the default when the input is a folder), every file of the
folder (or every path listed, one a line, in a text file; relative paths are taken from
the list's folder) is one item: its id is its path relative to the folder, its input
``{<file field>: <base64 of the file>}``. Files are read only when their chunk is
scored, never all at once.

With a save field (``video`` by default for file inputs), each result's field, a base64
file, is written to ``<output dir>/<item id><ext>`` and the stored result keeps the path
and size instead of megabytes of base64.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence

from .records import Record, SourceInfo, detect_format, invalid_record, read_records, scan_source

#: Files a folder input skips: hidden ones, and a job's own outputs beside them.
_SKIPPED_SUFFIXES = (".db", ".jsonl", ".db-journal", ".db-wal", ".db-shm", ".tmp")


@dataclass(frozen=True)
class FileInput:
    """A file still to read: what a file record carries until its chunk is scored."""

    path: Path
    field: str


def list_files(source: Path) -> list[tuple[str, Path]]:
    """(item id, path) of every input file, in a stable order."""
    if source.is_dir():
        found = sorted(p for p in source.rglob("*") if p.is_file()
                       and not any(part.startswith(".") for part in p.relative_to(source).parts)
                       and p.suffix.lower() not in _SKIPPED_SUFFIXES)
        return [(p.relative_to(source).as_posix(), p) for p in found]
    lines = [line.strip() for line in source.read_text(encoding="utf-8").splitlines()]
    paths = [Path(line) for line in lines if line and not line.startswith("#")]
    return [(str(p), p if p.is_absolute() else source.parent / p) for p in paths]


def read_source(path: Path, fmt: str, id_field: str | None = None,
                fields: Sequence[str] | None = None,
                file_field: str = "video") -> Iterator[Record]:
    """A job's records: one per file for ``files``, else the JSONL or CSV records."""
    if fmt == "files":
        return file_records(path, file_field)
    return read_records(path, fmt, id_field, fields)


def scan_any(path: Path, fmt: str | None = None, id_field: str | None = None) -> SourceInfo:
    """:func:`scan_source`, or for files their count and fingerprint."""
    fmt = detect_format(path, fmt)
    if fmt != "files":
        return scan_source(path, fmt, id_field)
    return SourceInfo(path, fmt, len(list_files(path)), files_fingerprint(path))


def file_records(source: Path, field: str) -> Iterator[Record]:
    """A record per file; a listed file that is missing is a failed item, not fatal."""
    for index, (item_id, path) in enumerate(list_files(source)):
        if not path.is_file():
            yield Record(index, item_id, problem=invalid_record(f"no such file: {path}"))
        else:
            yield Record(index, item_id, FileInput(path, field))


def files_fingerprint(source: Path) -> str:
    """A sha256 over every input file's id and contents: a resumed job must read the
    same files."""
    digest = hashlib.sha256()
    for item_id, path in list_files(source):
        digest.update(item_id.encode() + b"\0")
        if path.is_file():
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
    return digest.hexdigest()


def materialize(records: Sequence[Record]) -> list[Record]:
    """The records with their files read into base64 inputs (done per chunk)."""
    return [_read(r) if isinstance(r.payload, FileInput) else r for r in records]


def _read(record: Record) -> Record:
    try:
        data = record.payload.path.read_bytes()
    except OSError as e:
        return replace(record, payload=None,
                       problem=invalid_record(f"cannot read {record.payload.path}: {e}"))
    return replace(record, payload={record.payload.field:
                                    base64.b64encode(data).decode("ascii")})


@dataclass(frozen=True)
class ResultFiles:
    """Where results' base64 fields are written, and under which extension."""

    folder: Path
    field: str
    extension: str = ".mp4"

    def save(self, item_id: str, result: object) -> object:
        """``result`` with its field written to a file and replaced by the file's path."""
        if not isinstance(result, dict) or not isinstance(result.get(self.field), str):
            return result
        try:
            data = base64.b64decode(result[self.field], validate=True)
        except (binascii.Error, ValueError):
            return result  # not base64: kept as the service sent it
        name = _safe_name(item_id)
        target = self.folder / (name if name.endswith(self.extension) else name + self.extension)
        target.parent.mkdir(parents=True, exist_ok=True)
        temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, target)  # a crash never leaves half a file under the name
        return {**result, self.field: str(target), f"{self.field}_bytes": len(data)}


def _safe_name(item_id: str) -> str:
    """An item id as a relative file name: its folders kept, no way out of the folder."""
    parts = [p for p in Path(item_id).parts if p not in ("", ".", "..", "/")]
    return "/".join(parts) or "item"
