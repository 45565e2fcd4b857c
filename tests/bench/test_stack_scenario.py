"""The stack scenario's layouts and table (the measurement itself is `make bench`)."""
from __future__ import annotations

from bench.scenarios import DEFAULT, stack


def test_the_stack_scenario_is_in_make_bench():
    assert "stack" in DEFAULT


def test_the_table_compares_each_layout_with_one_process_per_service():
    rows = [{"layout": "one process per service", "services": 3, "processes": 6,
             "rss_mib": 900.0, "model_less_worker_mib": 60.0},
            {"layout": "the registry's process groups", "services": 3, "processes": 2,
             "rss_mib": 300.0, "model_less_worker_mib": None}]
    rendered = stack._table(rows).render()
    assert "0.33" in rendered and "1.00" in rendered and "60" in rendered
