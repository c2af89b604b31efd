"""Rich tables shaped like the SeqEMG-GAN paper: Table 2 (classifier x RR/GR/MR), Table 3 (condition x split
protocol, averaged over classifiers) and a similarity table; plain rows are shared with the HTML report."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from emgaug.benchmark.protocols import CONDITIONS

CONDITION_NAMES = {"RR": "Real-only (RR)", "GR": "Synthetic-only (GR)", "MR": "Real + Synthetic (MR)"}


def pm(mean: float, sd: float, scale: float = 100.0, digits: int = 1) -> str:
    return f"{mean * scale:.{digits}f} ± {sd * scale:.{digits}f}"


def table2_rows(run: dict[str, Any], key: str = "accuracy") -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per classifier, `key` (accuracy or macro_f1) in % as mean ± SD per condition; for
    accuracy a last row holds the classifier average (mean ± SD over seeds of the per-seed average)."""
    conds = [c for c in CONDITIONS if any(s["condition"] == c for s in run.get("summary", []))]
    header = ["Classifier", *conds]
    rows = []
    for clf in dict.fromkeys(s["classifier"] for s in run.get("summary", [])):
        by = {s["condition"]: s for s in run["summary"] if s["classifier"] == clf}
        rows.append([clf, *[pm(by[c][f"{key}_mean"], by[c][f"{key}_sd"]) for c in conds]])
    avg = run.get("classifier_average", {})
    if avg and key == "accuracy":
        rows.append(["Average accuracy", *[pm(avg[c]["accuracy_mean"], avg[c]["accuracy_sd"]) for c in conds]])
    return header, rows


def table3_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header (one column per run's split protocol) and one row per condition (classifier-average accuracy %)."""
    header = ["Setting", *[r["protocol"] for r in runs]]
    rows = []
    for c in CONDITIONS:
        if not any(c in r.get("classifier_average", {}) for r in runs):
            continue
        cells = []
        for r in runs:
            a = r.get("classifier_average", {}).get(c)
            cells.append(pm(a["accuracy_mean"], a["accuracy_sd"]) if a else "—")
        rows.append([CONDITION_NAMES[c], *cells])
    return header, rows


def similarity_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Metric x run table of mean ± SD over window pairs (set-level scores have no SD)."""
    with_sim = [r for r in runs if r.get("similarity")]
    header = ["Metric", "better", *[f"{r['protocol']} (vs {r['similarity']['paired_against']})" for r in with_sim]]
    names = list(dict.fromkeys(k for r in with_sim for k in r["similarity"]["metrics"]))
    rows = []
    for name in names:
        cells, better = [], ""
        for r in with_sim:
            v = r["similarity"]["metrics"].get(name)
            if v is None:
                cells.append("—")
                continue
            better = v["better"]
            cells.append(f"{v['mean']:.4g}" if v["sd"] != v["sd"] else f"{v['mean']:.4g} ± {v['sd']:.3g}")
        rows.append([name, {"lower": "↓", "higher": "↑", "0.5": "→0.5"}.get(better, better), *cells])
    return header, rows


def rich_table(title: str, header: list[str], rows: list[list[str]]) -> Table:
    t = Table(title=title, title_justify="left")
    for i, h in enumerate(header):
        t.add_column(h, justify="left" if i == 0 else "right")
    for r in rows:
        t.add_row(*r)
    return t


def print_tables(results: dict[str, Any], console) -> None:
    """Table 2 per run, Table 3 across runs, then the similarity table."""
    runs = results["runs"]
    for r in runs:
        if r.get("summary"):
            n_seeds = len(results["config"]["seeds"])
            console.print(rich_table(f"Classification accuracy (%) — {r['protocol']} ({r['manifest']}), mean ± SD over "
                                     f"{n_seeds} seed(s), {r['counts']['test_windows']} real test windows",
                                     *table2_rows(r)))
            console.print(rich_table(f"Macro F1 (%) — {r['protocol']}", *table2_rows(r, "macro_f1")))
    if any(r.get("classifier_average") for r in runs):
        console.print(rich_table("Accuracy (%) by split protocol, average over classifiers, mean ± SD over seeds",
                                 *table3_rows(runs)))
    if any(r.get("similarity") for r in runs):
        console.print(rich_table("Similarity, synthetic vs real windows with the same conditioning angles "
                                 "(mean ± SD over pairs)", *similarity_rows(runs)))
