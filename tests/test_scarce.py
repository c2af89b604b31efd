"""Scarce-EMG benchmark (issue 13 items 1-4, issue 19 item 3): the kinematics pool's EMG never reaches RR/GR/MR
(a guarded loader; RR-full and the oracle are the only, labelled, reads), gap closed as defined with its Wilcoxon
test, the learning-curve sweep, new-person rows per test user, and held-out gestures with RR as the floor."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.stats import wilcoxon

from emgaug import cli
from emgaug.benchmark.data import (LabelledWindows, load_split_windows, paired_real_windows, read_withheld_windows,
                                   real_training_windows, synthetic_windows)
from emgaug.benchmark.conditions import RR_FULL, training_set
from emgaug.benchmark.runner import run_benchmark
from emgaug.benchmark.scarce import gap_closed, gap_ratio
from emgaug.data.manifest import CALIBRATION, KINEMATICS_POOL, load_manifest
from emgaug.data.source import Emg2PoseSource, open_source
from emgaug.data.splits import CLIP, make_split
from emgaug.data.windows import WindowConfig, WindowDataset
from emgaug.errors import EmgaugError
from emgaug.synthesis.parquet_io import SyntheticWriter

WINDOW_S = 0.25


def _window(m):
    return WindowConfig(window_s=WINDOW_S, stride_s=WINDOW_S, angle_rate_hz=50.0).resolve(m.data_source.sample_rate)


def write_pool_synthetic(mpath, out, split=KINEMATICS_POOL, seed=0):
    """A stand-in generator that only sees the pool's window metadata (never its EMG): noise whose level encodes the
    gesture, labelled like the pool window it was 'conditioned' on."""
    m = load_manifest(mpath)
    win = _window(m)
    ds = WindowDataset(m.data_source, m.recordings(split), win, norm=None, label_map=m.label_map())
    labels = pd.DataFrame([ds.window_meta(i) for i in range(len(ds))])
    y = ds.labels()
    rng = np.random.default_rng(seed)
    emg = (rng.standard_normal((len(ds), ds.num_channels, win.window)) * (1.0 + y[:, None, None])).astype(np.float32)
    labels["split"] = split
    labels["sample_index"] = 0
    labels["window_index"] = np.arange(len(labels))
    meta = {"model_name": "pool_fake", "checkpoint_sha256": "0" * 64, "manifest_path": str(mpath),
            "source_split": split, "allow_test_conditioning": False, "window": win.to_dict(),
            "sample_rate": win.sample_rate}
    J, Ta = m.data_source.num_joints, win.angle_frames
    with SyntheticWriter(out, emg_shape=emg.shape[1:], angle_shape=(J, Ta), metadata=meta) as wr:
        wr.write_batch(emg, np.zeros((len(emg), J, Ta), np.float32), labels)
    return out


@pytest.fixture(scope="module")
def scarce_manifest(sim_root, tmp_path_factory):
    """Cross-subject, half of each training user's sessions keep their EMG, 0.5 s clip per withheld session."""
    m = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False, emg_fraction=0.5,
                   clip_s=0.5, gap_s=0.25)
    return m.save(tmp_path_factory.mktemp("scarce") / "scarce.json")


@pytest.fixture
def read_log(monkeypatch):
    """Every (file, start, stop) of real data read through a source reader during the test."""
    log = []
    original = Emg2PoseSource.reader

    class Logged:
        def __init__(self, inner, filename):
            self.inner, self.filename = inner, filename

        def read(self, start, stop):
            log.append((self.filename, int(start), int(stop)))
            return self.inner.read(start, stop)

    monkeypatch.setattr(Emg2PoseSource, "reader", lambda self, rec: Logged(original(self, rec), rec.filename))
    return log


def _touches(log, entries):
    return [r for r in log for e in entries if r[0] == e["filename"] and r[1] < e["stop"] and e["start"] < r[2]]


