"""RR / GR / MR training conditions: the same classifier, seed and real test windows; only the training data changes.

RR trains on real training windows, GR on synthetic windows only, MR on the real windows plus a seeded random
subset of round(mix_ratio * N_real) synthetic windows. Test data is always the real held-out split.

Per seed, every condition first resamples its training windows (`resample_fraction`, default 0.8): a seeded,
class-stratified subsample without replacement of round(fraction * n) windows of each class (at least one), strata
also split by manifest split when the real windows come from train + calibration. RR and MR of one seed use the same
real subsample (so MR - RR is paired); GR resamples the synthetic set the same way. So seeds differ in their
training data for every classifier, and a deterministic classifier (the RBF SVM) gets a seed SD that measures
something. With resample_fraction = 1 every seed sees all windows; the SD of a deterministic classifier trained on
identical data is then reported as undefined (None), never as 0.

Classic augmentations (emgaug.benchmark.augment) are further training sources: for condition "GR:<name>" /
"MR:<name>" the seed's real subsample is augmented (one augmented copy per window, seeded) and used like a
synthetic set.

Scarce EMG (`emgaug split --emg-fraction`): RR is then RR-scarce, the real EMG that exists (train, plus the pool's
clips and any calibration). "RR-full" is the upper reference: this seed's RR windows plus a resample (same fraction,
own stream) of the kinematics pool's withheld real EMG, the one benchmark condition that reads it.

Held-out gestures: test classes with no window in the train split (cross-user-stage's held-out stages). Each row
then also reports accuracy on the test windows of those classes alone, and how many of them its training set held
(RR without calibration holds none, so it cannot predict them: 0 by construction, the floor).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from emgaug.benchmark.augment import AugmentSpec
from emgaug.benchmark.classifiers import DETERMINISTIC_CLASSIFIERS, make_classifier
from emgaug.benchmark.data import LabelledWindows, mix_count
from emgaug.benchmark.stats import bootstrap_ci, compare_conditions, per_user_accuracy, sd_or_none
from emgaug.errors import EmgaugError

CONDITIONS = ("RR", "GR", "MR")
RR_FULL = "RR-full"
ALL_CONDITIONS = ("RR", RR_FULL, "GR", "MR")  # table order
DEFAULT_RESAMPLE_FRACTION = 0.8


def score(y_true: np.ndarray, y_pred: np.ndarray, class_names: list[str]) -> dict[str, Any]:
    """Accuracy, macro F1 and per-class accuracy (recall) over the classes present in the test labels."""
    present = np.unique(y_true)
    per_class = {class_names[int(c)]: float((y_pred[y_true == c] == c).mean()) for c in present}
    return {
        "accuracy": float((y_true == y_pred).mean()),
        "macro_f1": float(f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)),
        "per_class_accuracy": per_class,
        "confusion": confusion_matrix(y_true, y_pred, labels=np.arange(len(class_names))).tolist(),
    }


def condition_label(base: str, augment: str | None = None) -> str:
    """'GR' for the synthetic set, 'GR:noise' for augmentation `noise`."""
    return base if augment is None else f"{base}:{augment}"


def parse_condition(label: str) -> tuple[str, str | None]:
    """'MR:noise' -> ('MR', 'noise'); 'MR' -> ('MR', None)."""
    base, _, aug = label.partition(":")
    if base not in ALL_CONDITIONS or (base == RR_FULL and aug):
        raise ValueError(f"unknown condition {label!r}")
    return base, aug or None


def normalise_condition(label: str) -> str:
    """Condition names as typed ('rr', 'rr-full', 'MR') -> their canonical spelling; unknown names unchanged."""
    return {c.upper(): c for c in ALL_CONDITIONS}.get(label.strip().upper(), label.strip())


def resample_indices(labels: np.ndarray, fraction: float, seed: int, strata: np.ndarray | None = None,
                     stream: int = 0) -> np.ndarray:
    """Sorted indices of a seeded subsample without replacement: round(fraction * n_g) (>= 1) of each group g of
    (label, stratum); all indices when fraction >= 1. `stream` separates independent draws of one seed (real vs
    synthetic windows)."""
    n = len(labels)
    if fraction >= 1.0:
        return np.arange(n)
    if not 0 < fraction:
        raise EmgaugError(f"--resample-fraction must be in (0, 1], got {fraction}")
    rng = np.random.default_rng([int(seed), 0x5EED, int(stream)])
    key = np.asarray(labels).astype(str).astype(object)
    if strata is not None:
        key = key + "|" + np.asarray(strata).astype(str).astype(object)
    keep = []
    for g in sorted(set(key.tolist())):
        idx = np.flatnonzero(key == g)
        k = max(1, int(round(fraction * len(idx))))
        keep.append(rng.choice(idx, k, replace=False))
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def _strata(w: LabelledWindows) -> np.ndarray | None:
    return w.meta["split"].to_numpy() if "split" in w.meta else None


@dataclass
class TrainingSet:
    """What one (condition, seed) trains on; `digest` identifies the exact windows (equal digests = same data).

    `parts` are (window set, indices) pairs in training order: the windows themselves (`emg`) are only gathered when
    a classifier needs them (the deep decoders); SVM / RandomForest take the parts' cached feature statistics
    (`stats`), so no per-(condition, seed) copy of the windows is made for them."""

    parts: list[tuple[LabelledWindows, np.ndarray]]
    labels: np.ndarray
    counts: dict[str, int]  # real (all real windows, withheld included), calibration, synthetic
    digest: str
    detail: dict[str, int] = field(default_factory=lambda: {"clip": 0, "withheld": 0})  # real windows from the
    # pool's clips, and from the pool's withheld EMG (RR-full only)

    @property
    def emg(self) -> np.ndarray:
        return np.concatenate([w.emg[idx] for w, idx in self.parts])

    def stats(self, kind: str, store=None) -> np.ndarray:
        return np.concatenate([w.stats(kind, store)[idx] for w, idx in self.parts])


def _split_count(w: LabelledWindows, idx: np.ndarray, split: str) -> int:
    return int((w.meta["split"].to_numpy()[idx] == split).sum()) if "split" in w.meta else 0


def _calibration_count(w: LabelledWindows, idx: np.ndarray) -> int:
    return _split_count(w, idx, "calibration")


def _real_counts(real: LabelledWindows, idx: np.ndarray, withheld: int = 0) -> dict[str, int]:
    return {"real": len(idx) + withheld, "calibration": _calibration_count(real, idx)}


def _detail(real: LabelledWindows, idx: np.ndarray, withheld: int = 0) -> dict[str, int]:
    return {"clip": _split_count(real, idx, "clip"), "withheld": withheld}


def training_set(condition: str, real: LabelledWindows, synth: LabelledWindows | None, mix_ratio: float, seed: int,
                 resample_fraction: float = DEFAULT_RESAMPLE_FRACTION,
                 augment: AugmentSpec | None = None, withheld: LabelledWindows | None = None) -> TrainingSet:
    """The windows `condition` (RR, RR-full with `withheld`, GR, MR, or GR:<aug> / MR:<aug> with `augment`) trains on
    for this seed.

    counts: real (of which calibration, clip and withheld pool EMG) and synthetic (or augmented) windows."""
    base, aug_name = parse_condition(condition)
    h = hashlib.sha1()
    real_idx = resample_indices(real.labels, resample_fraction, seed, _strata(real))
    if base == "RR":
        h.update(b"real" + real_idx.tobytes())
        return TrainingSet([(real, real_idx)], real.labels[real_idx], {**_real_counts(real, real_idx), "synthetic": 0},
                           h.hexdigest(), _detail(real, real_idx))
    if base == RR_FULL:
        if withheld is None or len(withheld) == 0:
            raise ValueError(f"{condition} needs the kinematics pool's withheld EMG")
        w_idx = resample_indices(withheld.labels, resample_fraction, seed, stream=2)
        h.update(b"real" + real_idx.tobytes() + b"withheld" + w_idx.tobytes())
        return TrainingSet([(real, real_idx), (withheld, w_idx)],
                           np.concatenate([real.labels[real_idx], withheld.labels[w_idx]]),
                           {**_real_counts(real, real_idx, len(w_idx)), "synthetic": 0}, h.hexdigest(),
                           _detail(real, real_idx, len(w_idx)))
    if aug_name is not None:
        if augment is None or augment.name != aug_name:
            raise ValueError(f"{condition} needs the augmentation {aug_name}")
        pool = augment.apply(real.subset(real_idx), seed)  # augmented copies of this seed's real subsample
        h.update(f"{augment.spec}|{seed}|".encode() + real_idx.tobytes())
        pool_idx = np.arange(len(pool))
    else:
        if synth is None or len(synth) == 0:
            raise ValueError(f"{condition} needs a synthetic set")
        pool = synth
        pool_idx = None
    if base == "GR":
        if pool_idx is None:  # a fixed synthetic set: resample it like the real windows
            pool_idx = resample_indices(pool.labels, resample_fraction, seed, stream=1)
            h.update(b"synth" + pool_idx.tobytes())
        return TrainingSet([(pool, pool_idx)], pool.labels[pool_idx], {"real": 0, "calibration": 0,
                                                                        "synthetic": len(pool_idx)}, h.hexdigest())
    # MR: this seed's real subsample plus round(mix_ratio * n_real) windows of the pool
    k = mix_count(len(real_idx), mix_ratio, len(pool))
    pick = np.sort(np.random.default_rng(seed).choice(len(pool), k, replace=False))
    h.update(b"real" + real_idx.tobytes() + b"pick" + pick.tobytes())
    labels = np.concatenate([real.labels[real_idx], pool.labels[pick]])
    return TrainingSet([(real, real_idx), (pool, pick)], labels, {**_real_counts(real, real_idx), "synthetic": int(k)},
                       h.hexdigest(), _detail(real, real_idx))


def active_conditions(conditions: Sequence[str], has_synthetic: bool,
                      augment: Sequence[AugmentSpec] = (), has_withheld: bool = False) -> list[str]:
    """The condition labels that run, in table order: the requested RR / RR-full / GR / MR (RR-full needs withheld pool
    EMG, GR and MR a synthetic set), then GR:<aug> / MR:<aug> for each augmentation and each requested GR/MR."""
    ok = {"RR": True, RR_FULL: has_withheld, "GR": has_synthetic, "MR": has_synthetic}
    out = [c for c in ALL_CONDITIONS if c in conditions and ok[c]]
    out += [condition_label(c, a.name) for a in augment for c in ("GR", "MR") if c in conditions]
    return out


def heldout_classes(train: LabelledWindows, test: LabelledWindows) -> np.ndarray:
    """Test classes with no window in the train split (clip / calibration windows do not count): held-out gestures."""
    own = train.labels[train.meta["split"].to_numpy() == "train"] if "split" in train.meta else train.labels
    return np.array(sorted(set(np.unique(test.labels).tolist()) - set(np.unique(own).tolist())), dtype=np.int64)


def run_conditions(train: LabelledWindows, test: LabelledWindows, synth: LabelledWindows | None, classifiers: list[str],
                  seeds: list[int], class_names: list[str], mix_ratio: float = 1.0, features: str = "td",
                  device: str = "cpu", n_jobs: int | None = 1, conditions: Sequence[str] = CONDITIONS,
                  progress: Callable[[str], Any] | None = None, augment: Sequence[AugmentSpec] = (),
                  resample_fraction: float = DEFAULT_RESAMPLE_FRACTION,
                  withheld: LabelledWindows | None = None, feature_store: Any = None) -> list[dict[str, Any]]:
    """One result row per (classifier, condition, seed): scores on the real test windows (pooled and per test user)
    plus training counts/time; with held-out gestures (`heldout_classes`) also the accuracy on their test windows.

    SVM / RandomForest on td or amplitude features train on each window set's feature statistics, computed once (and
    cached by `feature_store`, a feature_cache.FeatureStore, across runs) instead of on every fit and predict."""
    rows = []
    conds = active_conditions(conditions, synth is not None, augment, withheld is not None and len(withheld) > 0)
    by_name = {a.name: a for a in augment}
    users = test.meta["user"].to_numpy() if "user" in test.meta else None
    heldout = heldout_classes(train, test)
    in_heldout = np.isin(test.labels, heldout)
    for clf_name in classifiers:
        for cond in conds:
            aug = by_name.get(parse_condition(cond)[1] or "")
            for seed in seeds:
                ts = training_set(cond, train, synth, mix_ratio, seed, resample_fraction, aug, withheld)
                clf = make_classifier(clf_name, seed=seed, num_classes=len(class_names), features=features,
                                      device=device, n_jobs=n_jobs)
                if getattr(clf, "uses_stats", False):
                    x_train = ts.stats(features, feature_store)  # computed once per window set, then reused
                    x_test = test.stats(features, feature_store)
                    t0 = time.perf_counter()
                    clf.fit_stats(x_train, ts.labels)
                    fit_s = time.perf_counter() - t0
                    pred = clf.predict_stats(x_test)
                else:
                    t0 = time.perf_counter()
                    clf.fit(ts.emg, ts.labels)
                    fit_s = time.perf_counter() - t0
                    pred = clf.predict(test.emg)
                row = {"classifier": clf_name, "condition": cond, "seed": int(seed),
                       **score(test.labels, pred, class_names),
                       "train_real": ts.counts["real"], "train_calibration": ts.counts["calibration"],
                       "train_clip": ts.detail["clip"], "train_withheld": ts.detail["withheld"],
                       "train_synthetic": ts.counts["synthetic"], "test_windows": len(test),
                       "fit_seconds": round(fit_s, 3), "epochs": getattr(clf, "epochs_run", None),
                       "training_set_id": ts.digest[:16]}
                if users is not None:
                    row["per_user_accuracy"] = per_user_accuracy(test.labels, pred, users)
                if len(heldout):
                    row["heldout_accuracy"] = float((pred[in_heldout] == test.labels[in_heldout]).mean())
                    row["heldout_windows"] = int(in_heldout.sum())
                    row["heldout_classes"] = [class_names[int(c)] for c in heldout]
                    row["heldout_classes_in_training"] = int(np.isin(heldout, ts.labels).sum())
                rows.append(row)
                if progress:
                    progress(f"{clf_name} {cond} seed {seed}")
    return rows


def _sd_defined(rs: list[dict[str, Any]]) -> bool:
    """A seed SD means something unless there is one seed, or a deterministic classifier saw identical data."""
    if len(rs) < 2:
        return False
    same_data = len({r.get("training_set_id") for r in rs}) == 1 and rs[0].get("training_set_id") is not None
    return not (same_data and rs[0]["classifier"] in DETERMINISTIC_CLASSIFIERS)


def _seed_sd(v: np.ndarray, defined: bool) -> float | None:
    return float(np.std(v, ddof=1)) if defined else None


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per (classifier, condition): mean and SD (ddof=1) over seeds of accuracy, macro F1 and per-class accuracy;
    SDs are None (undefined) for one seed or for a deterministic classifier that saw the same data every seed.

    With per-user accuracies: `per_user` {user: mean, SD over seeds} and the users x seeds cells' mean, SD and 95 %
    percentile-bootstrap CI (`user_accuracy_*`; each user weighs the same, unlike the pooled accuracy)."""
    out = []
    keys = list(dict.fromkeys((r["classifier"], r["condition"]) for r in rows))
    for clf, cond in keys:
        rs = [r for r in rows if r["classifier"] == clf and r["condition"] == cond]
        defined = _sd_defined(rs)
        acc = np.array([r["accuracy"] for r in rs])
        f1 = np.array([r["macro_f1"] for r in rs])
        classes = list(rs[0]["per_class_accuracy"])
        pc = {c: float(np.mean([r["per_class_accuracy"][c] for r in rs])) for c in classes}
        pc_sd = {c: _seed_sd(np.array([r["per_class_accuracy"][c] for r in rs]), defined) for c in classes}
        item = {"classifier": clf, "condition": cond, "seeds": len(rs), "accuracy_mean": float(acc.mean()),
                "accuracy_sd": _seed_sd(acc, defined), "macro_f1_mean": float(f1.mean()),
                "macro_f1_sd": _seed_sd(f1, defined), "per_class_accuracy_mean": pc, "per_class_accuracy_sd": pc_sd,
                "seed_sd_defined": defined}
        if all("heldout_accuracy" in r for r in rs):
            ho = np.array([r["heldout_accuracy"] for r in rs])
            item.update(heldout_accuracy_mean=float(ho.mean()), heldout_accuracy_sd=_seed_sd(ho, defined),
                        heldout_windows=rs[0]["heldout_windows"], heldout_classes=rs[0]["heldout_classes"],
                        heldout_classes_in_training=max(r["heldout_classes_in_training"] for r in rs))
        if all("per_user_accuracy" in r for r in rs):
            users = list(dict.fromkeys(u for r in rs for u in r["per_user_accuracy"]))
            item["per_user"] = {}
            for u in users:
                v = np.array([r["per_user_accuracy"][u] for r in rs if u in r["per_user_accuracy"]])
                item["per_user"][u] = {"accuracy_mean": float(v.mean()), "accuracy_sd": _seed_sd(v, defined),
                                       "seeds": len(v)}
            # users x seeds cells; when the seeds are copies of one another (undefined seed SD) one cell per user
            cells = (np.array([a for r in rs for a in r["per_user_accuracy"].values()]) if defined else
                     np.array([v["accuracy_mean"] for v in item["per_user"].values()]))
            ci = bootstrap_ci(cells)
            item.update({"user_cells": len(cells), "user_accuracy_mean": float(cells.mean()),
                         "user_accuracy_sd": sd_or_none(cells), "user_accuracy_ci95": list(ci) if ci else None})
        out.append(item)
    return out


