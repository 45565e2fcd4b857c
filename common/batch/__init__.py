"""Batch predictions: score files, queues and DataFrames with the same services that
answer single calls.

- ``python -m common.batch SERVICE INPUT``: a resumable job over a JSONL or CSV file
  (:func:`run_job`); results in a SQL datastore and a JSONL file.
- ``python -m common.batch.worker SERVICE``: a Redis stream consumer (:mod:`.worker`).
- ``common/batch/spark.py``: the same scoring inside Spark partitions.
- ``python -m tools.batch_bench``: serial, parallel and chunked throughput.
"""
from .job import JobOptions, Summary, run_job
from .records import Record
from .scoring import JobAborted, Scorer, ServiceUnavailable
from .store import Outcome, Store

__all__ = ["JobAborted", "JobOptions", "Outcome", "Record", "Scorer", "ServiceUnavailable",
           "Store", "Summary", "run_job"]
