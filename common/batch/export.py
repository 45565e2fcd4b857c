"""The JSONL output of a job, written from the datastore.

The datastore is the one source of truth; the file is a view of it, rewritten whole at
the end of every run: the job's items in input order, one line each, written to a
temporary file beside the target and renamed over it (``os.replace``, atomic). A run
killed at any point leaves either the previous complete file or none, never a torn or
doubled one, and the next run rewrites it from what is committed.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from .store import DONE, Store


def export_jsonl(store: Store, job_id: str, path: Path) -> int:
    """Write the job's results to ``path``; returns the number of lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    count = 0
    try:
        with open(temporary, "w", encoding="utf-8") as out:
            for row in store.iter_items(job_id):
                out.write(_line(row) + "\n")
                count += 1
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return count


def _line(row) -> str:
    # The stored JSON text is spliced in as is: no decode and re-encode per item.
    head = f'{{"index": {json.dumps(row.item_index)}, "id": {json.dumps(row.item_id)}, '
    if row.status == DONE:
        return head + f'"status": "done", "result": {row.result}}}'
    return head + f'"status": "failed", "error": {row.error}, "attempts": {row.attempts}}}'
