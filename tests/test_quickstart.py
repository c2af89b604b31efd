"""The README's first command ends in `bash pipelines/quickstart.sh`: run it end to end at a token budget (slow)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SETS = ("flow", "seqemg_gan", "ridge_user", "ridge", "oracle")


@pytest.mark.slow
def test_quickstart_trains_synthesizes_benchmarks_and_prints_the_verdict(tmp_path):
    if shutil.which("emgaug") is None:
        pytest.skip("the emgaug command is not installed")
    env = {**os.environ, "EPOCHS": "1", "SEEDS": "2", "COLUMNS": "200",
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    out = tmp_path / "qs"
    p = subprocess.run(["bash", str(ROOT / "pipelines" / "quickstart.sh"), str(out)], cwd=ROOT, env=env,
                       capture_output=True, text=True, timeout=1800)
    assert p.returncode == 0, p.stdout[-3000:] + p.stderr[-3000:]
    for name in SETS:
        assert (out / "benchmark" / name / "results.csv").is_file(), name
        assert (out / "benchmark" / name / "report.html").is_file(), name
    table = p.stdout[p.stdout.index("Accuracy (%) on the real test session"):]
    for label in ("real EMG (RR)", "flow (generator)", "seqemg_gan (generator)", "ridge_user (per-user floor)",
                  "ridge (pooled floor)", "oracle (ceiling)"):
        assert re.search(re.escape(label) + r"\s+\d+\.\d\s+\d+\.\d", table), label
    assert re.search(r"flow's RF GR is \d+\.\d points (above|below) the per-user floor's", table)
    # the flow trained with its amplitude prior (the quickstart's choice at this budget)
    assert "prefit: prior_frames" in p.stdout