def test_pool_emg_is_never_read_for_rr_gr_mr_and_only_rr_full_reads_it(scarce_manifest, tmp_path, read_log):
    m = load_manifest(scarce_manifest)
    pool = m.splits[KINEMATICS_POOL]
    syn = write_pool_synthetic(scarce_manifest, tmp_path / "pool_syn")
    read_log.clear()
    res = run_benchmark([scarce_manifest], [syn], classifiers=["rf"], seeds=2, metrics=True, stride_s=WINDOW_S,
                        show_progress=False, augment="noise", rr_full=False)
    run = res["runs"][0]
    assert [c for c in dict.fromkeys(r["condition"] for r in run["results"])] == ["RR", "GR", "MR", "GR:noise",
                                                                                    "MR:noise"]
    assert read_log and not _touches(read_log, pool)  # RR, GR, MR, augmentations and the similarity suite
    assert _touches(read_log, m.splits[CLIP])  # RR-scarce does train on the clips
    assert run["similarity_skipped"]["skipped_withheld"] == run["counts"]["synthetic_windows"]
    assert "withheld_read" not in run and run["counts"]["withheld_windows"] == 0

    read_log.clear()
    res = run_benchmark([scarce_manifest], [syn], classifiers=["rf"], seeds=2, metrics=False, stride_s=WINDOW_S,
                        show_progress=False)  # default: RR-full on for a scarce manifest
    run = res["runs"][0]
    n_pool = len(read_withheld_windows(m, _window(m), RR_FULL))
    assert _touches(read_log, pool) and run["withheld_read"]["purpose"] == RR_FULL
    assert run["withheld_read"]["windows"] == run["counts"]["withheld_windows"] == n_pool
    by = {(r["condition"], r["seed"]): r for r in run["results"]}
    for seed in (0, 1):  # only RR-full holds withheld windows; RR-full = RR's windows + a resample of the pool's
        assert by[(RR_FULL, seed)]["train_withheld"] == round(0.8 * n_pool) or \
            abs(by[(RR_FULL, seed)]["train_withheld"] - 0.8 * n_pool) <= 4
        assert by[(RR_FULL, seed)]["train_real"] == by[("RR", seed)]["train_real"] + by[(RR_FULL, seed)]["train_withheld"]
        assert all(by[(c, seed)]["train_withheld"] == 0 for c in ("RR", "GR", "MR"))
        assert by[("RR", seed)]["train_clip"] > 0 and by[("GR", seed)]["train_clip"] == 0


def test_the_loader_refuses_pool_rows_by_name_and_by_rows(scarce_manifest, tmp_path):
    m = load_manifest(scarce_manifest)
    win = _window(m)
    with pytest.raises(EmgaugError, match="withheld"):
        load_split_windows(m, KINEMATICS_POOL, win)
    with pytest.raises(EmgaugError, match="only for RR-full"):
        read_withheld_windows(m, win, "GR")
    # a damaged manifest whose train split covers pool rows (loaded without the leakage check) is refused too
    d = json.loads(scarce_manifest.read_text())
    d["splits"]["train"].append(d["splits"][KINEMATICS_POOL][0])
    p = tmp_path / "train_over_pool.json"
    p.write_text(json.dumps(d))
    bad = load_manifest(p, verify=False)
    with pytest.raises(EmgaugError, match="overlap the withheld EMG"):
        load_split_windows(bad, "train", win)
    with pytest.raises(EmgaugError, match="overlap the withheld EMG"):
        real_training_windows(bad, win)
    # pairing for the similarity metrics skips windows conditioned on the pool instead of reading their EMG
    syn = write_pool_synthetic(scarce_manifest, tmp_path / "syn")
    from emgaug.synthesis.parquet_io import read_synthetic

    lw = synthetic_windows(read_synthetic(syn), m, win, m.data_source.num_channels)
    real, idx, info = paired_real_windows(m, lw)
    assert len(idx) == 0 and info["skipped_withheld"] == len(lw)


def _rows(acc):
    """Result rows from {(condition, seed): {user: accuracy}}; the pooled accuracy is the users' mean."""
    return [{"classifier": "rf", "condition": c, "seed": s, "accuracy": float(np.mean(list(u.values()))),
             "per_user_accuracy": u} for (c, s), u in acc.items()]