def average_over_classifiers(rows: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Table-3 style: per condition, the classifier-average accuracy of each seed, then mean and SD over seeds (None
    when undefined: one seed, or only deterministic classifiers trained on identical data every seed)."""
    out = {}
    for cond in dict.fromkeys(r["condition"] for r in rows):
        seeds = sorted({r["seed"] for r in rows if r["condition"] == cond})
        per_seed = np.array([np.mean([r["accuracy"] for r in rows if r["condition"] == cond and r["seed"] == s])
                             for s in seeds])
        clfs = dict.fromkeys(r["classifier"] for r in rows if r["condition"] == cond)
        defined = any(_sd_defined([r for r in rows if r["condition"] == cond and r["classifier"] == c]) for c in clfs)
        out[cond] = {"accuracy_mean": float(per_seed.mean()), "accuracy_sd": _seed_sd(per_seed, defined),
                     "seeds": len(seeds)}
    return out


def comparison_pairs(conditions: Sequence[str]) -> list[tuple[str, str]]:
    """(condition, reference) pairs to test: every GR/MR row against RR, and the synthetic set's GR/MR against each
    augmentation's GR/MR (does the generator beat the classic augmentation?)."""
    pairs = [(c, "RR") for c in conditions if c != "RR" and "RR" in conditions]
    for c in conditions:
        base, aug = parse_condition(c)
        if aug is not None and base in conditions:
            pairs.append((base, c))
    return pairs


def paired_comparisons(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Wilcoxon signed-rank comparisons over (test user, seed) cells for every pair of `comparison_pairs`."""
    conds = list(dict.fromkeys(r["condition"] for r in rows))
    return compare_conditions(rows, comparison_pairs(conds))
