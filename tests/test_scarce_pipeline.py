"""pipelines/scarce.py end to end on the tiny simulated data: split, generator, oracle, augmentation, gap closed,
learning curve, and a resumed run that redoes nothing."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _pipeline():
    spec = importlib.util.spec_from_file_location("scarce_pipeline", REPO / "pipelines" / "scarce.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_scarce_pipeline_runs_resumes_and_reports_gap_closed(sim_root, tmp_path, capsys):
    pipe = _pipeline()
    out = tmp_path / "scarce"
    argv = ["--data", str(sim_root), "--protocol", "cross-subject", "--no-metadata-columns", "--fractions", "1/2,1",
            "--select", "interleaved", "--clip-s", "0.5", "--models", "ridge", "--augment", "magwarp",
            "--classifiers", "rf", "--seeds", "2", "--window-s", "0.25", "--stride-s", "0.25",
            "--train-stride-s", "0.125", "--gap-s", "0.25", "--epochs", "1", "--out", str(out)]
    pipe.main(argv)
    first = capsys.readouterr().out
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["cells"]) == {"interleaved/clip0.5s/f0.5", "interleaved/clip0.5s/f1"}
    cell = summary["cells"]["interleaved/clip0.5s/f0.5"]
    assert set(cell["runs"]) == {pipe.REAL, "ridge", pipe.ORACLE} and cell["counts"]["clip"]["ranges"] > 0
    real = cell["runs"][pipe.REAL]
    conds = {s["condition"] for s in real["summary"]}
    assert conds == {"RR", "RR-full", "GR:magwarp", "MR:magwarp"}
    n_real, n_pool = real["counts"]["train_windows"], real["counts"]["withheld_windows"]
    assert cell["mix_ratio"] == n_pool / n_real and real["counts"]["clip_windows"] > 0
    for name in ("ridge", pipe.ORACLE):
        run = cell["runs"][name]
        assert {s["condition"] for s in run["summary"]} == {"GR", "MR"}
        (g,) = run["gap_closed"]
        rr = {s["condition"]: s["accuracy_mean"] for s in real["summary"]}
        mr = next(s["accuracy_mean"] for s in run["summary"] if s["condition"] == "MR")
        assert g["rr_scarce"] == rr["RR"] and g["rr_full"] == rr["RR-full"] and g["mr"] == mr
        assert g["mr_vs_rr_scarce"]["n"] == 2 * g["users"]
        # the generator's set is made from the pool's angles; the oracle is the pool's real EMG, labelled as such
        meta = run["synthetic_metadata"]
        assert meta["source_split"] == "kinematics_pool" and bool(meta.get("oracle")) == (name == pipe.ORACLE)
    assert [g["condition"] for g in real["gap_closed"]] == ["MR:magwarp"]
    assert "RR-full" not in {s["condition"] for s in summary["cells"]["interleaved/clip0.5s/f1"]["runs"][pipe.REAL]
                             ["summary"]}
    md = (out / "summary.md").read_text()
    assert "MR oracle" in md and "MR ridge" in md and "MR:magwarp" in md and "Gap closed per test user" in md
    assert "data:image/png;base64" in (out / "report.html").read_text()  # the learning curve over F = 0.5, 1
    assert "total" in first

    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("results.json")}
    pipe.main(argv)  # resumed: every benchmark, set and model is reused
    assert {p: p.stat().st_mtime_ns for p in out.rglob("results.json")} == stamp
    assert json.loads((out / "summary.json").read_text())["cells"][
        "interleaved/clip0.5s/f0.5"]["runs"]["ridge"]["gap_closed"] == cell["runs"]["ridge"]["gap_closed"]