def test_gap_closed_is_computed_as_defined():
    rng = np.random.default_rng(0)
    users, seeds = ["u1", "u2", "u3", "u4"], [0, 1, 2]
    base = {u: 0.5 + 0.05 * i for i, u in enumerate(users)}
    acc = {}
    for s in seeds:
        acc[("RR", s)] = {u: base[u] + rng.normal(0, 0.01) for u in users}
        acc[(RR_FULL, s)] = {u: base[u] + 0.2 + rng.normal(0, 0.01) for u in users}
        acc[("MR", s)] = {u: base[u] + 0.05 * (1 + i) + rng.normal(0, 0.01) for i, u in enumerate(users)}
        acc[("MR:noise", s)] = {u: base[u] + rng.normal(0, 0.01) for u in users}
        acc[("GR", s)] = {u: 0.3 for u in users}
    rows = _rows(acc)
    gaps = {g["condition"]: g for g in gap_closed(rows)}
    assert set(gaps) == {"MR", "MR:noise"}  # MR-type conditions only
    g = gaps["MR"]
    mean = lambda c: np.mean([np.mean(list(acc[(c, s)].values())) for s in seeds])  # noqa: E731
    assert g["pooled"] == pytest.approx((mean("MR") - mean("RR")) / (mean(RR_FULL) - mean("RR")))
    for u in users:
        um = {c: np.mean([acc[(c, s)][u] for s in seeds]) for c in ("RR", RR_FULL, "MR")}
        assert g["per_user"][u] == pytest.approx((um["MR"] - um["RR"]) / (um[RR_FULL] - um["RR"]))
    assert 0.2 < g["pooled"] < 1.1 and abs(gaps["MR:noise"]["pooled"]) < 0.15
    lo, hi = g["user_mean_ci95"]
    assert lo <= g["user_mean"] <= hi
    d = [acc[("MR", s)][u] - acc[("RR", s)][u] for u in users for s in seeds]
    assert g["mr_vs_rr_scarce"]["p_value"] == pytest.approx(wilcoxon(d).pvalue) and g["mr_vs_rr_scarce"]["n"] == 12
    assert g["rr_full_vs_rr_scarce"]["wins"] == 12
    assert gap_ratio(0.7, 0.6, 0.6) is None and gap_ratio(0.7, 0.6, 0.5) is None and gap_ratio(0.65, 0.6, 0.7) == \
        pytest.approx(0.5)
    # no RR-full rows: no gap
    assert gap_closed([r for r in rows if r["condition"] != RR_FULL]) == []


def test_rr_full_is_rr_plus_a_resample_of_the_withheld_windows():
    def lw(n, label0, split):
        y = np.arange(n) % 3
        x = np.full((n, 2, 4), label0, np.float32) + np.arange(n, dtype=np.float32)[:, None, None]
        return LabelledWindows(x, y, pd.DataFrame({"split": [split] * n, "user": ["a"] * n}))

    real = LabelledWindows.concat([lw(30, 0.0, "train"), lw(6, 1000.0, "clip")])
    pool = lw(60, 5000.0, KINEMATICS_POOL)
    rr = training_set("RR", real, None, 1.0, seed=3)
    full = training_set(RR_FULL, real, None, 1.0, seed=3, withheld=pool)
    n = len(rr.labels)
    assert np.array_equal(full.emg[:n], rr.emg) and (full.emg[n:] >= 5000).all()
    assert full.detail["withheld"] == len(full.labels) - n == 48 and full.detail["clip"] == rr.detail["clip"] > 0
    assert full.counts["real"] == len(full.labels) and rr.detail["withheld"] == 0
    with pytest.raises(ValueError, match="withheld"):
        training_set(RR_FULL, real, None, 1.0, seed=3)


