"""``python -m common.batch`` against real gunicorn services: complete, in order, the
same results as single calls, within the service's limits, failures recorded and
retried alone."""
from __future__ import annotations

import random

import pytest

from common.batch.__main__ import main
from common.batch.store import Store
from common.client import Client
from tests.helpers.batch import read_batches, read_jsonl, write_jsonl

pytestmark = pytest.mark.integration

TWEETS = ["Sooo happy with @acme's support!! #BestDayEver https://t.co/x",
          "@bob this is the worst service ever, I hate waiting #fail",
          "The meeting is at 3pm in room 4 http://example.com/agenda &amp; more",
          "I loooove it 😍 #happy #NewYear"]


def tweet(i: int) -> dict:
    """Input ``i``: varied texts; every 250th is empty, which text_cleaner rejects."""
    return {"text": "" if i % 250 == 7 else f"{TWEETS[i % len(TWEETS)]} #{i}"}


def test_a_job_over_thousands_of_inputs_equals_single_calls(tmp_path, cleaner_url):
    inputs = [tweet(i) for i in range(3000)]
    source = write_jsonl(tmp_path / "tweets.jsonl", inputs)
    code = main(["text_cleaner", str(source), "--url", cleaner_url, "--workers", "2",
                 "--chunk-size", "400", "--no-progress"])
    assert code == 3  # done, with some items failed (recorded)
    lines = read_jsonl(tmp_path / "tweets.results.jsonl")
    assert [line["index"] for line in lines] == list(range(3000))
    failed = [line for line in lines if line["status"] == "failed"]
    assert [f["index"] for f in failed] == [i for i in range(3000) if i % 250 == 7]
    assert {f["error"]["code"] for f in failed} == {"invalid_input"}
    assert "text" in failed[0]["error"]["details"]
    cleaner = Client(urls={"text_cleaner": cleaner_url}).algo("text_cleaner")
    for i in random.Random(7).sample([i for i in range(3000) if i % 250 != 7], 25):
        assert lines[i]["result"] == cleaner.pipe(inputs[i]).result, i


@pytest.mark.parametrize("mode", ["serial", "parallel"])
def test_every_mode_gives_the_same_results(tmp_path, cleaner_url, mode):
    source = write_jsonl(tmp_path / "few.jsonl", [tweet(i) for i in range(120)])
    outputs = {}
    for run_mode in ("chunked", mode):
        out = tmp_path / f"{run_mode}.jsonl"
        assert main(["text_cleaner", str(source), "--url", cleaner_url, "--mode", run_mode,
                     "-o", str(out), "--no-progress"]) == 3
        outputs[run_mode] = [(x["index"], x.get("result"), x["status"]) for x in read_jsonl(out)]
    assert outputs["chunked"] == outputs[mode]


def test_calls_respect_the_services_batch_and_body_limits(tmp_path, flaky):
    # flaky takes at most 16 items and 4096 bytes a call: 300-byte texts fit 12 a call.
    texts = [f"{i:04d}" + "x" * (20 if i % 5 == 0 else 296) for i in range(200)]
    source = write_jsonl(tmp_path / "long.jsonl", [{"text": t} for t in texts])
    before = len(read_batches(flaky["log"]))
    assert main(["flaky", str(source), "--url", flaky["url"], "--no-progress"]) == 0
    batches = read_batches(flaky["log"])[before:]
    assert sorted(t for b in batches for t in b) == sorted(texts)  # no 413, nothing twice
    assert max(len(b) for b in batches) <= 16
    assert any(len(b) < 16 for b in batches[:-1])  # the body limit cut some calls short
    lines = read_jsonl(tmp_path / "long.results.jsonl")
    assert [x["result"]["echo"] for x in lines] == texts


def test_failed_items_are_recorded_and_retried_alone(tmp_path, flaky):
    texts = [f"retry-{i}" for i in range(300)]
    rejected = {texts[i] for i in (3, 150, 299)}
    source = write_jsonl(tmp_path / "items.jsonl", [{"text": t} for t in texts])
    flaky["reject"].write_text("\n".join(rejected) + "\n")
    args = ["flaky", str(source), "--url", flaky["url"], "--job", "retry", "--no-progress"]
    try:
        assert main(args) == 3
    finally:
        flaky["reject"].unlink()
    store = Store(f"sqlite:///{tmp_path / 'items.results.db'}")
    job = store.job("retry")
    assert (job.done, job.failed) == (297, 3)
    errors = {r.item_index: r.error for r in store.iter_items("retry") if r.status == "failed"}
    assert set(errors) == {3, 150, 299} and "Rejected for now" in errors[3]

    before = len(read_batches(flaky["log"]))
    assert main([*args, "--retry-failed"]) == 0
    sent = [t for b in read_batches(flaky["log"])[before:] for t in b]
    assert sorted(sent) == sorted(rejected)  # only the failed items were scored again
    lines = read_jsonl(tmp_path / "items.results.jsonl")
    assert [x["result"]["echo"] for x in lines] == texts
    assert store.job("retry").failed == 0


def test_csv_input_with_stable_ids(tmp_path, cleaner_url):
    source = tmp_path / "rows.csv"
    source.write_text('id,text,label\nA7,"hello @you, #GoodMorning",x\nB9,bye now,y\n')
    assert main(["text_cleaner", str(source), "--url", cleaner_url, "--id-field", "id",
                 "--fields", "text", "--no-progress"]) == 0
    lines = read_jsonl(tmp_path / "rows.results.jsonl")
    assert [(x["id"], x["result"]["text"]) for x in lines] == [
        ("A7", "hello, Good Morning"), ("B9", "bye now")]


def test_a_changed_input_under_the_same_job_id_is_refused(tmp_path, cleaner_url):
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "one"}])
    args = ["text_cleaner", str(source), "--url", cleaner_url, "--job", "j", "--no-progress"]
    assert main(args) == 0
    write_jsonl(source, [{"text": "two"}])
    assert main(args) == 2


def test_an_unreachable_service_aborts_without_recording_anything(tmp_path):
    from tests.conftest import free_port
    source = write_jsonl(tmp_path / "in.jsonl", [{"text": "one"}, {"text": "two"}])
    assert main(["text_cleaner", str(source), "--url", f"http://127.0.0.1:{free_port()}",
                 "--job", "down", "--no-progress"]) == 4
    store = Store(f"sqlite:///{tmp_path / 'in.results.db'}")
    assert list(store.iter_items("down")) == []
