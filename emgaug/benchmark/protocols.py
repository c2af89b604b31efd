"""RR / GR / MR training protocols: the same classifier, seed and real test windows; only the training data changes.

RR trains on real training windows, GR on synthetic windows only, MR on the real windows plus a seeded random
subset of round(mix_ratio * N_real) synthetic windows. Test data is always the real held-out split.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score

from emgaug.benchmark.classifiers import make_classifier
from emgaug.benchmark.data import LabelledWindows, mix_count

CONDITIONS = ("RR", "GR", "MR")


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


def training_set(condition: str, real: LabelledWindows, synth: LabelledWindows | None, mix_ratio: float,
                 seed: int) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """(emg, labels, counts) that `condition` trains on for this seed."""
    if condition == "RR":
        return real.emg, real.labels, {"real": len(real), "synthetic": 0}
    if synth is None or len(synth) == 0:
        raise ValueError(f"{condition} needs a synthetic set")
    if condition == "GR":
        return synth.emg, synth.labels, {"real": 0, "synthetic": len(synth)}
    if condition == "MR":
        k = mix_count(len(real), mix_ratio, len(synth))
        pick = np.sort(np.random.default_rng(seed).choice(len(synth), k, replace=False))
        emg = np.concatenate([real.emg, synth.emg[pick]])
        labels = np.concatenate([real.labels, synth.labels[pick]])
        return emg, labels, {"real": len(real), "synthetic": int(k)}
    raise ValueError(f"unknown condition {condition!r}")


def active_conditions(conditions: tuple[str, ...], has_synthetic: bool) -> list[str]:
    """The requested conditions that can run: GR and MR need a synthetic set."""
    return [c for c in conditions if c == "RR" or has_synthetic]


def run_protocols(train: LabelledWindows, test: LabelledWindows, synth: LabelledWindows | None, classifiers: list[str],
                  seeds: list[int], class_names: list[str], mix_ratio: float = 1.0, features: str = "td",
                  device: str = "cpu", n_jobs: int = 1, conditions: tuple[str, ...] = CONDITIONS,
                  progress: Callable[[str], Any] | None = None) -> list[dict[str, Any]]:
    """One result row per (classifier, condition, seed): scores on the real test windows plus training counts/time."""
    rows = []
    conds = active_conditions(conditions, synth is not None)
    for clf_name in classifiers:
        for cond in conds:
            for seed in seeds:
                x, y, counts = training_set(cond, train, synth, mix_ratio, seed)
                t0 = time.perf_counter()
                clf = make_classifier(clf_name, seed=seed, num_classes=len(class_names), features=features,
                                      device=device, n_jobs=n_jobs).fit(x, y)
                fit_s = time.perf_counter() - t0
                pred = clf.predict(test.emg)
                rows.append({"classifier": clf_name, "condition": cond, "seed": int(seed), **score(test.labels, pred, class_names),
                             "train_real": counts["real"], "train_synthetic": counts["synthetic"], "test_windows": len(test),
                             "fit_seconds": round(fit_s, 3), "epochs": getattr(clf, "epochs_run", None)})
                if progress:
                    progress(f"{clf_name} {cond} seed {seed}")
    return rows


def summarise(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean and SD (ddof=1; 0 for one seed) over seeds of accuracy, macro F1 and per-class accuracy."""
    out = []
    keys = list(dict.fromkeys((r["classifier"], r["condition"]) for r in rows))
    for clf, cond in keys:
        rs = [r for r in rows if r["classifier"] == clf and r["condition"] == cond]
        acc = np.array([r["accuracy"] for r in rs])
        f1 = np.array([r["macro_f1"] for r in rs])
        classes = list(rs[0]["per_class_accuracy"])
        pc = {c: float(np.mean([r["per_class_accuracy"][c] for r in rs])) for c in classes}
        pc_sd = {c: _sd(np.array([r["per_class_accuracy"][c] for r in rs])) for c in classes}
        out.append({"classifier": clf, "condition": cond, "seeds": len(rs), "accuracy_mean": float(acc.mean()),
                    "accuracy_sd": _sd(acc), "macro_f1_mean": float(f1.mean()), "macro_f1_sd": _sd(f1),
                    "per_class_accuracy_mean": pc, "per_class_accuracy_sd": pc_sd})
    return out


def average_over_classifiers(rows: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Table-3 style: per condition, the classifier-average accuracy of each seed, then mean and SD over seeds."""
    out = {}
    for cond in CONDITIONS:
        seeds = sorted({r["seed"] for r in rows if r["condition"] == cond})
        if not seeds:
            continue
        per_seed = np.array([np.mean([r["accuracy"] for r in rows if r["condition"] == cond and r["seed"] == s])
                             for s in seeds])
        out[cond] = {"accuracy_mean": float(per_seed.mean()), "accuracy_sd": _sd(per_seed), "seeds": len(seeds)}
    return out


def _sd(v: np.ndarray) -> float:
    return float(v.std(ddof=1)) if len(v) > 1 else 0.0
