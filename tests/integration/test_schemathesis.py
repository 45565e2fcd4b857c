"""schemathesis fuzzes every registered service from its own /openapi.json, on real
gunicorn: no request it makes may get a 5xx, a non-JSON error, or an answer that breaks
the service's published response schema.

It is ``make fuzz`` (3.5 minutes for the 17 services on an idle two-core machine, 8
under load), not part of ``make test``; ``.ci/run`` runs both. Bounded: a fixed seed, ``MAX_EXAMPLES`` cases per
operation and phase (the examples, coverage and fuzzing phases). URL-fetching services
run with public fetching off, so nothing generated leaves the machine.
"""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from common.core.registry import load_registry

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]

SERVICES = list(load_registry(environ={}))
MAX_EXAMPLES = 60
CHECKS = "not_a_server_error,response_schema_conformance,content_type_conformance"
ENV = {"DOWNLOADER_ALLOW_PUBLIC": "false", "OBJECT_DETECTION_ALLOW_PUBLIC": "false",
       "VIDEO_ALLOW_PUBLIC": "false", "VIDEO_SPLITTER_ALLOW_PUBLIC": "false"}
SCHEMATHESIS = str(Path(sys.executable).with_name("schemathesis"))


@pytest.fixture(scope="module")
def stack(live_services) -> dict[str, str]:
    return live_services(*SERVICES, env=ENV)


@pytest.mark.parametrize("name", SERVICES)
def test_fuzzing_finds_no_server_error_and_no_schema_violation(stack, name, tmp_path):
    result = subprocess.run(
        [SCHEMATHESIS, "run", f"{stack[name]}/openapi.json", "--checks", CHECKS,
         "--max-examples", str(MAX_EXAMPLES), "--seed", "20261201",
         "--phases", "examples,coverage,fuzzing", "--request-timeout", "30"],
        capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"},
        cwd=tmp_path)  # its cache of findings goes there, not into the checkout
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    # A warning (such as "mostly rejected generated data", for URLs nobody may fetch
    # here) is no failure; any failed check makes the exit code non-zero.
    summary = result.stdout.rsplit("SUMMARY", 1)[-1]
    assert " passed" in summary and "failed" not in summary, summary