def test_scarce_sweep_reports_gap_closed_augmentations_and_learning_curves(sim_root, scarce_manifest, tmp_path, capsys):
    full = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False, emg_fraction=1.0,
                      gap_s=0.25).save(tmp_path / "full.json")
    syn = write_pool_synthetic(scarce_manifest, tmp_path / "syn")
    out = tmp_path / "bench"
    code = cli.run(["benchmark", "--manifest", str(scarce_manifest), "--manifest", str(full), "--synthetic", str(syn),
                    "--synthetic", "none", "--classifiers", "rf", "--seeds", "2", "--no-metrics", "--stride-s",
                    str(WINDOW_S), "--augment", "magwarp", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0, text
    res = json.loads((out / "results.json").read_text())
    run, run_full = res["runs"]
    assert run["scarce"]["emg_fraction"] == 0.5 and run["scarce"]["clip_s"] == 0.5
    assert {g["condition"] for g in run["gap_closed"]} == {"MR", "MR:magwarp"}
    # all EMG kept: no pool, so no RR-full, GR or MR; the augmentations still give the curve its last point
    assert "gap_closed" not in run_full
    assert {r["condition"] for r in run_full["results"]} == {"RR", "GR:magwarp", "MR:magwarp"}
    assert all(g["per_user"] and g["mr_vs_rr_scarce"]["n"] == 2 * g["users"] for g in run["gap_closed"])
    html = (out / "report.html").read_text()
    assert "learning curves" in html and "gap closed" in html and "RR-scarce" in html and "withheld EMG" in html
    assert "Gap closed" in text and "RR-full (reference)" in text
    df = pd.read_csv(out / "results.csv")
    assert set(df["emg_fraction"]) == {0.5, 1.0} and (df.loc[df["condition"] == RR_FULL, "train_withheld"] > 0).all()


def test_oracle_from_the_pool_and_held_out_gestures_with_rr_as_the_floor(sim_manifests, tmp_path):
    """cross-user-stage: the pool holds the held-out gestures of training users. The oracle (their real EMG, a
    sanctioned read, labelled) gives GR/MR those classes; RR never saw them and cannot predict them."""
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.synthesis.parquet_io import read_synthetic

    mpath = sim_manifests["cross-user-stage"]
    oracle = synthesize_set(None, tmp_path / "oracle", manifest=mpath, split=KINEMATICS_POOL, oracle_real=True,
                            window_s=WINDOW_S)
    meta = read_synthetic(oracle).metadata
    assert meta["oracle"] is True and meta["source_split"] == KINEMATICS_POOL
    res = run_benchmark([mpath], [oracle], classifiers=["rf"], seeds=2, metrics=False, show_progress=False,
                        out=tmp_path / "out")
    run = res["runs"][0]
    assert "oracle" in run and "scarce" not in run and "withheld_read" not in run  # no RR-full unless asked
    s = {x["condition"]: x for x in run["summary"]}
    held = load_manifest(mpath).params["rule"]["test_stages"]
    assert s["RR"]["heldout_classes"] == held and s["RR"]["heldout_classes_in_training"] == 0
    assert s["RR"]["heldout_accuracy_mean"] == 0.0  # the floor, by construction
    assert s["GR"]["heldout_classes_in_training"] == len(held) == s["MR"]["heldout_classes_in_training"]
    assert s["MR"]["heldout_windows"] == run["counts"]["test_windows"]  # every test window is a held-out gesture
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Held-out gestures" in html and "cannot recognise them" in html and "oracle" in html
    # asked for explicitly, RR-full works on the protocol's own pool too
    res = run_benchmark([mpath], [], classifiers=["rf"], seeds=1, conditions=["RR", "rr-full"], metrics=False,
                        window_s=WINDOW_S, show_progress=False)
    s = {x["condition"]: x for x in res["runs"][0]["summary"]}
    assert s[RR_FULL]["heldout_classes_in_training"] == len(held) and s["RR"]["heldout_accuracy_mean"] == 0.0
    with pytest.raises(EmgaugError, match="no pool"):
        run_benchmark([sim_manifests["cross-subject"]], [], classifiers=["rf"], seeds=1, conditions=["RR-full"],
                      window_s=WINDOW_S, show_progress=False)


def test_new_person_rows_per_test_user_with_a_calibration_styled_set(sim_root, tmp_path):
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.training.trainer import train_model

    m = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False, calibration_s=1.0,
                   gap_s=0.25)
    mpath = m.save(tmp_path / "calib.json")
    ckpt = train_model(mpath, "ridge_user", tmp_path / "ridge_user", epochs=1, batch_size=16, profile="fast",
                       device="cpu", quiet=True, window_cfg=WindowConfig(window_s=WINDOW_S, stride_s=WINDOW_S,
                                                                         angle_rate_hz=50.0))
    syn = synthesize_set(ckpt, tmp_path / "styled", manifest=mpath, split="train", reference=CALIBRATION, device="cpu")
    res = run_benchmark([mpath], [syn], classifiers=["rf"], seeds=2, metrics=False, show_progress=False,
                        out=tmp_path / "out")
    run = res["runs"][0]
    assert run["new_person"]["reference_split"] == CALIBRATION
    test_users = sorted({e["user"] for e in m.splits["test"]})
    for s in run["summary"]:
        assert sorted(s["per_user"]) == test_users  # RR (others + calibration), GR and MR per test user
    assert {s["condition"] for s in run["summary"]} == {"RR", "GR", "MR"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "RR (others + calibration)" in html and "styled on each test user" in html
