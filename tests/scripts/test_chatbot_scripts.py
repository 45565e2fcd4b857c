"""The chatbot's scripts, run as a newcomer runs them: scripts/chatbot-grounding-scan.py
prints the figure MODEL.md quotes (false abstentions of the grounding check on the written
questions), and scripts/chatbot-dev-decisions.py the rule that chose the shipped model."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL_CARD = ROOT / "services" / "chatbot" / "MODEL.md"


def scan_counts() -> dict[str, tuple[int, int]]:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "chatbot-grounding-scan.py"),
                           "--show"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {kind: (int(k), int(n)) for kind, k, n in
            re.findall(r"^(\w+): flagged (\d+) of (\d+)$", done.stdout, re.M)}


def test_the_grounding_check_rarely_flags_an_answerable_written_question():
    counts = scan_counts()
    flagged, answerable = counts["answerable"]
    assert answerable > 2000 and flagged <= answerable // 200  # at most 0.5 %
    caught, unanswerable = counts["unanswerable"]
    assert unanswerable > 800 and caught >= 20


def test_the_model_card_quotes_what_the_scan_prints():
    card = " ".join(MODEL_CARD.read_text(encoding="utf-8").split())
    quoted = re.search(r"the check flags (\d+) of ([\d,]+) answerable questions and (\d+) of "
                       r"([\d,]+) unanswerable ones", card)
    assert quoted, "MODEL.md no longer states the scan's figure"
    k, n, k_un, n_un = (int(g.replace(",", "")) for g in quoted.groups())
    counts = scan_counts()
    assert counts["answerable"] == (k, n) and counts["unanswerable"] == (k_un, n_un)


def test_the_dev_decisions_script_sums_its_sets_for_the_shipped_model():
    model = ROOT / "services" / "chatbot" / "artifacts" / "model"
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "chatbot-dev-decisions.py"),
                           str(model)], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip().splitlines()[-1]
    total = int(re.search(r" total (\d+) ", line).group(1))
    parts = re.findall(r"'(\w+)': \((\d+), (\d+), [\d.]+\)", line)
    assert [name for name, _, _ in parts] == ["blind_dev", "written_dev", "shifted"]
    assert total == sum(int(r) + int(a) for _, r, a in parts) > 200
