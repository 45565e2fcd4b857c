"""Load generation: wrk driven by a generated Lua script, and what it reports.

wrk runs with one thread (``-t1``) so it takes at most one core's worth of CPU away
from the servers on a small machine; connections equal the concurrency. The Lua script
sets the POST body (cycling through several bodies when given more than one), counts
every non-2xx answer itself and, in ``done()``, prints one JSON line with exact request
counts, errors and latency percentiles in microseconds, so nothing is scraped from
wrk's rounded human-readable output.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Mapping, Sequence

#: The line prefix of the JSON document the script's done() hook prints.
MARKER = "BENCH_JSON "
ERROR_KINDS = ("connect", "read", "write", "status", "timeout", "non2xx")


class LoadError(RuntimeError):
    """A load run failed or saw errors (any non-2xx answer is one)."""


@dataclass
class LoadResult:
    """One load run: how many requests in how long, and their latency."""

    name: str
    concurrency: int
    requests: int
    duration_s: float
    p50_ms: float
    p99_ms: float
    items_per_request: int = 1
    driver: str = "wrk"
    errors: dict[str, int] = field(default_factory=dict)
    mean_ms: float | None = None
    max_ms: float | None = None
    first_error: str = ""
    #: CPU the serving processes spent per request, in ms (where the scenario measures it).
    cpu_ms: float | None = None

    @property
    def rps(self) -> float:
        """Requests per second."""
        return self.requests / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def items_per_s(self) -> float:
        """Inputs scored per second (requests/s times the items in each request)."""
        return self.rps * self.items_per_request

    @property
    def error_count(self) -> int:
        """Every failed request, whatever the kind."""
        return sum(self.errors.values())

    def to_dict(self) -> dict:
        """A JSON-ready dict, with the derived rates."""
        return {**asdict(self), "rps": round(self.rps, 2),
                "items_per_s": round(self.items_per_s, 2)}


# ------------------------------------------------------------------ Lua script


def lua_string(text: str) -> str:
    """``text`` as a double-quoted Lua literal (UTF-8 bytes; odd bytes as ``\\ddd``)."""
    out = []
    for byte in text.encode("utf-8"):
        char = chr(byte)
        if char in '"\\':
            out.append("\\" + char)
        elif 32 <= byte < 127:
            out.append(char)
        else:
            # Decimal escapes, zero-padded to 3 digits so a following digit is not eaten.
            out.append(f"\\{byte:03d}")
    return '"' + "".join(out) + '"'


_DONE = r"""
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

-- Counted per thread; a thread's Lua state is separate, so done() asks each thread.
non2xx = 0
first_error = ""
function response(status, headers, body)
  if status < 200 or status > 299 then
    non2xx = non2xx + 1
    if first_error == "" then
      first_error = tostring(status) .. " " .. string.sub(body or "", 1, 300)
    end
  end
end

local function quote(s)
  s = string.gsub(s, '[%c"\\]', function(c) return string.format("\\u%04x", string.byte(c)) end)
  return '"' .. s .. '"'
end

function done(summary, latency, requests)
  local bad, first = 0, ""
  for _, thread in ipairs(threads) do
    bad = bad + (thread:get("non2xx") or 0)
    if first == "" then first = thread:get("first_error") or "" end
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"non2xx":%d},' ..
    '"latency_us":{"min":%d,"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"max":%d},' ..
    '"first_error":%s}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout, bad,
    latency.min, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, quote(first)))
end
"""


def lua_script(bodies: Sequence[str], headers: Mapping[str, str] | None = None) -> str:
    """The wrk script: POST ``bodies`` (in turn) as JSON with ``headers``; JSON summary."""
    if not bodies:
        raise ValueError("at least one body is needed")
    all_headers = {"Content-Type": "application/json", **(headers or {})}
    lines = ['wrk.method = "POST"']
    lines += [f"wrk.headers[{lua_string(k)}] = {lua_string(v)}" for k, v in all_headers.items()]
    if len(bodies) == 1:
        lines.append(f"wrk.body = {lua_string(bodies[0])}")
    else:
        lines.append("local bodies = {" + ",\n  ".join(lua_string(b) for b in bodies) + "}")
        lines += ["local next_body = 0",
                  "function request()",
                  "  next_body = next_body % #bodies + 1",
                  "  return wrk.format(nil, nil, nil, bodies[next_body])",
                  "end"]
    return "\n".join(lines) + "\n" + _DONE


# ------------------------------------------------------------------ parsing


def parse_wrk_output(stdout: str) -> dict:
    """The JSON summary that the script's done() hook printed; LoadError if absent."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(MARKER):
            try:
                return json.loads(line[len(MARKER):])
            except ValueError as e:
                raise LoadError(f"wrk printed a malformed summary: {line[:300]}") from e
    raise LoadError(f"wrk printed no summary line; its output was:\n{stdout[-2000:]}")


