"""Statistics for the RR / GR / MR tables: accuracy per test user, percentile-bootstrap confidence intervals and
paired Wilcoxon signed-rank tests over (test user, seed) cells.

A *cell* is one test user's accuracy for one seed of one (classifier, condition): the accuracy over that user's test
windows only. Two conditions are compared on the cells they share (same user, same seed), which is a paired design:
the same test windows, the same seed's resample of the real training windows. Cells of one user across seeds are
not independent draws of new people, so the p-value speaks about these test users; with few test users say so.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping
from typing import Any

import numpy as np
from scipy.stats import wilcoxon

N_BOOTSTRAP = 10_000
CI_LEVEL = 0.95


def per_user_accuracy(y_true: np.ndarray, y_pred: np.ndarray, users: np.ndarray) -> dict[str, float]:
    """Accuracy over each user's test windows: {user: accuracy}, users in sorted order."""
    y_true, y_pred, users = np.asarray(y_true), np.asarray(y_pred), np.asarray(users).astype(str)
    return {u: float((y_true[users == u] == y_pred[users == u]).mean()) for u in sorted(set(users.tolist()))}


def bootstrap_ci(values: np.ndarray, n_boot: int = N_BOOTSTRAP, level: float = CI_LEVEL,
                 seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap CI of the mean: resample `values` with replacement n_boot times (seeded), take the
    (1-level)/2 and (1+level)/2 quantiles of the resampled means. None for fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    if len(v) < 2:
        return None
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(axis=1)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def bootstrap_ratio_ci(num: np.ndarray, den: np.ndarray, n_boot: int = N_BOOTSTRAP, level: float = CI_LEVEL,
                       seed: int = 0) -> tuple[float, float] | None:
    """Percentile bootstrap CI of mean(num) / mean(den) over paired units (e.g. test users): resample the units with
    replacement n_boot times (seeded); resamples whose mean(den) <= 0 (ratio undefined) are dropped. None for fewer
    than 2 units or when under half the resamples are defined."""
    num, den = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    keep = np.isfinite(num) & np.isfinite(den)
    num, den = num[keep], den[keep]
    if len(num) < 2:
        return None
    idx = np.random.default_rng(seed).integers(0, len(num), size=(n_boot, len(num)))
    n, d = num[idx].mean(axis=1), den[idx].mean(axis=1)
    ok = d > 0
    if ok.sum() < n_boot / 2:
        return None
    lo, hi = np.quantile(n[ok] / d[ok], [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def sd_or_none(values: np.ndarray) -> float | None:
    """Sample SD (ddof = 1); None (undefined) for fewer than 2 values."""
    v = np.asarray(values, dtype=np.float64)
    return float(v.std(ddof=1)) if len(v) > 1 else None


def paired_wilcoxon(cells: Mapping[Hashable, float], reference: Mapping[Hashable, float]) -> dict[str, Any]:
    """Compare `cells` with `reference` on their common keys (e.g. (user, seed)), differences cells - reference.

    Returns n (pairs), mean / SD / 95 % bootstrap CI of the difference, wins / ties / losses, and the two-sided
    Wilcoxon signed-rank test (scipy.stats.wilcoxon, zero_method="wilcox": zero differences are dropped, as in
    Wilcoxon's original test; method "auto": exact null distribution for up to 50 non-zero pairs without ties,
    normal approximation otherwise). statistic / p_value are None when no difference is non-zero (the test is
    undefined: the conditions gave identical accuracies everywhere).
    """
    keys = sorted(set(cells) & set(reference), key=repr)
    a = np.array([cells[k] for k in keys], dtype=np.float64)
    b = np.array([reference[k] for k in keys], dtype=np.float64)
    d = a - b
    out: dict[str, Any] = {"n": len(keys), "mean_difference": float(d.mean()) if len(d) else None,
                           "sd_difference": sd_or_none(d), "ci95_difference": bootstrap_ci(d),
                           "wins": int((d > 0).sum()), "ties": int((d == 0).sum()), "losses": int((d < 0).sum()),
                           "test": "wilcoxon signed-rank, two-sided, zero_method=wilcox", "statistic": None,
                           "p_value": None}
    if (d != 0).any():
        res = wilcoxon(d, zero_method="wilcox", alternative="two-sided")
        out["statistic"] = float(res.statistic)
        out["p_value"] = float(res.pvalue) if math.isfinite(res.pvalue) else None
    return out


def cells_of(rows: list[dict[str, Any]], classifier: str, condition: str) -> dict[tuple[str, int], float]:
    """{(user, seed): accuracy} of one (classifier, condition) from result rows carrying per_user_accuracy."""
    return {(u, int(r["seed"])): float(acc) for r in rows if r["classifier"] == classifier and r["condition"] == condition
            for u, acc in r.get("per_user_accuracy", {}).items()}


def compare_conditions(rows: list[dict[str, Any]], pairs: list[tuple[str, str]]) -> list[dict[str, Any]]:
    """One paired comparison per classifier and (condition, reference) pair present in `rows`."""
    out = []
    for clf in dict.fromkeys(r["classifier"] for r in rows):
        for cond, ref in pairs:
            a, b = cells_of(rows, clf, cond), cells_of(rows, clf, ref)
            if not a or not b:
                continue
            out.append({"classifier": clf, "condition": cond, "reference": ref, **paired_wilcoxon(a, b)})
    return out
