"""A batch job killed with SIGKILL half-way, then run again: it finishes, scores only
what was not committed, and every item ends with exactly one result."""
from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from common.batch.job import JobOptions, run_job
from common.batch.store import Store
from common.core.registry import ROOT
from tests.helpers.batch import (batch_command, read_jsonl, subprocess_env,
                                        wait_until, write_jsonl)

pytestmark = pytest.mark.integration

TOTAL = 4000


def committed_chunks(db: Path, job_id: str) -> int:
    """Chunks the job has committed so far (0 before its row exists)."""
    if not db.exists():
        return 0
    engine = sa.create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT chunks FROM batch_jobs WHERE job_id = :j"),
                                {"j": job_id}).scalar() or 0
    except sa.exc.OperationalError:
        return 0  # the job has not created its tables yet
    finally:
        engine.dispose()


def test_a_job_killed_mid_run_resumes_without_loss_or_duplicates(tmp_path, cleaner_url):
    texts = [f"item {i} is #SoGood @you http://x.co/{i}" for i in range(TOTAL)]
    source = write_jsonl(tmp_path / "big.jsonl", [{"text": t} for t in texts])
    db, out = tmp_path / "jobs.db", tmp_path / "big.out.jsonl"
    args = [str(source), "--url", cleaner_url, "--job", "killme", "--db", f"sqlite:///{db}",
            "-o", str(out), "--batch-size", "8", "--chunk-size", "100", "--no-progress"]
    log = open(tmp_path / "job.log", "wb")
    process = subprocess.Popen(batch_command("text_cleaner", *args), cwd=ROOT,
                               env=subprocess_env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(lambda: committed_chunks(db, "killme") >= 3 or process.poll() is not None,
                   timeout=90, what="three committed chunks")
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(30)
        log.close()
    assert process.returncode == -signal.SIGKILL

    store = Store(f"sqlite:///{db}")
    at_kill = store.job("killme")
    assert 300 <= at_kill.done < TOTAL, "the job must be killed half-way"
    assert at_kill.done == len(list(store.iter_items("killme")))  # counters match rows

    summary = run_job(JobOptions(service="text_cleaner", input=source, output=out,
                                 db_url=f"sqlite:///{db}", job_id="killme", url=cleaner_url,
                                 progress=False))
    assert summary.scored == TOTAL - at_kill.done  # nothing committed was scored again
    assert (summary.done, summary.failed) == (TOTAL, 0)
    rows = list(store.iter_items("killme"))
    assert [r.item_index for r in rows] == list(range(TOTAL))  # one row per item
    assert {r.attempts for r in rows} == {1}
    lines = read_jsonl(out)
    assert [x["index"] for x in lines] == list(range(TOTAL))
    assert [x["result"]["urls"] for x in lines[:2]] == [["http://x.co/0"], ["http://x.co/1"]]
