"""A batch job through a chain whose later stage refuses a few items: it finishes,
records exactly those items as failed, and a rerun has nothing left to do."""
from __future__ import annotations

import subprocess

import pytest

from common.batch.store import Store
from common.core.registry import ROOT
from tests.helpers.batch import batch_command, read_jsonl, subprocess_env, write_jsonl

pytestmark = pytest.mark.integration

TOTAL, REFUSED = 2000, {7, 400, 999, 1500, 1999}
MENTION_ONLY = "@acme https://t.co/x"


@pytest.fixture(scope="module")
def chain(live_services) -> dict[str, str]:
    return live_services("text_cleaner", "sentiment", "tweet_sentiment")


def tweets(tmp_path):
    rows = [{"text": MENTION_ONLY if i in REFUSED else f"tweet {i}: loving it #GreatDay"}
            for i in range(TOTAL)]
    return write_jsonl(tmp_path / "tweets.jsonl", rows)


def run(service: str, url: str, source, db, *extra: str) -> subprocess.CompletedProcess:
    args = [str(source), "--url", url, "--job", "chain", "--db", f"sqlite:///{db}",
            "-o", str(source.with_suffix(".out.jsonl")), "--no-progress", *extra]
    return subprocess.run(batch_command(service, *args), cwd=ROOT, env=subprocess_env(),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("service,extra", [("tweet_sentiment", ()),
                                           ("text_cleaner", ("--next", "sentiment[text]"))])
def test_the_job_finishes_with_exactly_the_refused_items_failed(tmp_path, chain, service,
                                                                extra):
    source, db = tweets(tmp_path), tmp_path / "jobs.db"
    first = run(service, chain[service], source, db, *extra)
    assert first.returncode == 3, first.stdout + first.stderr
    job = Store(f"sqlite:///{db}").job("chain")
    assert (job.done, job.failed) == (TOTAL - len(REFUSED), len(REFUSED))
    failed = [r for r in read_jsonl(source.with_suffix(".out.jsonl")) if r.get("error")]
    assert sorted(r["index"] for r in failed) == sorted(REFUSED)
    assert all(r["error"]["details"]["stage"] == "sentiment" for r in failed)

    again = run(service, chain[service], source, db, *extra)
    assert again.returncode == 3, again.stdout + again.stderr
    assert "this run: scored 0 " in again.stdout + again.stderr


def test_make_batch_says_the_jobs_own_status(tmp_path, chain):
    source = write_jsonl(tmp_path / "few.jsonl", [{"text": "great #fun"}, {"text": MENTION_ONLY}])
    args = (f"tweet_sentiment {source} --url {chain['tweet_sentiment']} --db "
            f"sqlite:///{tmp_path}/jobs.db --no-progress")
    made = subprocess.run(["make", "--no-print-directory", "batch", f"ARGS={args}"], cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)
    assert made.returncode == 2  # make's own: it has no other way to say "failed"
    assert "the job exited with status 3" in made.stderr
    assert "Error 3" in made.stderr