def result_from_summary(summary: Mapping, *, name: str, concurrency: int,
                        items_per_request: int = 1) -> LoadResult:
    """A :class:`LoadResult` from the done() hook's JSON (times in µs)."""
    latency = summary["latency_us"]
    errors = {kind: int(summary["errors"].get(kind, 0)) for kind in ERROR_KINDS}
    # wrk counts a status >= 400 both as a status error and (here) as non-2xx.
    errors["status"] = max(errors["status"] - errors["non2xx"], 0)
    return LoadResult(name=name, concurrency=concurrency, requests=int(summary["requests"]),
                      duration_s=summary["duration_us"] / 1e6,
                      p50_ms=latency["p50"] / 1000, p99_ms=latency["p99"] / 1000,
                      mean_ms=round(latency["mean"] / 1000, 3), max_ms=latency["max"] / 1000,
                      items_per_request=items_per_request, driver="wrk",
                      errors={k: v for k, v in errors.items() if v},
                      first_error=summary.get("first_error", ""))


def check(result: LoadResult) -> LoadResult:
    """Raise :class:`LoadError` if the run had any failed request or none at all;
    otherwise print a progress line (stderr) and return the result."""
    if result.error_count:
        raise LoadError(f"{result.name} (c={result.concurrency}): {result.error_count} failed "
                        f"requests of {result.requests}: {result.errors}; first: "
                        f"{result.first_error or 'n/a'}")
    if result.requests == 0:
        raise LoadError(f"{result.name} (c={result.concurrency}): no request completed")
    print(f"  .. {result.name}, c={result.concurrency}, {result.driver}: {result.rps:.1f} req/s, "
          f"p50 {result.p50_ms:.2f} ms, p99 {result.p99_ms:.2f} ms", file=sys.stderr, flush=True)
    return result


# ------------------------------------------------------------------ running wrk


def wrk_command(url: str, script: str, *, concurrency: int, seconds: int,
                timeout_s: int = 30) -> list[str]:
    """The wrk command line: one thread, ``concurrency`` connections."""
    return [wrk_path(), "-t1", f"-c{concurrency}", f"-d{seconds}s", "--timeout",
            f"{timeout_s}s", "-s", script, url]


def wrk_path() -> str:
    """The wrk executable; LoadError with the install hint when missing."""
    found = shutil.which("wrk")
    if found is None:
        raise LoadError("wrk is not installed: `apt-get install -y wrk` (make bench does "
                        "it when run as root)")
    return found


def run_wrk(url: str, bodies: Sequence[str], *, name: str, concurrency: int, seconds: int,
            warmup_s: int = 0, headers: Mapping[str, str] | None = None,
            items_per_request: int = 1) -> LoadResult:
    """Warm up (not measured), then measure ``seconds`` of load; raises on any error."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", prefix="bench-") as script:
        script.write(lua_script(bodies, headers))
        script.flush()
        if warmup_s:
            _run_once(url, script.name, f"{name} (warm-up)", concurrency, warmup_s,
                      items_per_request)
        return _run_once(url, script.name, name, concurrency, seconds, items_per_request)


def _run_once(url: str, script: str, name: str, concurrency: int, seconds: int,
              items: int) -> LoadResult:
    command = wrk_command(url, script, concurrency=concurrency, seconds=seconds)
    done = subprocess.run(command, capture_output=True, text=True, errors="replace",
                          timeout=seconds + 60)
    if done.returncode != 0:
        raise LoadError(f"wrk exited with {done.returncode}: {done.stderr[-1000:]}")
    summary = parse_wrk_output(done.stdout)
    return check(result_from_summary(summary, name=name, concurrency=concurrency,
                                     items_per_request=items))
