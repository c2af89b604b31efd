"""Rich tables shaped like the SeqEMG-GAN paper: Table 2 (classifier x RR/GR/MR), Table 3 (condition x split
protocol, averaged over classifiers) and a similarity table; plain rows are shared with the HTML report."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from emgaug.benchmark.conditions import ALL_CONDITIONS, RR_FULL, parse_condition
from emgaug.data.source import DEFAULT_KINEMATICS_KIND, kinematics_label

CONDITION_NAMES = {"RR": "Real-only (RR)", RR_FULL: "Real incl. the pool's withheld EMG (RR-full, upper reference)",
                   "GR": "Synthetic-only (GR)", "MR": "Real + Synthetic (MR)"}
UNDEFINED = "undefined"


def pm(mean: float, sd: float | None, scale: float = 100.0, digits: int = 1) -> str:
    """'71.2 ± 1.3'; an undefined SD (None: one seed, or a deterministic classifier on identical data) is written out,
    never shown as 0."""
    sd_text = UNDEFINED if sd is None or sd != sd else f"{sd * scale:.{digits}f}"
    return f"{mean * scale:.{digits}f} ± {sd_text}"


def condition_name(label: str) -> str:
    base, aug = parse_condition(label)
    return CONDITION_NAMES[base] if aug is None else f"{base} with augmentation {aug}"


def resample_note(config: dict[str, Any]) -> str:
    """What the seeds vary, for table captions and the report."""
    f = config.get("resample_fraction", 1.0)
    if f is not None and f < 1:
        return (f"each seed trains on a seeded class-stratified {100 * f:.0f} % subsample of the training windows "
                "(every condition, RR included), so seed SDs include training-set variation")
    return ("every seed trains on all training windows; a deterministic classifier (SVM) trained on identical data "
            "has an undefined seed SD")


def column_name(run: dict[str, Any], cond: str) -> str:
    """What a condition is called in this run's tables: RR is RR-scarce on a scarce manifest and 'RR (others +
    calibration)' with a calibration split; RR-full is the upper reference; GR/MR name an oracle set."""
    base, aug = parse_condition(cond)
    if base == "RR":
        return "RR-scarce" if run.get("scarce") else "RR (others + calibration)" if run.get("new_person") else "RR"
    if base == RR_FULL:
        return "RR-full (reference)"
    if aug is None and run.get("oracle"):
        return f"{cond} (oracle)"
    return cond


def table2_rows(run: dict[str, Any], key: str = "accuracy") -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per classifier, `key` (accuracy or macro_f1) in % as mean ± SD per RR / RR-full / GR /
    MR condition of the synthetic set (augmentations: `augment_rows`); for accuracy a last row holds the classifier
    average (mean ± SD over seeds of the per-seed average)."""
    conds = [c for c in ALL_CONDITIONS if any(s["condition"] == c for s in run.get("summary", []))]
    header = ["Classifier", *[column_name(run, c) for c in conds]]
    rows = []
    for clf in dict.fromkeys(s["classifier"] for s in run.get("summary", [])):
        by = {s["condition"]: s for s in run["summary"] if s["classifier"] == clf}
        rows.append([clf, *[pm(by[c][f"{key}_mean"], by[c][f"{key}_sd"]) if c in by else "—" for c in conds]])
    avg = run.get("classifier_average", {})
    if avg and key == "accuracy":
        rows.append(["Average accuracy", *[pm(avg[c]["accuracy_mean"], avg[c]["accuracy_sd"]) if c in avg else "—"
                                           for c in conds]])
    return header, rows


def augment_rows(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Classic augmentation peers: one row per GR:<aug> / MR:<aug> condition, accuracy % (mean ± SD over seeds) per
    classifier and the classifier average."""
    summ = run.get("summary", [])
    conds = [c for c in dict.fromkeys(s["condition"] for s in summ) if parse_condition(c)[1] is not None]
    clfs = list(dict.fromkeys(s["classifier"] for s in summ))
    header = ["Condition", *clfs, "Average"]
    rows = []
    avg = run.get("classifier_average", {})
    for c in conds:
        by = {s["classifier"]: s for s in summ if s["condition"] == c}
        a = avg.get(c)
        rows.append([c, *[pm(by[k]["accuracy_mean"], by[k]["accuracy_sd"]) if k in by else "—" for k in clfs],
                     pm(a["accuracy_mean"], a["accuracy_sd"]) if a else "—"])
    return header, rows


