"""Scarce-EMG benchmark: "gap closed" and the learning-curve points of a sweep over EMG fractions.

A scarce manifest (`emgaug split --emg-fraction F`) keeps the EMG of a fraction of each user's training units; the
rest is the kinematics pool (angles only). Per classifier:

    gap closed = (MR - RR-scarce) / (RR-full - RR-scarce)

with RR-scarce the real EMG that exists (train [+ clip] [+ calibration]), RR-full the same plus the pool's withheld
real EMG (the upper reference) and MR RR-scarce's windows plus synthetic windows made from the pool's angles (or a
classic augmentation of the scarce real windows: MR:<aug>). 0 = no better than the scarce real data, 1 (100 %) =
as good as having recorded the pool's EMG. It is undefined (None) when RR-full is not above RR-scarce.

It is reported pooled (accuracies over all test windows, mean over seeds), as the mean over test users (each user's
mean over seeds, users weighted equally) with a 95 % percentile bootstrap CI over users, and per test user, together
with the paired Wilcoxon signed-rank test of MR vs RR-scarce over (test user, seed) cells (emgaug.benchmark.stats).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from emgaug.benchmark.conditions import RR_FULL, parse_condition
from emgaug.benchmark.stats import bootstrap_ratio_ci, cells_of, paired_wilcoxon

RR_SCARCE = "RR"  # the RR condition of a scarce manifest


def gap_ratio(value: float, scarce: float, full: float) -> float | None:
    """(value - scarce) / (full - scarce); None (undefined) when full <= scarce."""
    den = full - scarce
    return float((value - scarce) / den) if den > 0 else None


def _seed_mean(rows: list[dict[str, Any]], clf: str, cond: str) -> float | None:
    acc = [r["accuracy"] for r in rows if r["classifier"] == clf and r["condition"] == cond]
    return float(np.mean(acc)) if acc else None


def _user_means(rows: list[dict[str, Any]], clf: str, cond: str) -> dict[str, float]:
    cells = cells_of(rows, clf, cond)
    users = sorted({u for u, _ in cells})
    return {u: float(np.mean([v for (uu, _), v in cells.items() if uu == u])) for u in users}


def gap_closed(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One entry per classifier and MR-type condition (MR, MR:<aug>) whose classifier also has RR (RR-scarce) and
    RR-full rows in `rows` (result rows of `run_conditions`, possibly from several runs on the same test windows and
    seeds). See the module docstring for the definitions."""
    out = []
    for clf in dict.fromkeys(r["classifier"] for r in rows):
        conds = list(dict.fromkeys(r["condition"] for r in rows if r["classifier"] == clf))
        if RR_SCARCE not in conds or RR_FULL not in conds:
            continue
        scarce, full = _seed_mean(rows, clf, RR_SCARCE), _seed_mean(rows, clf, RR_FULL)
        u_scarce, u_full = _user_means(rows, clf, RR_SCARCE), _user_means(rows, clf, RR_FULL)
        full_test = paired_wilcoxon(cells_of(rows, clf, RR_FULL), cells_of(rows, clf, RR_SCARCE))
        for cond in conds:
            if parse_condition(cond)[0] != "MR":
                continue
            mr = _seed_mean(rows, clf, cond)
            u_mr = _user_means(rows, clf, cond)
            users = [u for u in u_mr if u in u_scarce and u in u_full]
            num = np.array([u_mr[u] - u_scarce[u] for u in users])
            den = np.array([u_full[u] - u_scarce[u] for u in users])
            test = paired_wilcoxon(cells_of(rows, clf, cond), cells_of(rows, clf, RR_SCARCE))
            ci = bootstrap_ratio_ci(num, den)
            out.append({
                "classifier": clf, "condition": cond,
                "mr": mr, "rr_scarce": scarce, "rr_full": full, "pooled": gap_ratio(mr, scarce, full),
                "user_mean": (float(num.mean() / den.mean()) if len(users) and den.mean() > 0 else None),
                "user_mean_ci95": list(ci) if ci else None,
                "per_user": {u: gap_ratio(u_mr[u], u_scarce[u], u_full[u]) for u in users},
                "users": len(users),
                "mr_vs_rr_scarce": {k: test[k] for k in ("n", "mean_difference", "p_value", "statistic", "wins",
                                                         "ties", "losses")},
                "rr_full_vs_rr_scarce": {k: full_test[k] for k in ("n", "mean_difference", "p_value", "wins", "ties",
                                                                   "losses")},
            })
    return out


def scarce_info(params: dict[str, Any]) -> dict[str, Any] | None:
    """What a manifest withholds (from its params), or None for a manifest with all training EMG."""
    if "emg_fraction" not in params:
        return None
    sel = params.get("emg_selection", {})
    return {"emg_fraction": params["emg_fraction"], "emg_select": params.get("emg_select"),
            "emg_unit": params.get("emg_unit"), "clip_s": float(params.get("clip_s") or 0.0),
            "kept_row_fraction": sel.get("kept_row_fraction"),
            "kept_sessions": {u: v["kept_sessions"] for u, v in sel.get("per_user", {}).items() if "kept_sessions" in v}}


def curve_points(summary: list[dict[str, Any]], scarce: dict[str, Any], label: str | None = None) -> list[dict[str, Any]]:
    """Learning-curve points of one benchmark run: (fraction, selection, clip, classifier, line, mean, SD) per summary
    row. `label` (e.g. the model that made the synthetic set) is added to GR/MR lines so several sets can share a
    plot; RR and RR-full lines do not depend on it."""
    pts = []
    for s in summary:
        base, aug = parse_condition(s["condition"])
        line = {"RR": "RR-scarce", RR_FULL: "RR-full (reference)"}.get(base, s["condition"])
        if label and base in ("GR", "MR") and aug is None:
            line = f"{s['condition']} {label}"
        pts.append({"fraction": float(scarce["emg_fraction"]), "select": scarce.get("emg_select"),
                    "clip_s": float(scarce.get("clip_s") or 0.0), "classifier": s["classifier"], "line": line,
                    "mean": s["accuracy_mean"], "sd": s["accuracy_sd"]})
    return pts
