"""The import scripts for written training data (scripts/*-written-import.py), run as a
newcomer runs them: a subprocess on files in a temporary folder."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EVERYDAY_DEV = ROOT / "services" / "sentiment" / "evalsets" / "everyday_dev.tsv"
BLIND_DEV = ROOT / "services" / "chatbot" / "eval" / "blind_dev.json"


def run_script(name: str, *args) -> str:
    """Run scripts/<name> from the project root; its stdout (a failure raises)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / name), *map(str, args)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def write_tsv(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    path.write_text("label\ttopic\ttext\n" + "".join("\t".join(r) + "\n" for r in rows),
                    encoding="utf-8")
    return path


def kept_texts(path: Path) -> list[str]:
    return [line.split("\t")[2] for line in path.read_text(encoding="utf-8").splitlines()[1:]]


def an_everyday_sentence() -> str:
    return EVERYDAY_DEV.read_text(encoding="utf-8").splitlines()[1].split("\t")[2]


def test_sentiment_import_drops_near_everyday_repeats_unknown_labels_and_drop_words(tmp_path):
    src = write_tsv(tmp_path / "src_a.tsv", [
        ("positive", "x", "The kettle boils in under a minute, which I love."),
        ("negative", "x", an_everyday_sentence()),
        ("neutral", "x", "the KETTLE boils in under a minute, which I love!"),
        ("angry", "x", "Labels outside the three classes are refused."),
        ("negative", "x", "The toast came out burnt again."),
    ])
    out = tmp_path / "out"
    printed = run_script("sentiment-written-import.py", src, "--out", out,
                         "--drop-word", "burnt")
    assert kept_texts(out / "written_src_a.tsv") == [
        "The kettle boils in under a minute, which I love."]
    for verdict in ("near-everyday", "duplicate", "malformed", "drop-word"):
        assert f"'{verdict}': 1" in printed


def test_sentiment_import_refuses_to_repeat_a_file_already_committed(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    write_tsv(out / "written_old.tsv", [("neutral", "x", "The bus leaves at ten past.")])
    src = write_tsv(tmp_path / "new.tsv", [("neutral", "x", "The bus leaves at ten past."),
                                           ("positive", "x", "Lovely quiet carriage today.")])
    run_script("sentiment-written-import.py", src, "--out", out)
    assert kept_texts(out / "written_new.tsv") == ["Lovely quiet carriage today."]
    assert kept_texts(out / "written_old.tsv") == ["The bus leaves at ten past."]


def notice(context: str) -> dict:
    return {"name": "a test desk", "context": context,
            "questions": [["when do you open?", context.split()[-1], context.rfind(" ") + 1]]}


@pytest.fixture
def chatbot_source(tmp_path) -> Path:
    leaked = json.loads(BLIND_DEV.read_text(encoding="utf-8"))["contexts"][0]["context"]
    clean = "Tiny test desk. We keep odd hours and open at 9:15"
    src = tmp_path / "notices.json"
    src.write_text(json.dumps({"contexts": [notice(clean), notice(leaked)]}), encoding="utf-8")
    return src


def test_chatbot_import_drops_a_notice_that_shares_a_run_with_an_evaluation_set(
        tmp_path, chatbot_source):
    out = tmp_path / "out"
    printed = run_script("chatbot-written-import.py", chatbot_source, "--out", out,
                         "--eval", BLIND_DEV, "--brief", "trainsets/brief-test.txt")
    assert "kept 1, dropped 1" in printed
    written = json.loads((out / "written_01.json").read_text(encoding="utf-8"))
    assert [n["context"] for n in written["contexts"]] == [
        "Tiny test desk. We keep odd hours and open at 9:15"]
    assert "Training data only" in written["about"]
    # the counts are those of the notices kept, and the brief is the one named
    assert "1 answerable" in written["about"] and "0 unanswerable" in written["about"]
    assert "trainsets/brief-test.txt" in written["about"]


def test_chatbot_import_numbers_new_files_after_the_committed_ones(tmp_path, chatbot_source):
    out = tmp_path / "out"
    out.mkdir()
    (out / "written_07.json").write_text('{"contexts": []}', encoding="utf-8")
    run_script("chatbot-written-import.py", chatbot_source, chatbot_source, "--out", out,
               "--eval", BLIND_DEV)
    assert sorted(p.name for p in out.iterdir()) == [
        "written_07.json", "written_08.json", "written_09.json"]
    run_script("chatbot-written-import.py", chatbot_source, "--out", out, "--first", "1",
               "--eval", BLIND_DEV)
    assert (out / "written_01.json").exists()