def table3_rows(runs: list[dict[str, Any]]) -> tuple[list[str], list[list[str]]]:
    """Header (one column per run's split protocol) and one row per condition (classifier-average accuracy %)."""
    header = ["Setting", *[r["protocol"] for r in runs]]
    rows = []
    conds = list(dict.fromkeys(c for r in runs for c in r.get("classifier_average", {})))
    for c in conds:
        cells = []
        for r in runs:
            a = r.get("classifier_average", {}).get(c)
            cells.append(pm(a["accuracy_mean"], a["accuracy_sd"]) if a else "—")
        rows.append([condition_name(c), *cells])
    return header, rows


def per_user_rows(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Accuracy % per test user (mean ± SD over seeds), the users x seeds cells (mean ± SD [95 % bootstrap CI]) and
    the pooled accuracy, one row per (classifier, condition)."""
    summ = [s for s in run.get("summary", []) if "per_user" in s]
    users = list(dict.fromkeys(u for s in summ for u in s["per_user"]))
    header = ["Classifier", "Condition", *users, "users × seeds [95 % CI]", "pooled"]
    summ = [dict(s, condition=column_name(run, s["condition"])) for s in summ]
    rows = []
    for s in summ:
        cells = [pm(s["per_user"][u]["accuracy_mean"], s["per_user"][u]["accuracy_sd"]) if u in s["per_user"] else "—"
                 for u in users]
        ci = s.get("user_accuracy_ci95")
        ci_text = f" [{100 * ci[0]:.1f}, {100 * ci[1]:.1f}]" if ci else " [CI undefined]"
        rows.append([s["classifier"], s["condition"], *cells, pm(s["user_accuracy_mean"], s["user_accuracy_sd"]) + ci_text,
                     pm(s["accuracy_mean"], s["accuracy_sd"])])
    return header, rows


def _pct(v: float | None) -> str:
    return "undefined" if v is None else f"{100 * v:.0f} %"


def gap_rows(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Gap closed = (MR - RR-scarce) / (RR-full - RR-scarce) per classifier and MR-type condition: the accuracies
    (pooled, mean over seeds), pooled and user-mean gap closed with its 95 % bootstrap CI over users, the Wilcoxon
    p of MR vs RR-scarce (and of RR-full vs RR-scarce), then gap closed per test user."""
    gaps = run.get("gap_closed", [])
    users = list(dict.fromkeys(u for g in gaps for u in g["per_user"]))
    header = ["Classifier", "Condition", "MR %", "RR-scarce %", "RR-full %", "gap closed (pooled)",
              "gap closed (user mean) [95 % CI]", "p MR vs RR-scarce", "W/T/L", "p RR-full vs RR-scarce", *users]
    rows = []
    for g in gaps:
        ci = g["user_mean_ci95"]
        t, f = g["mr_vs_rr_scarce"], g["rr_full_vs_rr_scarce"]
        rows.append([g["classifier"], column_name(run, g["condition"]), f"{100 * g['mr']:.1f}",
                     f"{100 * g['rr_scarce']:.1f}", f"{100 * g['rr_full']:.1f}", _pct(g["pooled"]),
                     _pct(g["user_mean"]) + (f" [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]" if ci else " [CI undefined]"),
                     _p(t["p_value"]), f"{t['wins']}/{t['ties']}/{t['losses']}", _p(f["p_value"]),
                     *[_pct(g["per_user"].get(u)) for u in users]])
    return header, rows


def heldout_rows(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Accuracy % on the test windows of held-out gestures (test classes absent from the train split) per classifier
    and condition, with how many of those classes the condition's training data held; a condition that held none
    cannot predict them (0 by construction: the floor)."""
    summ = [s for s in run.get("summary", []) if "heldout_accuracy_mean" in s]
    header = ["Classifier", "Condition", "held-out gestures accuracy %", "windows", "held-out classes trained", "note"]
    rows = []
    for s in summ:
        n = len(s["heldout_classes"])
        note = ("never saw these gestures: cannot recognise them, 0 by construction (the floor)"
                if s["heldout_classes_in_training"] == 0 else "")
        rows.append([s["classifier"], column_name(run, s["condition"]), pm(s["heldout_accuracy_mean"],
                     s["heldout_accuracy_sd"]), str(s["heldout_windows"]), f"{s['heldout_classes_in_training']} of {n}",
                     note])
    return header, rows


def heldout_note(run: dict[str, Any]) -> str:
    summ = [s for s in run.get("summary", []) if "heldout_accuracy_mean" in s]
    if not summ:
        return ""
    classes = summ[0]["heldout_classes"]
    k = len(run.get("classes", [])) or len(classes)
    return (f"Held-out gestures ({', '.join(classes)}): test classes with no window in the train split; chance over "
            f"all {k} classes is {100 / k:.1f} %. RR trained on real EMG without them cannot predict them at all.")


def _p(p: float | None) -> str:
    if p is None:
        return UNDEFINED
    return f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}"


def comparison_rows(run: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Paired comparisons over (test user, seed) cells: difference in accuracy points (mean ± SD, 95 % bootstrap CI),
    Wilcoxon signed-rank p-value, number of pairs and wins / ties / losses."""
    header = ["Classifier", "Condition", "vs", "Δ accuracy (points)", "95 % CI", "Wilcoxon p", "pairs", "W/T/L"]
    rows = []
    for c in run.get("comparisons", []):
        ci = c["ci95_difference"]
        rows.append([c["classifier"], column_name(run, c["condition"]), column_name(run, c["reference"]),
                     pm(c["mean_difference"], c["sd_difference"]) if c["mean_difference"] is not None else "—",
                     f"[{100 * ci[0]:+.1f}, {100 * ci[1]:+.1f}]" if ci else UNDEFINED, _p(c["p_value"]), str(c["n"]),
                     f"{c['wins']}/{c['ties']}/{c['losses']}"])
    return header, rows


def kinematics_of(runs: list[dict[str, Any]]) -> str:
    """How the runs' conditioning signal is named in headers ("joint angles", "knee angle", "IMU"), from each run's
    dataset declaration (manifests written before kinds were declared hold joint angles)."""
    names = [kinematics_label((r.get("dataset") or {}).get("kinematics_kind", DEFAULT_KINEMATICS_KIND),
                              (r.get("dataset") or {}).get("kinematics_label")) for r in runs]
    return ", ".join(dict.fromkeys(names)) or "kinematics"


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
    """Table 2 per run (with the augmentation peers, per-user accuracy and paired tests), Table 3 across runs, then the
    similarity table."""
    runs = results["runs"]
    if any(r.get("summary") for r in runs):
        console.print(f"Seeds: {resample_note(results['config'])}.")
    for r in runs:
        if r.get("summary"):
            n_seeds = len(results["config"]["seeds"])
            console.print(rich_table(f"Classification accuracy (%) — {r['protocol']} ({r['manifest']}), mean ± SD over "
                                     f"{n_seeds} seed(s), {r['counts']['test_windows']} real test windows",
                                     *table2_rows(r)))
            console.print(rich_table(f"Macro F1 (%) — {r['protocol']}", *table2_rows(r, "macro_f1")))
            if augment_rows(r)[1]:
                console.print(rich_table(f"Classic augmentation peers: accuracy (%) — {r['protocol']}, augmented real "
                                         "training windows used as the synthetic set", *augment_rows(r)))
            if per_user_rows(r)[1]:
                console.print(rich_table(f"Accuracy (%) per test user — {r['protocol']}, mean ± SD over seeds",
                                         *per_user_rows(r)))
            if r.get("comparisons"):
                console.print(rich_table(f"Paired comparisons — {r['protocol']}: condition minus reference over (test "
                                         "user, seed) pairs, Wilcoxon signed-rank (two-sided)", *comparison_rows(r)))
            if r.get("gap_closed"):
                console.print(rich_table(f"Gap closed — {r['protocol']}, {scarce_caption(r)}: (MR - RR-scarce) / "
                                         "(RR-full - RR-scarce); RR-full reads the pool's withheld EMG (reference "
                                         "only)", *gap_rows(r)))
            if heldout_rows(r)[1]:
                console.print(rich_table(f"Held-out gestures — {r['protocol']}: {heldout_note(r)}", *heldout_rows(r)))
    if any(r.get("classifier_average") for r in runs):
        console.print(rich_table("Accuracy (%) by split protocol, average over classifiers, mean ± SD over seeds",
                                 *table3_rows(runs)))
    if any(r.get("similarity") for r in runs):
        sim_runs = [r for r in runs if r.get("similarity")]
        console.print(rich_table(f"Similarity, synthetic vs real windows with the same conditioning kinematics "
                                 f"({kinematics_of(sim_runs)}; mean ± SD over pairs)", *similarity_rows(runs)))


def scarce_caption(run: dict[str, Any]) -> str:
    """'EMG fraction 0.333 (early, per session: reps01-02), clip 2 s' for a scarce run."""
    sc = run.get("scarce") or {}
    if not sc:
        return ""
    kept = sorted({", ".join(v) for v in sc.get("kept_sessions", {}).values()})
    text = f"EMG fraction {sc['emg_fraction']:.3g} ({sc['emg_select']}, per {sc['emg_unit']}"
    text += f": {'; '.join(kept[:3])}" if kept else ""
    return text + ")" + (f", clip {sc['clip_s']:g} s" if sc.get("clip_s") else "")
