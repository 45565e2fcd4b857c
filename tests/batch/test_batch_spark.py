"""The Spark job in local mode (``local[2]``) against text_cleaner under gunicorn."""
from __future__ import annotations

import json
import shutil

import pytest

from common.client import Client

pytestmark = pytest.mark.integration

TEXTS = ["Sooo happy with @acme!! #BestDayEver https://t.co/x", "", "plain words",
         "@bob worst day ever #fail", "Meeting at 3pm &amp; lunch", "I loooove it #NewYear",
         "hello world", "#One #Two three"]


def test_a_dataframe_is_scored_through_the_service(cleaner_url):
    if shutil.which("java") is None:
        pytest.fail("Spark needs Java: run scripts/install-system-deps.sh as root")
    from common.batch.spark import local_session, score_dataframe
    spark = local_session("local[2]")
    try:
        df = spark.createDataFrame([(f"r{i}", t) for i, t in enumerate(TEXTS)], ["id", "text"])
        assert df.rdd.getNumPartitions() == 2
        rows = score_dataframe(df, "text_cleaner", url=cleaner_url, columns=["text"]).collect()
    finally:
        spark.stop()
    assert [(r.id, r.text) for r in rows] == [(f"r{i}", t) for i, t in enumerate(TEXTS)]
    cleaner = Client(urls={"text_cleaner": cleaner_url}).algo("text_cleaner")
    for row, text in zip(rows, TEXTS, strict=True):
        if not text:
            assert row.result is None and json.loads(row.error)["code"] == "invalid_input"
        else:
            assert row.error is None
            assert json.loads(row.result) == cleaner.pipe({"text": text}).result
