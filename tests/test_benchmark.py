"""RR/GR/MR wiring, leakage refusal, paired similarity and written outputs on a tiny simulated dataset."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emgaug.benchmark.data import (check_leakage, load_split_windows, overlaps, resolve_window, split_of_ranges,
                                   synthetic_windows)
from emgaug.benchmark.conditions import average_over_classifiers, summarise, training_set
from emgaug.benchmark.runner import run_benchmark
from emgaug.data.manifest import load_manifest
from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.synthesis.parquet_io import SyntheticWriter

REPO = Path(__file__).resolve().parents[1]
WINDOW_S = 0.25


def _window(manifest_path):
    m = load_manifest(manifest_path)
    return m, WindowConfig(window_s=WINDOW_S, stride_s=WINDOW_S, angle_rate_hz=50.0).resolve(m.data_source.sample_rate)


def write_fake_synthetic(manifest_path, out, split="train", noise=0.1, shuffle_labels=False, meta_overrides=None, seed=0):
    """A stand-in generator: real windows of `split` plus Gaussian noise (scaled to each window's std), labelled like
    the conditioning window; shuffle_labels breaks the label <-> signal link (a useless generator)."""
    m, win = _window(manifest_path)
    w = load_split_windows(m, split, win)
    rng = np.random.default_rng(seed)
    emg = w.emg + noise * w.emg.std(axis=2, keepdims=True) * rng.standard_normal(w.emg.shape).astype(np.float32)
    labels = w.meta.copy()
    if shuffle_labels:
        labels["stage"] = rng.permutation(labels["stage"].to_numpy())
    labels["split"] = split
    labels["sample_index"] = 0
    labels["window_index"] = np.arange(len(labels))
    meta = {"model_name": "fake", "checkpoint_sha256": "0" * 64, "manifest_path": str(manifest_path),
            "source_split": split, "allow_test_conditioning": split == "test", "window": win.to_dict(),
            "sample_rate": win.sample_rate}
    meta.update(meta_overrides or {})
    J, Ta = m.data_source.num_joints, win.angle_frames
    with SyntheticWriter(out, emg_shape=emg.shape[1:], angle_shape=(J, Ta), metadata=meta) as wr:
        wr.write_batch(emg, np.zeros((len(emg), J, Ta), np.float32), labels)
    return out


@pytest.fixture(scope="module")
def good_synth(sim_manifest, tmp_path_factory):
    return write_fake_synthetic(sim_manifest, tmp_path_factory.mktemp("syn") / "good")


def test_overlap_detection_is_exact_on_boundaries():
    entries = [{"filename": "a", "start": 100, "stop": 200}, {"filename": "a", "start": 0, "stop": 50},
               {"filename": "a", "start": 10, "stop": 300}, {"filename": "b", "start": 500, "stop": 600}]
    hit = overlaps(entries, ["a", "a", "a", "b", "b", "b", "c"], np.array([300, 299, 250, 400, 599, 600, 0]),
                   np.array([400, 301, 260, 500, 700, 700, 1000]))
    assert hit.tolist() == [False, True, True, False, True, False, False]
    where = split_of_ranges(type("M", (), {"splits": {"train": entries[:1], "test": entries[3:]}})(),
                            ["a", "b", "c"], np.array([150, 550, 0]), np.array([160, 560, 5]))
    assert where.tolist() == ["train", "test", "none"]


def test_rr_gr_mr_wiring_counts_and_seeds(sim_manifest, good_synth, tmp_path):
    res = run_benchmark([sim_manifest], [good_synth], classifiers=["rf"], seeds=2, mix_ratio=0.5, metrics=False,
                        stride_s=WINDOW_S, show_progress=False, out=tmp_path / "out")
    run = res["runs"][0]
    n_train, n_syn = run["counts"]["train_windows"], run["counts"]["synthetic_windows"]
    assert n_syn == n_train  # the fake generator conditions on every training window once
    by = {(r["condition"], r["seed"]): r for r in run["results"]}
    assert set(by) == {(c, s) for c in ("RR", "GR", "MR") for s in (0, 1)}
    # every seed trains on a class-stratified 80 % subsample (the default), RR and MR of one seed on the same one
    n_cls = len(run["classes"])
    n_sub = by[("RR", 0)]["train_real"]
    assert abs(n_sub - 0.8 * n_train) <= n_cls and by[("RR", 0)]["train_synthetic"] == 0
    assert by[("RR", 0)]["training_set_id"] != by[("RR", 1)]["training_set_id"]
    assert by[("GR", 0)]["train_real"] == 0 and abs(by[("GR", 0)]["train_synthetic"] - 0.8 * n_syn) <= n_cls
    assert by[("MR", 1)]["train_real"] == by[("RR", 1)]["train_real"]
    assert by[("MR", 1)]["train_synthetic"] == round(0.5 * by[("MR", 1)]["train_real"])
    assert all(r["test_windows"] == run["counts"]["test_windows"] for r in run["results"])
    assert run["classifier_average"]["RR"]["seeds"] == 2
    # a good generator's GR result is far above chance on the real test windows
    assert run["classifier_average"]["GR"]["accuracy_mean"] > 0.5
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 6 and {"accuracy", "macro_f1", "acc_click"} <= set(df.columns)
    js = json.loads((tmp_path / "out" / "results.json").read_text())
    assert js["runs"][0]["leakage_check"]["windows_overlapping_test"] == 0
    assert js["runs"][0]["leakage_check"]["manifest_matches"] is True
    assert "<img" in (tmp_path / "out" / "report.html").read_text()


def test_gr_really_trains_on_synthetic_labels(sim_manifest, good_synth, tmp_path):
    from emgaug.benchmark.conditions import run_conditions
    from emgaug.synthesis.parquet_io import read_synthetic

    bad = write_fake_synthetic(sim_manifest, tmp_path / "shuffled", shuffle_labels=True, seed=3)
    m, win = _window(sim_manifest)
    test = load_split_windows(m, "test", win)
    names = [s for s, _ in sorted(m.label_map().items(), key=lambda kv: kv[1])]
    acc = {}
    for key, path in (("good", good_synth), ("shuffled", bad)):
        syn = synthetic_windows(read_synthetic(path), m, win, m.data_source.num_channels)
        rows = run_conditions(syn, test, syn, ["rf"], [0], names, conditions=("GR",), resample_fraction=1.0)
        assert [r["condition"] for r in rows] == ["GR"] and rows[0]["train_synthetic"] == len(syn)
        acc[key] = rows[0]["accuracy"]
    assert acc["shuffled"] < acc["good"] - 0.2


def test_leakage_refused_by_metadata_and_by_row_overlap(sim_manifest, tmp_path):
    flagged = write_fake_synthetic(sim_manifest, tmp_path / "flagged", split="train",
                                   meta_overrides={"allow_test_conditioning": True})
    with pytest.raises(EmgaugError, match="refused for GR/MR.*allow_test_conditioning"):
        run_benchmark([sim_manifest], [flagged], classifiers=["rf"], seeds=1, show_progress=False)
    # test-conditioned windows whose metadata and labels lie: only the row-range check can catch them
    sneaky = write_fake_synthetic(sim_manifest, tmp_path / "sneaky", split="test",
                                  meta_overrides={"allow_test_conditioning": False, "source_split": "train"})
    from emgaug.synthesis.parquet_io import read_synthetic

    s = read_synthetic(sneaky)
    s.labels["split"] = "train"
    m = load_manifest(sim_manifest)
    rep = check_leakage(m, s.labels, s.metadata, str(sneaky))
    assert rep.windows_overlapping_test == len(s.labels) and len(rep.problems) == 1
    other = check_leakage(m, s.labels, {**s.metadata, "manifest_sha256": "0" * 64}, str(sneaky))
    assert other.manifest_matches is False and rep.manifest_matches is True
    with pytest.raises(EmgaugError, match="overlap test-split rows"):
        run_benchmark([sim_manifest], [s], classifiers=["rf"], seeds=1, show_progress=False)
    # similarity-only use of a test-conditioned set is allowed and says which real windows it was paired with
    res = run_benchmark([sim_manifest], [s], classifiers=[], seeds=1, show_progress=False, n_jobs=1)
    assert res["runs"][0]["similarity"]["paired_against"] == "test"


def test_similarity_pairs_same_angles_from_train_split(sim_manifest, good_synth):
    res = run_benchmark([sim_manifest], [good_synth], classifiers=[], metrics=True, show_progress=False, n_jobs=1,
                        max_test_windows=24)
    sim = res["runs"][0]["similarity"]
    assert sim["paired_against"] == "train" and sim["pairs"] == 24
    mets = sim["metrics"]
    assert mets["eecc"]["mean"] > 0.9  # 10 % noise on the same real window
    assert mets["psd_log_distance_db"]["mean"] < 1.0
    assert 0.0 <= mets["trts_accuracy"]["mean"] <= 1.0 and "discriminative_score" in mets


def test_input_errors_are_one_line(sim_manifest, good_synth):
    with pytest.raises(EmgaugError, match="one synthetic set per manifest"):
        run_benchmark([sim_manifest, sim_manifest], [good_synth], classifiers=["rf"], show_progress=False)
    with pytest.raises(EmgaugError, match="unknown classifier"):
        run_benchmark([sim_manifest], [], classifiers=["knn"], show_progress=False)
    with pytest.raises(EmgaugError, match="disagrees"):
        run_benchmark([sim_manifest], [good_synth], classifiers=["rf"], window_s=0.5, show_progress=False)
    m, win = _window(sim_manifest)
    from emgaug.synthesis.parquet_io import read_synthetic

    s = read_synthetic(good_synth)
    s.labels["stage"] = "never_seen"
    with pytest.raises(EmgaugError, match="not classes of"):
        synthetic_windows(s, m, win, m.data_source.num_channels)
    with pytest.raises(EmgaugError, match="--max-train-windows"):
        load_split_windows(m, "train", win, max_gb=1e-4)
    assert len(load_split_windows(m, "train", win, max_windows=2, max_gb=1e-4)) == 2
    assert resolve_window(m, None, 0.5, None).window == 1000 and resolve_window(m, None, 0.5, None).stride == 500
    from_synth = resolve_window(m, s.metadata, None, None)
    assert from_synth.window == win.window and from_synth.stride == win.window // 2 and from_synth.jitter == 0


def test_training_set_mix_ratio_caps_at_available_synthetic():
    from emgaug.benchmark.data import LabelledWindows

    real = LabelledWindows(np.zeros((10, 1, 8), np.float32), np.zeros(10, np.int64), pd.DataFrame(index=range(10)))
    syn = LabelledWindows(np.ones((6, 1, 8), np.float32), np.ones(6, np.int64), pd.DataFrame(index=range(6)))
    ts = training_set("MR", real, syn, 0.3, seed=0, resample_fraction=1.0)
    assert ts.counts == {"real": 10, "calibration": 0, "synthetic": 3} and (ts.labels == 1).sum() == 3
    assert training_set("MR", real, syn, 2.0, seed=0, resample_fraction=1.0).counts["synthetic"] == 6
    # resampled: 8 of the 10 real windows, and 0.3 x 8 synthetic ones
    assert training_set("MR", real, syn, 0.3, seed=0, resample_fraction=0.8).counts == {"real": 8, "calibration": 0,
                                                                                        "synthetic": 2}
    rows = [{"classifier": c, "condition": "RR", "seed": s, "accuracy": a, "macro_f1": a, "per_class_accuracy": {"x": a}}
            for c, s, a in (("svm", 0, 0.5), ("svm", 1, 0.7), ("rf", 0, 0.7), ("rf", 1, 0.9))]
    summ = {s["classifier"]: s for s in summarise(rows)}
    assert summ["svm"]["accuracy_mean"] == pytest.approx(0.6) and summ["svm"]["accuracy_sd"] == pytest.approx(np.sqrt(0.02))
    avg = average_over_classifiers(rows)["RR"]
    assert avg["accuracy_mean"] == pytest.approx(0.7) and avg["accuracy_sd"] == pytest.approx(np.sqrt(0.02))


def test_cli_refuses_leaky_set_with_one_red_line(sim_manifest, tmp_path):
    leaky = write_fake_synthetic(sim_manifest, tmp_path / "leaky", split="test")
    p = subprocess.run([sys.executable, "-m", "emgaug", "benchmark", "--manifest", str(sim_manifest), "--synthetic",
                        str(leaky), "--classifiers", "rf", "--seeds", "1", "--out", str(tmp_path / "o")],
                       capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 2, p.stdout + p.stderr
    flat = " ".join(p.stdout.split())  # the console may wrap the single message line
    assert flat.startswith("error:") and "refused for GR/MR" in flat and "overlap test-split rows" in flat
    assert "Traceback" not in p.stdout + p.stderr
    assert not (tmp_path / "o" / "results.json").exists()


@pytest.mark.slow
def test_cli_end_to_end_all_classifiers_and_metrics(sim_manifest, good_synth, tmp_path):
    out = tmp_path / "full"
    p = subprocess.run([sys.executable, "-m", "emgaug", "benchmark", "--manifest", str(sim_manifest), "--synthetic",
                        str(good_synth), "--seeds", "2", "--device", "cpu", "--out", str(out)],
                       capture_output=True, text=True, cwd=REPO, timeout=900)
    assert p.returncode == 0, p.stdout + p.stderr
    js = json.loads((out / "results.json").read_text())
    run = js["runs"][0]
    assert {s["classifier"] for s in run["summary"]} == {"svm", "rf", "tds_rnn", "neuropose"}
    assert len(pd.read_csv(out / "results.csv")) == 4 * 3 * 2
    assert run["similarity"]["paired_against"] == "train" and "dtw" in run["similarity"]["metrics"]
    html = (out / "report.html").read_text()
    assert html.count("<img") >= 6 and "Table 2 layout" in html and "Table 3 layout" in html


def test_shared_rr_run_plus_gr_mr_run_equals_one_full_run(sim_manifest, good_synth, tmp_path):
    """Running RR once and GR/MR per synthetic set (what the DB1 pipeline does for the deep decoders) gives the
    same per-seed scores as one RR/GR/MR run."""
    kw = dict(classifiers=["rf"], seeds=2, metrics=False, stride_s=WINDOW_S, show_progress=False)
    full = run_benchmark([sim_manifest], [good_synth], **kw)["runs"][0]["results"]
    # without a synthetic set the window comes from --window-s (a synthetic set fixes its own)
    rr = run_benchmark([sim_manifest], [], conditions=["RR"], window_s=WINDOW_S, **kw)["runs"][0]["results"]
    gm = run_benchmark([sim_manifest], [good_synth], conditions=("GR", "MR"), **kw)["runs"][0]["results"]
    assert [r["condition"] for r in rr] == ["RR", "RR"] and {r["condition"] for r in gm} == {"GR", "MR"}
    key = lambda r: (r["condition"], r["seed"])  # noqa: E731
    assert {key(r): r["accuracy"] for r in rr + gm} == {key(r): r["accuracy"] for r in full}
    with pytest.raises(EmgaugError, match="unknown condition"):
        run_benchmark([sim_manifest], [good_synth], conditions=["XR"], **kw)
    with pytest.raises(EmgaugError, match="need --synthetic"):
        run_benchmark([sim_manifest], [], conditions=["GR"], **kw)


def test_classic_augmentations_get_their_own_gr_mr_rows_with_paired_tests(sim_manifest, good_synth, tmp_path):
    res = run_benchmark([sim_manifest], [good_synth], classifiers=["svm"], seeds=2, metrics=False, stride_s=WINDOW_S,
                        show_progress=False, augment=["noise", "mixup@alpha=0.4"], out=tmp_path / "out")
    run = res["runs"][0]
    by = {(r["condition"], r["seed"]): r for r in run["results"]}
    assert list(dict.fromkeys(r["condition"] for r in run["results"])) == ["RR", "GR", "MR", "GR:noise", "MR:noise",
                                                                           "GR:mixup", "MR:mixup"]
    for seed in (0, 1):
        n_real = by[("RR", seed)]["train_real"]
        # one augmented copy of each of this seed's real training windows; MR adds them to those same windows
        assert by[("GR:noise", seed)]["train_real"] == 0 and by[("GR:noise", seed)]["train_synthetic"] == n_real
        assert by[("MR:mixup", seed)]["train_real"] == n_real and by[("MR:mixup", seed)]["train_synthetic"] == n_real
    assert by[("GR:noise", 0)]["training_set_id"] != by[("GR:noise", 1)]["training_set_id"]
    user = run["summary"][0]["per_user"]
    assert set(user) == set(run["counts"]["test_windows_per_user"]) and len(user) >= 1
    comps = {(c["condition"], c["reference"]): c for c in run["comparisons"]}
    assert {("MR", "RR"), ("GR", "RR"), ("MR:noise", "RR"), ("MR", "MR:noise"), ("GR", "GR:mixup")} <= set(comps)
    c = comps[("MR:noise", "RR")]
    assert c["n"] == 2 * len(user) and {"p_value", "ci95_difference", "statistic"} <= set(c)
    js = json.loads((tmp_path / "out" / "results.json").read_text())
    assert js["config"]["augment"] == ["noise@snr_db=25", "mixup@alpha=0.4"] and js["config"]["resample_fraction"] == 0.8
    assert {a["name"]: a["params"] for a in js["augmentations"]} == {"noise": {"snr_db": 25.0}, "mixup": {"alpha": 0.4}}
    df = pd.read_csv(tmp_path / "out" / "results.csv")
    assert len(df) == 7 * 2 and {f"acc_user_{u}" for u in user} <= set(df.columns)
    assert set(df.loc[df["augmentation"] == "noise", "training"]) == {"GR", "MR"}
    html = (tmp_path / "out" / "report.html").read_text()
    assert "Classic augmentation peers" in html and "Wilcoxon" in html and "snr_db" in html
    # augmentation rows need no synthetic set
    gr = run_benchmark([sim_manifest], [], classifiers=["rf"], seeds=1, conditions=["GR"], augment="gain",
                       window_s=WINDOW_S, show_progress=False)["runs"][0]["results"]
    assert [r["condition"] for r in gr] == ["GR:gain"]


def test_calibration_split_trains_rr_and_mr_and_is_not_test(sim_manifest, tmp_path):
    """A manifest whose test users' first 0.5 s per recording are a `calibration` split (one window of gap before
    the remaining test rows): RR and MR train on train + calibration, GR on synthetic only, and a synthetic set
    conditioned on calibration rows is not mistaken for a test-leaking one."""
    d = json.loads(Path(sim_manifest).read_text())
    cal_rows, gap = 1000, 500  # at 2 kHz: 0.5 s of calibration, then a gap of one 0.25 s window
    cal, test = [], []
    for e in d["splits"]["test"]:
        cal.append(dict(e, stop=e["start"] + cal_rows))
        test.append(dict(e, start=e["start"] + cal_rows + gap))
    d["splits"]["calibration"], d["splits"]["test"] = cal, test
    d["params"]["gap_rows"] = gap
    mpath = tmp_path / "with_calibration.json"
    mpath.write_text(json.dumps(d))
    m, win = _window(mpath)  # loads through the manifest leakage check
    cal_w = load_split_windows(m, "calibration", win)
    assert len(cal_w) == 2 * len(cal) and (cal_w.meta["split"] == "calibration").all()
    fn, st, sp = cal_w.meta["filename"].tolist(), cal_w.meta["start"].to_numpy(), cal_w.meta["stop"].to_numpy()
    assert not overlaps(m.splits["test"], fn, st, sp).any()
    assert (split_of_ranges(m, fn, st, sp) == "calibration").all()

    cal_syn = write_fake_synthetic(mpath, tmp_path / "cal_syn", split="calibration")
    test_syn = write_fake_synthetic(mpath, tmp_path / "test_syn", split="test",
                                    meta_overrides={"allow_test_conditioning": False, "source_split": "train"})
    from emgaug.synthesis.parquet_io import read_synthetic

    s = read_synthetic(cal_syn)
    rep = check_leakage(m, s.labels, s.metadata, str(cal_syn))
    assert rep.windows_overlapping_test == 0 and rep.problems == []
    t = read_synthetic(test_syn)
    t.labels["split"] = "train"
    assert check_leakage(m, t.labels, t.metadata, str(test_syn)).windows_overlapping_test == len(t.labels)
    with pytest.raises(EmgaugError, match="overlap test-split rows"):
        run_benchmark([mpath], [t], classifiers=["rf"], seeds=1, show_progress=False)

    res = run_benchmark([mpath], [cal_syn], classifiers=["rf"], seeds=1, metrics=False, stride_s=WINDOW_S,
                        show_progress=False, resample_fraction=1.0)
    run = res["runs"][0]
    counts = run["counts"]
    n_train = len(load_split_windows(m, "train", win))
    assert counts["calibration_windows"] == len(cal_w) and counts["train_split_windows"] == n_train
    assert counts["train_windows"] == n_train + len(cal_w)
    by = {r["condition"]: r for r in run["results"]}
    assert by["RR"]["train_real"] == n_train + len(cal_w) and by["RR"]["train_calibration"] == len(cal_w)
    assert by["MR"]["train_calibration"] == len(cal_w) and by["MR"]["train_synthetic"] == len(cal_w)
    assert by["GR"]["train_real"] == 0 and by["GR"]["train_calibration"] == 0
    assert by["RR"]["test_windows"] == len(load_split_windows(m, "test", win))
    # with the default per-seed resampling the calibration windows stay in proportion (stratified)
    rr = run_benchmark([mpath], [], classifiers=["rf"], seeds=1, conditions=["RR"], metrics=False, window_s=WINDOW_S,
                       stride_s=WINDOW_S, show_progress=False)["runs"][0]["results"][0]
    assert 0 < rr["train_calibration"] < len(cal_w) + 1 and abs(rr["train_calibration"] - 0.8 * len(cal_w)) <= 4
