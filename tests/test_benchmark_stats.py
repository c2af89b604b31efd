"""Benchmark statistics: per-user accuracy, bootstrap CI, paired Wilcoxon against scipy, and seed SDs that mean
something for the deterministic SVM (per-seed resampling of the training windows)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from rich.console import Console
from scipy.stats import wilcoxon

from emgaug.benchmark.data import LabelledWindows
from emgaug.benchmark.conditions import resample_indices, run_conditions, summarise, training_set
from emgaug.benchmark.stats import bootstrap_ci, paired_wilcoxon, per_user_accuracy
from emgaug.benchmark.tables import per_user_rows, print_tables, table2_rows


def test_paired_wilcoxon_matches_scipy_on_a_fixture():
    rng = np.random.default_rng(0)
    keys = [(u, s) for u in ("S1", "S2", "S3") for s in range(5)]
    ref = {k: float(v) for k, v in zip(keys, rng.uniform(0.5, 0.8, len(keys)))}
    cond = {k: ref[k] + float(d) for k, d in zip(keys, rng.normal(0.02, 0.03, len(keys)))}
    cond[("S9", 0)] = 0.99  # no partner in ref: not a pair
    shuffled = dict(sorted(cond.items(), key=lambda kv: -kv[1]))  # pairing is by key, not by order
    res = paired_wilcoxon(shuffled, ref)
    a = np.array([cond[k] for k in keys])
    b = np.array([ref[k] for k in keys])
    expect = wilcoxon(a - b)
    assert res["n"] == 15
    assert res["p_value"] == pytest.approx(expect.pvalue, rel=1e-12)
    assert res["statistic"] == pytest.approx(expect.statistic)
    assert res["mean_difference"] == pytest.approx((a - b).mean()) and res["sd_difference"] == pytest.approx((a - b).std(ddof=1))
    assert res["wins"] + res["ties"] + res["losses"] == 15 and res["wins"] == int(((a - b) > 0).sum())
    lo, hi = res["ci95_difference"]
    assert lo < (a - b).mean() < hi


def test_paired_wilcoxon_exact_values_and_undefined_case():
    # 10 pairs, all better, distinct differences: exact two-sided p = 2 / 2^10
    ref = {(f"u{i}", 0): 0.5 for i in range(10)}
    cond = {(f"u{i}", 0): 0.5 + 0.01 * (i + 1) for i in range(10)}
    assert paired_wilcoxon(cond, ref)["p_value"] == pytest.approx(2 / 1024)
    # zero differences are dropped (zero_method="wilcox"): 10 better + 3 ties gives the same p
    cond.update({(f"t{i}", 0): 0.4 for i in range(3)})
    ref.update({(f"t{i}", 0): 0.4 for i in range(3)})
    r = paired_wilcoxon(cond, ref)
    assert r["p_value"] == pytest.approx(2 / 1024) and r["ties"] == 3 and r["n"] == 13
    same = paired_wilcoxon(ref, ref)
    assert same["p_value"] is None and same["statistic"] is None and same["mean_difference"] == 0.0


def test_bootstrap_ci_and_per_user_accuracy():
    v = np.r_[np.zeros(50), np.ones(50)]
    lo, hi = bootstrap_ci(v)
    assert lo < 0.5 < hi and hi - lo == pytest.approx(2 * 1.96 * 0.05, abs=0.03)  # ~ normal-theory width
    assert bootstrap_ci(v) == bootstrap_ci(v)  # seeded
    assert bootstrap_ci(np.full(8, 0.7)) == pytest.approx((0.7, 0.7)) and bootstrap_ci([0.3]) is None
    acc = per_user_accuracy(np.array([0, 1, 1, 0, 1]), np.array([0, 1, 0, 0, 0]), np.array(["b", "a", "a", "b", "b"]))
    assert acc == {"a": 0.5, "b": pytest.approx(2 / 3)}


def _overlapping_classes(n=240, seed=0):
    """Two users, three classes whose channel patterns overlap: an SVM that is sensitive to its training windows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, 3, 50)).astype(np.float32)
    x[np.arange(n), y] *= 1.6
    meta = pd.DataFrame({"user": np.where(np.arange(n) % 2 == 0, "S1", "S2"), "split": "train"})
    return LabelledWindows(x, y, meta)


def test_svm_seeds_differ_with_the_default_resampling_and_sd_is_undefined_without_it():
    train, test = _overlapping_classes(seed=1), _overlapping_classes(n=300, seed=2)
    names = ["a", "b", "c"]
    rows = run_conditions(train, test, None, ["svm"], [0, 1, 2], names, conditions=("RR",))
    assert len({r["training_set_id"] for r in rows}) == 3  # each seed trained on other windows
    assert len({r["accuracy"] for r in rows}) > 1  # so the deterministic SVM's accuracy varies with the seed
    s = summarise(rows)[0]
    assert s["seed_sd_defined"] and s["accuracy_sd"] > 0
    assert set(s["per_user"]) == {"S1", "S2"} and s["user_cells"] == 6 and len(s["user_accuracy_ci95"]) == 2
    assert {u for r in rows for u in r["per_user_accuracy"]} == {"S1", "S2"}
    # resampling off: three identical SVMs; the SD is undefined (None), never 0.0, and printed as such
    fixed = run_conditions(train, test, None, ["svm", "rf"], [0, 1, 2], names, conditions=("RR",),
                          resample_fraction=1.0)
    summ = {x["classifier"]: x for x in summarise(fixed)}
    assert len({r["accuracy"] for r in fixed if r["classifier"] == "svm"}) == 1
    assert summ["svm"]["accuracy_sd"] is None and summ["svm"]["per_user"]["S1"]["accuracy_sd"] is None
    assert summ["svm"]["user_cells"] == 2  # one cell per user: the seeds are copies
    assert summ["rf"]["accuracy_sd"] is not None  # the forest's seeds still differ
    run = {"protocol": "p", "manifest": "m", "counts": {"test_windows": len(test)}, "summary": list(summ.values())}
    assert table2_rows(run)[1][0][1].endswith("± undefined")
    assert "undefined" in per_user_rows(run)[1][0][2]
    buf = io.StringIO()
    print_tables({"config": {"seeds": [0, 1, 2], "resample_fraction": 1.0}, "runs": [run]}, Console(file=buf, width=200))
    assert "undefined" in buf.getvalue() and "every seed trains on all training windows" in buf.getvalue()


def test_resample_indices_are_stratified_seeded_and_paired_between_rr_and_mr():
    labels = np.repeat([0, 1, 2], [10, 20, 5])
    strata = np.array(["train"] * 30 + ["calibration"] * 5)
    idx = resample_indices(labels, 0.8, seed=3, strata=strata)
    assert np.bincount(labels[idx]).tolist() == [8, 16, 4] and np.array_equal(idx, np.sort(idx))
    assert np.array_equal(idx, resample_indices(labels, 0.8, seed=3, strata=strata))
    assert not np.array_equal(idx, resample_indices(labels, 0.8, seed=4, strata=strata))
    assert len(resample_indices(labels, 1.0, seed=3)) == 35
    w = LabelledWindows(np.arange(35 * 2, dtype=np.float32).reshape(35, 1, 2), labels,
                        pd.DataFrame({"split": strata}))
    rr = training_set("RR", w, None, 1.0, seed=3)
    mr = training_set("MR", w, w, 1.0, seed=3)
    np.testing.assert_array_equal(mr.emg[:len(rr.emg)], rr.emg)  # MR = this seed's RR windows + synthetic ones
    assert rr.counts == {"real": 28, "calibration": 4, "synthetic": 0}
