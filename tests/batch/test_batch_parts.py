"""The batch package's parts on real files and a real SQLite datastore, and its scoring
rules against the flaky service in this process (the pipe client's ``local`` apps)."""
from __future__ import annotations

import json

import pytest

from common.batch.export import export_jsonl
from common.batch.planning import Limits, encoded_size, plan_calls
from common.batch.records import Record, SourceError, read_records, scan_source
from common.batch.scoring import ServiceUnavailable, Scorer, check_available
from common.batch.store import JobMismatch, Outcome, Store
from common.client import Client
from tests.helpers.flaky_app import create_app as create_flaky_app
from tests.helpers.batch import read_jsonl, write_jsonl


def test_jsonl_records_keep_their_index_and_bad_lines_become_problems(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"text": "a"}\n\n{not json\n{"text": "c"}\n')
    records = list(read_records(path, "jsonl"))
    assert [r.index for r in records] == [0, 1, 2]
    assert records[0] == Record(0, "0", {"text": "a"})
    assert records[1].problem["code"] == "invalid_record" and records[1].payload is None


def test_csv_records_take_their_id_out_of_the_input(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text('id,text,extra\nx1,"hello, world",1\n,no id,2\n')
    records = list(read_records(path, "csv", id_field="id", fields=["text"]))
    assert records[0] == Record(0, "x1", {"text": "hello, world"})
    assert records[1].item_id == "#1" and "has no 'id'" in records[1].problem["message"]


def test_duplicate_ids_are_refused_before_any_scoring(tmp_path):
    path = write_jsonl(tmp_path / "in.jsonl", [{"id": 1, "text": "a"}, {"id": 1, "text": "b"}])
    with pytest.raises(SourceError, match="duplicate id '1'"):
        scan_source(path, id_field="id")
    assert scan_source(path).total == 2


def test_calls_stay_within_the_batch_and_body_limits():
    records = [Record(i, str(i), {"text": "x" * (10 if i % 3 else 300)}) for i in range(50)]
    calls = plan_calls(records, max_items=8, max_bytes=1000)
    assert [r for call in calls for r in call] == records  # every record, in order
    for call in calls:
        assert len(call) <= 8
        assert encoded_size([r.payload for r in call]) <= 1000


def test_an_input_over_the_body_limit_is_planned_alone():
    records = [Record(0, "0", {"text": "a"}), Record(1, "1", {"text": "x" * 5000}),
               Record(2, "2", {"text": "b"})]
    assert [len(c) for c in plan_calls(records, max_items=10, max_bytes=1000)] == [1, 1, 1]


def _outcome(i: int, ok: bool = True) -> Outcome:
    return Outcome(str(i), i, result={"n": i}) if ok else \
        Outcome(str(i), i, error={"code": "invalid_input", "status": 400, "message": "no"})


def test_a_chunk_commits_its_results_and_counters_together(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.start_job("j", "svc", fingerprint="f", total=4)
    store.commit_chunk("j", [_outcome(0), _outcome(1, ok=False)])
    store.commit_chunk("j", [_outcome(2), _outcome(3)])
    assert (store.job("j").done, store.job("j").failed, store.job("j").chunks) == (3, 1, 2)
    store.commit_chunk("j", [_outcome(1)])  # a retried failure replaces the failure
    job = store.job("j")
    assert (job.done, job.failed) == (4, 0)
    rows = list(store.iter_items("j"))
    assert [r.item_index for r in rows] == [0, 1, 2, 3]
    assert [r.attempts for r in rows] == [1, 2, 1, 1]


def test_a_job_id_cannot_be_reused_for_another_input(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.start_job("j", "svc", fingerprint="aaa")
    with pytest.raises(JobMismatch, match="other input bytes"):
        store.start_job("j", "svc", fingerprint="bbb")
    with pytest.raises(JobMismatch, match="scores 'svc'"):
        store.start_job("j", "other", fingerprint="aaa")


def test_storing_once_is_idempotent_by_item_id(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.start_job("q", "svc")
    assert store.store_once("q", [_outcome(1), _outcome(2)]) == 2
    assert store.store_once("q", [_outcome(2), _outcome(3), _outcome(3)]) == 1
    assert [r.item_id for r in store.iter_items("q")] == ["1", "2", "3"]
    assert store.job("q").done == 3


def test_the_jsonl_output_is_rewritten_whole_from_the_store(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'jobs.db'}")
    store.start_job("j", "svc")
    store.commit_chunk("j", [_outcome(2), _outcome(0), _outcome(1, ok=False)])
    out = tmp_path / "out.jsonl"
    out.write_text("stale, torn line")
    assert export_jsonl(store, "j", out) == 3
    lines = read_jsonl(out)
    assert [line["index"] for line in lines] == [0, 1, 2]
    assert lines[0] == {"index": 0, "id": "0", "status": "done", "result": {"n": 0}}
    assert lines[1]["status"] == "failed" and lines[1]["error"]["code"] == "invalid_input"
    assert list(tmp_path.glob(".out.jsonl.*")) == []  # no temporary file left


@pytest.fixture(scope="module")
def local_scorer(tmp_path_factory):
    """A scorer for the flaky service living in this process, limits from /metadata."""
    folder = tmp_path_factory.mktemp("local-flaky")
    reject = folder / "reject.txt"
    app = create_flaky_app({"LOAD_MODEL": "sync", "MAX_BATCH_SIZE": 8,
                            "REJECT": str(reject)})
    algo = Client(urls={}, local={"flaky": app}).algo("flaky")
    return Scorer(algo, Limits.from_metadata(algo.metadata()), timeout=5), reject


def test_a_model_failure_costs_only_the_item_that_caused_it(local_scorer):
    scorer, _ = local_scorer
    records = [Record(i, str(i), {"text": "boom" if i == 5 else f"t{i}"}) for i in range(8)]
    outcomes = scorer.score_list(records)
    assert [o.item_id for o in outcomes] == [str(i) for i in range(8)]
    assert [o.ok for o in outcomes] == [i != 5 for i in range(8)]
    assert outcomes[5].error["code"] == "internal_error"
    assert outcomes[0].result == {"echo": "t0", "length": 2}


def test_rejected_items_get_their_own_errors_and_the_rest_their_results(local_scorer):
    scorer, reject = local_scorer
    reject.write_text("t2\nt6\n")
    try:
        outcomes = scorer.score_list([Record(i, str(i), {"text": f"t{i}"}) for i in range(8)])
    finally:
        reject.unlink()
    failed = {o.item_id: o.error for o in outcomes if not o.ok}
    assert set(failed) == {"2", "6"}
    assert failed["2"]["details"] == {"text": ["Rejected for now."]}
    assert scorer.limits.max_batch_size == 8 and scorer.call_size() <= 8


def test_a_chunk_that_found_the_service_down_stops_the_job():
    down = {"code": "upstream_error", "status": 502, "message": "Could not reach it"}
    with pytest.raises(ServiceUnavailable, match="Could not reach it"):
        check_available([Outcome("1", 1, error=down), Outcome("2", 2, error=down)])
    check_available([Outcome("1", 1, error=down), Outcome("2", 2, result=1)])


def test_unreadable_records_fail_without_a_call(local_scorer):
    scorer, _ = local_scorer
    bad = Record(1, "1", problem={"code": "invalid_record", "status": 400, "message": "x"})
    outcomes = scorer.score_list([Record(0, "0", {"text": "a"}), bad])
    assert outcomes[0].ok and outcomes[1].error["code"] == "invalid_record"
    assert json.loads(json.dumps(outcomes[1].error)) == bad.problem


def test_a_service_that_stays_unreachable_stops_the_scorer_after_a_few_calls():
    from tests.conftest import free_port
    client = Client(urls={"gone": f"http://127.0.0.1:{free_port()}"}, retries=0)
    scorer = Scorer(client.algo("gone"), Limits(), timeout=2, retries=1, backoff=0.01)
    records = [Record(i, str(i), {"text": "x"}) for i in range(3)]
    assert scorer.score_one(records[0]).error["code"] == "upstream_error"
    assert scorer.score_list(records[1:2])[0].error["status"] == 502
    with pytest.raises(ServiceUnavailable, match="gone is unavailable"):
        scorer.score_one(records[2])


@pytest.mark.parametrize("key, aborts", [("k-other", "may not call flaky"),
                                         ("k-wrong", "The API key is not valid")])
def test_a_key_the_service_refuses_stops_the_job_at_once(key, aborts):
    from common.batch.scoring import JobAborted
    app = create_flaky_app({"LOAD_MODEL": "sync", "API_KEYS": "k-flaky:flaky, k-other:sentiment"})
    algo = Client(urls={}, local={"flaky": app}, api_key=key).algo("flaky")
    scorer = Scorer(algo, Limits(), timeout=5)
    with pytest.raises(JobAborted, match=aborts):
        scorer.score_list([Record(0, "0", {"text": "a"}), Record(1, "1", {"text": "b"})])
    allowed = Client(urls={}, local={"flaky": app}, api_key="k-flaky").algo("flaky")
    assert Scorer(allowed, Limits(), timeout=5).score_one(Record(0, "0", {"text": "a"})).ok
