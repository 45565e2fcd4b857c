"""The other bench helpers: the Python driver, /proc parsing, tables, options."""
from __future__ import annotations

import itertools
import time

import pytest

from bench.__main__ import options_from, parse_args, selected
from bench.load import LoadError, LoadResult
from bench.pydriver import drive, percentile
from bench.report import Table, fmt, ratio
from bench.scenarios import Options
from bench.scenarios.tune import Candidate, best_setting, settings, summarise
from bench.servers import _parent_pid, parse_status


@pytest.mark.parametrize("pct,expected", [(50, 5), (90, 9), (99, 10), (100, 10), (1, 1)])
def test_percentile_is_nearest_rank(pct, expected):
    assert percentile(list(range(10, 0, -1)), pct) == expected


def test_percentile_of_nothing_is_zero():
    assert percentile([], 99) == 0.0


def test_the_python_driver_counts_calls_from_every_thread():
    counter = itertools.count()
    result = drive(lambda: lambda: (next(counter), time.sleep(0.001)), name="sleep",
                   concurrency=4, seconds=0.2)
    assert result.driver == "python" and result.concurrency == 4
    assert result.requests >= 20 and result.p50_ms >= 1.0
    assert result.rps == pytest.approx(result.requests / result.duration_s)


def test_the_python_driver_fails_loudly_on_errors():
    def broken():
        raise RuntimeError("upstream said 502")
    with pytest.raises(LoadError, match="upstream said 502"):
        drive(lambda: broken, name="broken", concurrency=2, seconds=0.05)


def test_proc_status_memory_fields():
    status = "Name:\tgunicorn\nVmHWM:\t  612345 kB\nVmRSS:\t  598000 kB\nThreads:\t40\n"
    assert parse_status(status) == {"rss_kb": 598000, "peak_rss_kb": 612345}


def test_parent_pid_survives_odd_command_names():
    assert _parent_pid("4242 (gunicorn: worker [x) y]) S 4200 4242 4200 0") == 4200


def test_tables_align_and_format_numbers():
    table = Table("t", ["case", "req/s", "p99 ms"], notes=["a note"])
    table.add("direct", 1234.5, 9.123)
    table.add("one hop", 45.67, None)
    lines = table.render().splitlines()
    assert lines[:2] == ["t", "-"]
    assert lines[2].split() == ["case", "req/s", "p99", "ms"]
    assert lines[4].split() == ["direct", "1,234", "9.12"]
    assert lines[5].split() == ["one", "hop", "45.7", "-"]
    assert len({len(line) for line in lines[2:4]}) == 1 and lines[-1] == "  a note"


def test_ratio_and_fmt_edge_cases():
    assert ratio(10, 4) == 2.5 and ratio(None, 4) is None and ratio(3, 0) is None
    assert fmt(None) == "-" and fmt(0.5) == "0.50" and fmt(12.34) == "12.3"


def run_result(name, rps, p99, concurrency=32):
    return LoadResult(name, concurrency, requests=int(rps * 10), duration_s=10.0,
                      p50_ms=p99 / 2, p99_ms=p99)


def test_tune_rounds_are_summarised_as_medians_of_ratios_to_the_same_rounds_noop():
    runs = [run_result("no-op service", 1000, 5), run_result("16 items / 2 ms", 600, 40),
            run_result("no-op service", 500, 9), run_result("16 items / 2 ms", 400, 60),
            run_result("no-op service", 800, 6), run_result("16 items / 2 ms", 560, 45)]
    candidate = {c.name: c for c in summarise(runs)}["16 items / 2 ms"]
    assert candidate.ratios == pytest.approx([0.6, 0.8, 0.7])
    assert candidate.ratio == pytest.approx(0.7)
    assert (candidate.rps, candidate.p99_ms) == (560, 45)


def candidate(name, ratio, p99, concurrency=32):
    return Candidate(name, concurrency, [ratio], 100 * ratio, p99 / 2, p99)


def test_the_best_batching_setting_keeps_p99_within_the_limit():
    found = [candidate("no-op service", 1.0, 5), candidate("no batching, 32 threads", 0.9, 9),
             candidate("16 items / 2 ms", 0.5, 30), candidate("64 items / 5 ms", 0.7, 80),
             candidate("32 items / 5 ms", 0.6, 40),
             candidate("32 items / 5 ms", 0.99, 10, concurrency=128)]
    assert best_setting(found).name == "32 items / 5 ms"
    assert best_setting(found, p99_limit=1).name == "64 items / 5 ms"  # none within
    assert best_setting([]) is None


def test_tune_settings_give_batches_enough_threads_to_fill():
    found = settings(Options(threads=32))
    assert found["64 items / 0 ms, 64 threads"]["threads"] == 64
    assert found["16 items / 2 ms, 32 threads"]["env"]["SENTIMENT_BATCH_MAX_LATENCY_MS"] == "2.0"
    assert found["no batching, 32 threads"]["env"]["SENTIMENT_BATCHING"] == "0"


def test_sentiment_environment_with_and_without_batching():
    options = Options(batch_size=16, batch_latency_ms=2.0, artifact="/m")
    assert options.sentiment_env(False) == {"SENTIMENT_BATCHING": "0",
                                            "SENTIMENT_ARTIFACT_DIR": "/m"}
    assert options.sentiment_env(True, 64)["SENTIMENT_BATCH_MAX_SIZE"] == "64"
    assert options.sentiment_env(True)["SENTIMENT_BATCH_MAX_LATENCY_MS"] == "2.0"


def test_command_line_options():
    assert selected("batching, serving") == ["serving", "batching"]
    assert selected("pipes", tune=True) == ["pipes", "tune"]
    with pytest.raises(SystemExit):
        selected("serving,nope")
    quick = options_from(parse_args(["--quick", "--threads", "16"]))
    assert quick.quick and quick.threads == 16 and quick.seconds < Options().seconds
    assert options_from(parse_args(["--seconds", "5"])).seconds == 5
