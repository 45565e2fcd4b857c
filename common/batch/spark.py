"""Score a Spark DataFrame through a modelchain service, partition by partition.

Each partition opens one pipe client, reads the service's limits from ``/metadata`` and
sends its rows in list calls within them (``common.batch.scoring``: the same rules as
``python -m common.batch``: a bad row gets its own error, the others their results).
The answer is the input DataFrame with two more string columns: ``result`` (the
service's output as JSON) and ``error`` (the error as JSON), exactly one of them set per
row. A partition whose every call found the service unreachable fails its task, which
Spark retries.

    spark-submit --py-files modelchain.zip common/batch/spark.py text_cleaner \\
        --input tweets.jsonl --output scored/ --columns text --url http://cleaner:8101

In code: ``score_dataframe(df, "text_cleaner", url=..., columns=["text"])``.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql.types import StringType, StructField, StructType

ROOT = Path(__file__).resolve().parents[2]
#: Rows scored together inside a partition (cut further into calls by the limits).
GROUP = 500


def score_dataframe(df: DataFrame, service: str, *, url: str | None = None,
                    columns: Sequence[str] | None = None, batch_size: int | None = None,
                    timeout: float = 30.0, result_col: str = "result",
                    error_col: str = "error") -> DataFrame:
    """``df`` with ``result_col`` and ``error_col`` (JSON strings) from ``service``;
    ``columns`` are the fields sent (default: every column)."""
    spec = {"service": service, "url": url or service_url(service), "timeout": timeout,
            "batch_size": batch_size, "columns": list(columns or df.columns)}
    schema = StructType(list(df.schema.fields) + [StructField(result_col, StringType()),
                                                  StructField(error_col, StringType())])
    scored = df.rdd.mapPartitions(functools.partial(score_partition, spec))
    return df.sparkSession.createDataFrame(scored, schema)


def service_url(service: str) -> str:
    """The service's URL, resolved on the driver (registry + MODELCHAIN_URL_<NAME>), so
    executors need neither the registry file nor the environment."""
    from common.core.registry import load_registry
    from common.core.versions import resolve_ref
    entries = load_registry()
    return entries[resolve_ref(service, entries)].url   # sentiment@1: its deployment


def score_partition(spec: dict, rows: Iterable[Row]) -> Iterator[tuple]:
    """Score one partition's rows in groups; yields each row with result and error."""
    from common.batch.scoring import build_scorer
    scorer = build_scorer(spec["service"], url=spec["url"], timeout=spec["timeout"],
                          batch_size=spec["batch_size"])
    group: list[Row] = []
    for row in rows:
        group.append(row)
        if len(group) == GROUP:
            yield from _score_group(scorer, group, spec["columns"])
            group = []
    if group:
        yield from _score_group(scorer, group, spec["columns"])


def _score_group(scorer, rows: list[Row], columns: list[str]) -> Iterator[tuple]:
    from common.batch.records import Record
    from common.batch.scoring import check_available
    records = [Record(i, str(i), _payload(row, columns)) for i, row in enumerate(rows)]
    outcomes = [o for call in scorer.plan(records) for o in scorer.score_list(call)]
    check_available(outcomes)  # the service is down: fail the task, Spark retries it
    for row, outcome in zip(rows, outcomes, strict=True):
        result = json.dumps(outcome.result) if outcome.ok else None
        yield tuple(row) + (result, None if outcome.ok else json.dumps(outcome.error))


def _payload(row: Row, columns: list[str]) -> dict[str, Any]:
    # Nulls are left out: a service's schema gives a missing field its default.
    values = row.asDict(recursive=True)
    return {c: values[c] for c in columns if values.get(c) is not None}


def local_session(master: str = "local[2]", app: str = "modelchain-score") -> SparkSession:
    """A small local-mode session whose Python workers can import this project."""
    # PySpark starts its workers with $PYSPARK_PYTHON (default: python3 on the PATH);
    # they need this interpreter's packages, and this checkout on their path.
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return (SparkSession.builder.master(master).appName(app)
            .config("spark.executorEnv.PYTHONPATH", str(ROOT))
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "2")
            # A short-lived JVM: the quick JIT tier and the serial GC start fastest.
            .config("spark.driver.extraJavaOptions", "-XX:+UseSerialGC -XX:TieredStopAtLevel=1")
            .getOrCreate())


def main(argv: list[str] | None = None) -> int:
    """Read JSON lines, score them, write the scored rows (JSON or Parquet)."""
    parser = argparse.ArgumentParser(prog="common/batch/spark.py", description=main.__doc__)
    parser.add_argument("service")
    parser.add_argument("--input", required=True, help="JSON lines file or folder")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--format", choices=("json", "parquet"), default="json")
    parser.add_argument("--columns", help="comma-separated fields to send (default: all)")
    parser.add_argument("--url", help="the service's URL (default: the registry)")
    parser.add_argument("--batch-size", type=int, help="items per call (capped by limits)")
    parser.add_argument("--partitions", type=int, help="repartition the input first")
    parser.add_argument("--master", help="e.g. local[2] (default: spark-submit's)")
    args = parser.parse_args(argv)
    spark = local_session(args.master) if args.master else SparkSession.builder.getOrCreate()
    df = spark.read.json(args.input)
    df = df.repartition(args.partitions) if args.partitions else df
    columns = [c.strip() for c in args.columns.split(",")] if args.columns else None
    scored = score_dataframe(df, args.service, url=args.url, columns=columns,
                             batch_size=args.batch_size)
    scored.write.mode("overwrite").format(args.format).save(args.output)
    spark.stop()
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))  # spark-submit from a checkout: find ``common``
    sys.exit(main())
