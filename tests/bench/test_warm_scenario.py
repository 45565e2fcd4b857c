"""The warm scenario's summaries and table (the measurement itself is
`python -m bench --only warm`)."""
from __future__ import annotations

from bench.scenarios import DEFAULT, SCENARIOS, warm


def test_the_warm_scenario_is_known_but_not_in_the_default_run():
    assert "warm" in SCENARIOS and "warm" not in DEFAULT


def _round(ready, status, first, answer, warm_ms):
    return {"ready_after_restart_s": ready, "answered_after_restart_s": ready + answer / 1000,
            "first_status": status, "first_call_ms": first, "first_answer_ms": answer,
            "tries": 1 if status == 200 else 9, "warm_call_ms": warm_ms}


def test_the_summary_takes_medians_and_counts_first_calls_answered():
    rows = [_round(10.0, 200, 30.0, 30.0, 20.0), _round(12.0, 200, 40.0, 40.0, 22.0),
            _round(30.0, 502, 50.0, 900.0, 24.0)]
    summary = warm.summarise("waits", rows)
    assert (summary["first_call_ok"], summary["first_statuses"]) == (2, [200, 502])
    assert (summary["ready_after_restart_s"], summary["first_answer_ms"]) == (12.0, 40.0)


def test_the_table_gives_the_ratio_without_over_with():
    waits = warm.summarise("waits for dependents", [_round(10.0, 200, 30.0, 30.0, 20.0)])
    hurries = warm.summarise("does not wait", [_round(3.0, 502, 60.0, 6000.0, 20.0)])
    rendered = warm._table([waits, hurries]).render()
    assert "without / with warm dependents: 200.0x" in rendered
    assert "1/1 (200)" in rendered and "0/1 (502)" in rendered
