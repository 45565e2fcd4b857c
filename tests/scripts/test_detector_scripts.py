"""scripts/detector-validation.py, run as a newcomer runs it: it prints the figure by
which the detector's README says the shipped model was chosen, and the card's row for
that run agrees with the shipped meta.json and the code."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

from services.object_detection.network import STRIDE
from services.object_detection.train import TrainConfig

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "services" / "object_detection" / "artifacts"
README = ROOT / "services" / "object_detection" / "README.md"


def validation(*args: str) -> tuple[float, str]:
    """(mAP, the range of validation indices scored) of the shipped artifacts."""
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "detector-validation.py"),
                           str(ARTIFACTS), *args], cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr
    found = re.search(r"mAP@0\.5 (\d\.\d{4}) on validation (\d+\.\.\d+) \(\d+ of \d+ found",
                      done.stdout)
    assert found, done.stdout
    return float(found.group(1)), found.group(2)


def shipped_row() -> re.Match:
    card = " ".join(README.read_text(encoding="utf-8").split())
    row = re.search(rf"\*\*B \(shipped\)\*\* \| \*\*stride {STRIDE}\*\* \| "
                    rf"\*\*{TrainConfig().scenes:,}\*\* \| \*\*([\d,]+)\*\* \| "
                    r"\*\*(\d\.\d{4})\*\* \| \*\*(\d\.\d{4}) / (\d\.\d{4})\*\*", card)
    assert row, "the README no longer states the shipped run (stride, scenes) as the code has it"
    return row


def test_the_readme_row_of_the_shipped_run_is_its_meta_json():
    meta = json.loads((ARTIFACTS / "meta.json").read_text())
    steps, _, held_out, other = shipped_row().groups()
    assert int(steps.replace(",", "")) == meta["steps_run"]
    assert float(held_out) == meta["evaluation"]["held_out"]["map50"]
    assert float(other) == meta["evaluation"]["other_generator"]["map50"]


def test_the_readme_quotes_the_shipped_models_validation_figure():
    figure, scored = validation()
    assert scored == "300..799"  # after the 300 scenes the run reported val_loss on
    # the same scenes and weights; a CPU with other vector units may round a score
    # differently and move a detection across a match, hence not exact
    assert abs(figure - float(shipped_row().group(2))) < 0.002


def test_a_short_run_scores_the_scenes_asked_for():
    figure, scored = validation("--scenes", "30", "--start", "900")
    assert scored == "900..929" and 0.5 < figure <= 1.0
