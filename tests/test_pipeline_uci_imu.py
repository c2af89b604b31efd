"""The raw-EMG pipelines (pipelines/uci_lower_limb.py, pipelines/imu_biceps.py) end to end with 1 epoch on tiny
fixtures written here: every protocol, the floors, the oracle and a learned generator, the held-out similarity with
its two reference points, per-subject EECC and repetition-locked envelopes, resumability; plus the chain's pure
helpers. The real-data run is `python pipelines/uci_lower_limb.py` / `python pipelines/imu_biceps.py`
(docs/results.md)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO
from emgaug.data import imu_biceps, uci_lower_limb
from test_imu_biceps import write_index_files, write_set
from test_uci_lower_limb import HEADER

PIPELINES = REPO / "pipelines"


def _load(name: str):
    sys.path.insert(0, str(PIPELINES))
    spec = importlib.util.spec_from_file_location(f"_test_{name}", PIPELINES / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(autouse=True)
def _fresh_caches():
    uci_lower_limb.clear_cache(), imu_biceps.clear_cache()
    yield
    uci_lower_limb.clear_cache(), imu_biceps.clear_cache()


def _lowpass_noise(rng: np.random.Generator, n: int, channels: int, taps: int = 9) -> np.ndarray:
    """Noise smoothed by a `taps`-sample boxcar: its power sits below ~fs / taps, unlike white noise."""
    x = rng.standard_normal((n + taps - 1, channels))
    c = np.cumsum(np.vstack([np.zeros((1, channels)), x]), axis=0)
    return (c[taps:] - c[:-taps]) / np.sqrt(taps)


def write_emg_uci(root: Path, people: int = 4, seconds: float = 6.0) -> Path:
    """UCI-style files whose EMG is low-pass noise (median frequency far below a white spectrum's) scaled by the
    knee angle: `people` healthy + `people` pathology subjects x 3 tasks."""
    rng = np.random.default_rng(0)
    n = int(seconds * 1000)
    for g, letter in (("normal", "N"), ("abnormal", "A")):
        for k in range(1, people + 1):
            for j, task in enumerate(("gait", "sitting", "standing")):
                angle = 31.0 - 29.0 * np.cos(2 * np.pi * np.arange(n) / (600 + 200 * j))
                emg = 0.02 * _lowpass_noise(rng, n, 4) * (0.3 + angle[:, None] / 60.0) * (1 + 0.3 * k)
                lines = [HEADER] + [",".join(f"{v:.5f}" for v in e) + f",{a:.2f}" for e, a in zip(emg, angle)]
                p = root / g / f"{k}{letter}{task}.csv"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_text("\n".join(lines) + "\n")
    return root


def test_uci_pipeline_one_epoch_on_a_fixture(tmp_path):
    data = write_emg_uci(tmp_path / "uci")
    mod = _load("uci_lower_limb")
    out = tmp_path / "run"
    args = ["--data", str(data), "--out", str(out), "--models", "ridge_user,wavenet", "--epochs", "1",
            "--max-train-windows", "32", "--max-pairs", "16", "--seeds", "1", "--classifiers", "rf",
            "--augment", "noise", "--block-s", "2"]
    s = mod.main(args)
    protocols = ("cross-subject", "sample-wise")
    assert s["kinematics"]["label"] == "knee angle" and s["settings"]["window_samples"] == 1000
    for p in protocols:
        for row in ("oracle_real", "ridge_user", "wavenet"):
            assert f"{p}/{row}/GR" not in s["runs"] and "rf/GR" in s["runs"][f"{p}/{row}"]["accuracy"]
        assert "rf/GR:noise" in s["runs"][f"{p}/oracle_real"]["accuracy"]  # augmentations ride with the first row
        # the held-out similarity of every generator (never the oracle) on the same windows as the references
        assert set(k for k in s["heldout"] if k.startswith(p)) == {f"{p}/ridge_user", f"{p}/wavenet"}
        refs = s["references"][p]
        n = refs["reference: white surrogate"]["n_pairs"]
        assert all(s["heldout"][f"{p}/{m}"]["n_pairs"] == n for m in ("ridge_user", "wavenet"))
        for res in (*[s["heldout"][f"{p}/{m}"] for m in ("ridge_user", "wavenet")], refs["reference: real vs real"]):
            assert set(res["metrics"]) >= {"eecc", "dtw", "psd_log_distance_db", "median_freq_error_hz",
                                           "mean_freq_error_hz", "kurtosis_difference", "channel_corr_distance"}
        # the references separate: low-pass EMG against another stretch of itself vs against white noise
        rr, white = refs["reference: real vs real"]["metrics"], refs["reference: white surrogate"]["metrics"]
        assert rr["median_freq_error_hz"]["mean"] < 0.5 * white["median_freq_error_hz"]["mean"]
        assert rr["psd_log_distance_db"]["mean"] < white["psd_log_distance_db"]["mean"]
    # cross-subject: the test people have calibration windows; real-vs-real partners come from there
    cs = s["references"]["cross-subject"]["partners"]
    assert cs["split"] == "calibration" and cs["with_partner"] == cs["test_windows"] > 0
    assert s["runs"]["cross-subject/ridge_user"]["counts"]["calibration_windows"] > 0
    test_users = set(s["runs"]["cross-subject/ridge_user"]["counts"]["test_windows_per_user"])
    assert set(s["heldout"]["cross-subject/ridge_user"]["eecc_per_user"]) == test_users
    md = (out / "summary.md").read_text()
    assert "conditioned on knee angle (Flexo-Extension)" in md and "reference: real vs real" in md
    assert "| ridge_user | floor: per-user ridge |" in md and "| oracle_real | ceiling: real EMG (oracle) |" in md
    # the overview: one table for the dataset, the reference points beside the generators of each protocol
    assert "### Overview" in md and "| sample-wise | reference: white surrogate | reference |" in md
    assert "| cross-subject | wavenet | generator |" in md
    # resumable: a second call redoes nothing (no retraining, no new sets) and gives the same tables
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.suffix in (".pt", ".parquet")}
    again = mod.main(args)
    assert {p: p.stat().st_mtime_ns for p in before} == before
    for part in ("runs", "heldout", "references"):  # (as JSON: NaN, e.g. an undefined SD, is never == NaN)
        assert json.dumps(again[part], sort_keys=True) == json.dumps(s[part], sort_keys=True)


def write_imu(root: Path) -> Path:
    """5 people x 3 sets of 8 s (IMU 250 Hz, EMG 1 kHz), 4 repetitions of ~2 s per set rated 3, 6, 9, 9."""
    rng = np.random.default_rng(1)
    sets = {}
    for person in ("A001", "B002", "C003", "D004", "E005"):
        for k, load in enumerate((5, 10, 15)):
            sid = f"{person}_{load}_1"
            t = np.arange(2000) / 250.0
            imu = np.stack([np.sin(2 * np.pi * 0.5 * t + ax) + 0.01 * rng.standard_normal(2000) for ax in range(6)], 1)
            write_set(root / "raw" / f"{sid}.csv", n_imu=2000, imu=imu, t417=(person == "C003" and k == 0))
            sets[sid] = ([10, 500, 1000, 1500, 1990], [250, 750, 1250, 1750], [3, 6, 9, 9])
    write_index_files(root, sets)
    return root


def test_imu_pipeline_one_epoch_on_a_fixture(tmp_path):
    data = write_imu(tmp_path / "imu")
    mod = _load("imu_biceps")
    out = tmp_path / "run"
    s = mod.main(["--data", str(data), "--out", str(out), "--models", "ridge,wavenet", "--epochs", "1",
                  "--max-train-windows", "32", "--max-pairs", "16", "--seeds", "1", "--classifiers", "rf",
                  "--augment", "none", "--no-oracle"])
    assert s["kinematics"]["label"] == "IMU" and s["kinematics"]["names"][0].startswith("ACC X")
    assert s["settings"]["split"]["cross-subject"]["test_frac"] == 0.4
    for p in ("cross-session", "cross-subject"):
        for m in ("ridge", "wavenet"):
            rl = s["heldout"][f"{p}/{m}"]["rep_locked"]
            assert rl["pooled"]["n"] > 0 and set(rl["per_user"]) == set(s["heldout"][f"{p}/{m}"]["eecc_per_user"])
        ref = s["references"][p]["rep_locked"]
        assert ref["reference: white surrogate"]["pooled"]["n"] == s["heldout"][f"{p}/ridge"]["rep_locked"]["pooled"]["n"]
        assert s["references"][p]["partners"]["exclude_same"] == "session"
    # cross-subject holds out 2 of the 5 people
    assert len(s["runs"]["cross-subject/ridge"]["counts"]["test_windows_per_user"]) == 2
    md = (out / "summary.md").read_text()
    assert "repetition-locked envelope correlation per test subject" in md and "conditioned on IMU" in md
    assert json.loads((out / "summary.json").read_text())["rep_locked"] == {}


def test_stitch_rebuilds_a_recording_from_half_overlapping_windows():
    chain = _load("_chain")
    x = np.arange(2 * 2350, dtype=np.float64).reshape(2, 2350)  # a 2-channel recording of 2350 samples
    W, step = 1000, 500
    tiles = [(s, x[:, s:s + W]) for s in range(0, 2350 - W + 1, step)]  # starts 0, 500, 1000
    y, n = chain.stitch(tiles, W)
    assert n == 2000 and np.array_equal(y, x[:, :2000])
    tiles = [(s + 7, x[:, s + 7:s + 7 + W]) for s in range(0, 1400, step)]  # starts 7, 507, 1007 (a 1 s tail left)
    y, n = chain.stitch(tiles, W)
    assert n == 2000 and np.array_equal(y, x[:, 7:2007])
    x = np.arange(2 * 2600, dtype=np.float64).reshape(2, 2600)
    tiles = [(s, x[:, s:s + W]) for s in range(0, 1600, step)]  # 0, 500, 1000, 1500: the last adds its second half
    y, n = chain.stitch(tiles, W)
    assert n == 2500 and np.array_equal(y, x[:, :2500])


def test_whole_frame_windows_and_repetition_envelopes():
    chain = _load("_chain")
    assert chain.whole_frame_window_s(1.0, 1000.0, 50.0) == 1.0  # 50 frames of 20 samples
    w = chain.whole_frame_window_s(1.0, 2148.1481, 50.0)  # 43-sample frames: 2107 would be cut, 2150 kept
    assert round(w * 2148.1481) == 2150
    fs = 1000.0
    t = np.arange(2000) / fs
    burst = np.exp(-((t - 1.0) / 0.25) ** 2)  # a repetition's activation: one bump
    rng = np.random.default_rng(0)
    a = (burst * rng.standard_normal(2000))[None]
    b = (burst * rng.standard_normal(2000))[None]  # same time course, other noise
    flat = rng.standard_normal(2000)[None]
    assert chain.envelope_corr(chain.rep_envelope(a, fs), chain.rep_envelope(b, fs)) > 0.9
    assert abs(chain.envelope_corr(chain.rep_envelope(a, fs), chain.rep_envelope(flat, fs))) < 0.5
    # time-normalised: the same course over a repetition twice as long still correlates
    slow = (np.exp(-((np.arange(4000) / fs - 2.0) / 0.5) ** 2) * rng.standard_normal(4000))[None]
    assert chain.envelope_corr(chain.rep_envelope(a, fs), chain.rep_envelope(slow, fs)) > 0.9
    stats = chain.per_subject(np.array([0.5, 0.7, np.nan, 0.1]), np.array(["u1", "u1", "u1", "u2"]))
    assert stats["per_user"]["u1"]["n"] == 2 and stats["per_user"]["u1"]["mean"] == pytest.approx(0.6)
    assert stats["pooled"]["n"] == 3 and stats["per_user"]["u2"]["sd"] is None
