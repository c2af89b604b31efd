"""Smoke run of the seeded fuzz script (tests/fuzz_hostile.py): a few mutated datasets, manifests and Parquet sets,
no traceback and no silent corruption. The full run (N >= 500) is `python tests/fuzz_hostile.py --cases 500`."""

from __future__ import annotations

import json

import fuzz_hostile


def test_fuzz_smoke_has_no_traceback_and_no_silent_corruption(tmp_path):
    report = tmp_path / "fuzz.json"
    assert fuzz_hostile.main(["--cases", "15", "--seed", "7", "--work", str(tmp_path / "w"), "--report", str(report)]) == 0
    summary = json.loads(report.read_text())["summary"]
    assert summary["cases"] == 15 and summary["tracebacks"] == 0 and summary["silent_corruptions"] == 0
    assert summary["refused_one_line"] + summary["accepted"] == 15
