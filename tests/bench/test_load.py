"""The wrk script generation and the parsing of what it prints (no servers, no wrk)."""
from __future__ import annotations

import json
import re

import pytest

from bench.load import (MARKER, LoadError, LoadResult, check, lua_script, lua_string,
                        parse_wrk_output, result_from_summary, wrk_command)

SUMMARY = {"requests": 8000, "duration_us": 8_000_000, "bytes": 1_234_567,
           "errors": {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0,
                      "non2xx": 0},
           "latency_us": {"min": 310, "mean": 1523.4, "p50": 1200, "p90": 2500,
                          "p99": 9100, "max": 15000},
           "first_error": ""}

WRK_STDOUT = """Running 8s test @ http://127.0.0.1:41234/predict
  1 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.52ms  800.00us  15.00ms   90.00%
    Req/Sec     1.00k   100.00     1.20k    70.00%
  8000 requests in 8.00s, 1.18MB read
Requests/sec:   1000.00
Transfer/sec:    150.00KB
""" + MARKER + json.dumps(SUMMARY) + "\n"


def lua_unquote(literal: str) -> bytes:
    """Decode the double-quoted Lua literals lua_string writes (escapes and \\ddd)."""
    assert literal.startswith('"') and literal.endswith('"')
    body, out, i = literal[1:-1], bytearray(), 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1].isdigit():
                out.append(int(body[i + 1:i + 4]))
                i += 4
                continue
            out.append(ord(body[i + 1]))
            i += 2
            continue
        assert body[i] != '"', "unescaped quote"
        out += body[i].encode()
        i += 1
    return bytes(out)


@pytest.mark.parametrize("text", [
    '{"text": "What a lovely day!"}', 'a "quoted" \\ back', "line\nbreak\ttab",
    "emoji 😀 and é", "digit after \x01" + "9"])
def test_lua_string_round_trips_any_text(text):
    literal = lua_string(text)
    assert all(32 <= ord(c) < 127 for c in literal)  # plain ASCII, one line
    assert lua_unquote(literal) == text.encode("utf-8")


def test_a_single_body_is_static():
    script = lua_script(['{"text": "hi"}'], {"X-Pipe-Next": "noop_b, noop_c"})
    assert 'wrk.method = "POST"' in script
    assert 'wrk.headers["Content-Type"] = "application/json"' in script
    assert 'wrk.headers["X-Pipe-Next"] = "noop_b, noop_c"' in script
    assert 'wrk.body = "{\\"text\\": \\"hi\\"}"' in script
    assert "function request()" not in script  # wrk keeps its pre-built request


def test_several_bodies_are_sent_in_turn():
    script = lua_script(['{"text": "a"}', '{"text": "b"}', '{"text": "c"}'])
    assert "function request()" in script and "wrk.body" not in script
    assert re.search(r"local bodies = \{.*\\\"a\\\".*\\\"b\\\".*\\\"c\\\".*\}", script, re.S)


def test_the_script_counts_non_2xx_and_prints_a_json_summary():
    script = lua_script(["{}"])
    assert "function response(status, headers, body)" in script
    assert "status < 200 or status > 299" in script
    assert "function done(summary, latency, requests)" in script
    assert f"'{MARKER}{{" in script
    for pct in (50, 90, 99):
        assert f"latency:percentile({pct})" in script


def test_no_body_is_an_error():
    with pytest.raises(ValueError):
        lua_script([])


def test_the_summary_line_is_found_among_wrks_own_output():
    assert parse_wrk_output(WRK_STDOUT) == SUMMARY


@pytest.mark.parametrize("stdout", ["Running 8s test\n", MARKER + "{not json\n", ""])
def test_a_missing_or_broken_summary_is_a_load_error(stdout):
    with pytest.raises(LoadError):
        parse_wrk_output(stdout)


def test_a_summary_becomes_exact_figures():
    result = result_from_summary(SUMMARY, name="single", concurrency=32, items_per_request=32)
    assert (result.requests, result.duration_s) == (8000, 8.0)
    assert (result.p50_ms, result.p99_ms, result.max_ms) == (1.2, 9.1, 15.0)
    assert result.rps == pytest.approx(1000.0)
    assert result.items_per_s == pytest.approx(32000.0)
    assert result.errors == {} and check(result) is result
    assert result.to_dict()["rps"] == 1000.0 and result.to_dict()["items_per_s"] == 32000.0


def test_non_2xx_answers_fail_the_run_loudly():
    bad = {**SUMMARY, "errors": {**SUMMARY["errors"], "status": 3, "non2xx": 3},
           "first_error": '503 {"error": {"code": "not_ready"}}'}
    result = result_from_summary(bad, name="sentiment", concurrency=8)
    assert result.errors == {"non2xx": 3}  # wrk's own status count is not added twice
    with pytest.raises(LoadError, match="3 failed requests.*503.*not_ready"):
        check(result)


def test_socket_errors_and_timeouts_fail_the_run_too():
    bad = {**SUMMARY, "errors": {**SUMMARY["errors"], "timeout": 2, "read": 1}}
    with pytest.raises(LoadError, match="3 failed"):
        check(result_from_summary(bad, name="x", concurrency=1))


def test_a_run_without_requests_fails():
    with pytest.raises(LoadError, match="no request"):
        check(LoadResult("x", 1, requests=0, duration_s=1.0, p50_ms=0.0, p99_ms=0.0))


def test_wrk_runs_with_one_thread_and_one_connection_per_client(monkeypatch):
    monkeypatch.setattr("bench.load.shutil.which", lambda _: "/usr/bin/wrk")
    command = wrk_command("http://127.0.0.1:1/predict", "/tmp/s.lua", concurrency=32,
                          seconds=8)
    assert command[:4] == ["/usr/bin/wrk", "-t1", "-c32", "-d8s"]
    assert command[-3:] == ["-s", "/tmp/s.lua", "http://127.0.0.1:1/predict"]


def test_a_missing_wrk_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr("bench.load.shutil.which", lambda _: None)
    with pytest.raises(LoadError, match="apt-get install -y wrk"):
        wrk_command("http://x", "s.lua", concurrency=1, seconds=1)
