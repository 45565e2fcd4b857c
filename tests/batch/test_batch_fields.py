"""Records whose fields the service does not take are refused before anything is sent,
with the option that fixes it."""
from __future__ import annotations

import subprocess

import pytest

from common.core.registry import ROOT
from tests.helpers.batch import batch_command, subprocess_env, write_jsonl

pytestmark = pytest.mark.integration


def run(url: str, source, db, *extra: str) -> subprocess.CompletedProcess:
    args = [str(source), "--url", url, "--db", f"sqlite:///{db}", "--no-progress", *extra]
    return subprocess.run(batch_command("text_cleaner", *args), cwd=ROOT,
                          env=subprocess_env(), capture_output=True, text=True, timeout=120)


def test_an_id_field_is_detected_and_the_option_suggested(tmp_path, cleaner_url):
    source = write_jsonl(tmp_path / "rows.jsonl",
                         [{"id": f"r{i}", "text": f"row {i} #Fun"} for i in range(20)])
    refused = run(cleaner_url, source, tmp_path / "a.db")
    assert refused.returncode == 2, refused.stderr
    assert "--id-field id" in refused.stderr and "text" in refused.stderr
    assert not source.with_suffix(".out.jsonl").exists() or \
        source.with_suffix(".out.jsonl").read_text() == ""
    fixed = run(cleaner_url, source, tmp_path / "b.db", "--id-field", "id")
    assert fixed.returncode == 0, fixed.stderr


def test_other_unknown_fields_suggest_the_fields_option(tmp_path, cleaner_url):
    source = write_jsonl(tmp_path / "rows.jsonl", [{"text": "hi", "author": "x"}])
    refused = run(cleaner_url, source, tmp_path / "a.db")
    assert refused.returncode == 2 and "--fields text" in refused.stderr
    assert run(cleaner_url, source, tmp_path / "b.db", "--fields", "text").returncode == 0
