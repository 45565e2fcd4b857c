"""scripts/chatbot-grounding-scan.py, run as a newcomer runs it: the figure MODEL.md
quotes (false abstentions of the grounding check on the written questions) stays small."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_grounding_check_rarely_flags_an_answerable_written_question():
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "chatbot-grounding-scan.py"),
                           "--show"], cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    counts = {kind: (int(k), int(n)) for kind, k, n in
              re.findall(r"^(\w+): flagged (\d+) of (\d+)$", done.stdout, re.M)}
    flagged, answerable = counts["answerable"]
    assert answerable > 1000 and flagged <= answerable // 200  # at most 0.5 %
    caught, unanswerable = counts["unanswerable"]
    assert unanswerable > 300 and caught > 0
