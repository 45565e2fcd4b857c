"""scripts/detector-validation.py, run as a newcomer runs it: it prints the figure by
which the detector's README says the shipped model was chosen."""

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "services" / "object_detection" / "artifacts"
README = ROOT / "services" / "object_detection" / "README.md"


def validation_map(*args: str) -> float:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "detector-validation.py"),
                           str(ARTIFACTS), *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    found = re.search(r"mAP@0\.5 (\d\.\d{4}) on validation \d+\.\.(\d+) \((\d+) of (\d+) found",
                      done.stdout)
    assert found, done.stdout
    return float(found.group(1))


def test_the_readme_quotes_the_shipped_models_validation_figure():
    card = " ".join(README.read_text(encoding="utf-8").split())
    quoted = re.search(r"\*\*B \(shipped\)\*\* \| \*\*stride 4\*\* \| \*\*15,000\*\* \| "
                       r"\*\*[\d,]+\*\* \| \*\*(\d\.\d{4})\*\*", card)
    assert quoted, "the README no longer states the shipped run's validation figure"
    # the same scenes and weights; another CPU may round a score differently
    assert abs(validation_map() - float(quoted.group(1))) < 0.005


def test_a_short_run_scores_other_scenes():
    assert 0.5 < validation_map("--scenes", "30", "--validation-scenes", "900") <= 1.0
