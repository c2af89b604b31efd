"""Write a benchmark's results: results.json (everything), results.csv (one row per classifier x condition x seed)
and report.html (self-contained, plots embedded), each atomically."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from emgaug.atomic import atomic_path, write_json_atomic


def results_frame(results: dict[str, Any]) -> pd.DataFrame:
    """Long table: one row per (manifest, classifier, condition, seed) with accuracy, macro F1, per-class accuracy
    (`acc_<class>`) and accuracy per test user (`acc_user_<user>`). `condition` is RR, RR-full, GR, MR or GR:<aug> /
    MR:<aug>; `training` and `augmentation` split it. Scarce manifests add emg_fraction / emg_select / clip_s;
    held-out gestures add heldout_accuracy."""
    from emgaug.benchmark.conditions import parse_condition

    cfg = results["config"]
    rows = []
    for run in results["runs"]:
        for r in run.get("results", []):
            base, aug = parse_condition(r["condition"])
            row = {"manifest": run["manifest"], "protocol": run["protocol"], "synthetic": run.get("synthetic"),
                   "classifier": r["classifier"], "condition": r["condition"], "training": base,
                   "augmentation": aug, "seed": r["seed"],
                   "accuracy": r["accuracy"], "macro_f1": r["macro_f1"], "train_real": r["train_real"],
                   "train_calibration": r.get("train_calibration", 0), "train_clip": r.get("train_clip", 0),
                   "train_withheld": r.get("train_withheld", 0), "heldout_accuracy": r.get("heldout_accuracy"),
                   "emg_fraction": (run.get("scarce") or {}).get("emg_fraction"),
                   "emg_select": (run.get("scarce") or {}).get("emg_select"),
                   "clip_s": (run.get("scarce") or {}).get("clip_s"),
                   "train_synthetic": r["train_synthetic"], "test_windows": r["test_windows"],
                   "fit_seconds": r["fit_seconds"], "epochs": r["epochs"],
                   "features": cfg["features"], "resample_fraction": cfg.get("resample_fraction")}
            row.update({f"acc_{k}": v for k, v in r["per_class_accuracy"].items()})
            row.update({f"acc_user_{u}": v for u, v in r.get("per_user_accuracy", {}).items()})
            rows.append(row)
    return pd.DataFrame(rows)


def write_outputs(results: dict[str, Any], plots: list[dict[str, Any]], out_dir: Path) -> dict[str, Path]:
    """results.json, results.csv and report.html under `out_dir`; each file appears complete or not at all."""
    from emgaug.benchmark.report import render_html

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {"json": out_dir / "results.json", "csv": out_dir / "results.csv", "html": out_dir / "report.html"}
    write_json_atomic(paths["json"], results)
    with atomic_path(paths["csv"]) as tmp:
        results_frame(results).to_csv(tmp, index=False)
    html = render_html(results, plots)
    with atomic_path(paths["html"]) as tmp:
        tmp.write_text(html, encoding="utf-8")
    return paths
