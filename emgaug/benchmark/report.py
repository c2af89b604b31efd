"""Self-contained HTML report: accuracy tables (paper Tables 2 and 3), per-class accuracy, similarity metrics,
and the plots a reviewer asks for first (real vs synthetic traces at the same angles, envelopes, PSDs)."""

from __future__ import annotations

import base64
import html
import io
import json
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from emgaug.benchmark.tables import (augment_rows, comparison_rows, gap_rows, heldout_note,  # noqa: E402
                                    heldout_rows, kinematics_of, per_user_rows, resample_note, scarce_caption,
                                    similarity_rows, table2_rows, table3_rows)
from emgaug.metrics.paired import ENVELOPE_S, envelope  # noqa: E402

MAX_TRACE_CHANNELS = 4
COLORS = {"RR": "#4c72b0", "GR": "#dd8452", "MR": "#55a868", "real": "#222222", "synth": "#d62728"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _table(header: list[str], rows: list[list[str]]) -> str:
    h = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><thead><tr>{h}</tr></thead><tbody>{body}</tbody></table>"


def traces_figure(ex: dict[str, Any], fs: float, kinematics: str = "kinematics") -> str:
    real, synth = ex["real"], ex["synth"]
    k, c = len(real), min(MAX_TRACE_CHANNELS, real.shape[1])
    t = np.arange(real.shape[2]) / fs
    fig, axes = plt.subplots(c, k, figsize=(4.2 * k, 1.6 * c), squeeze=False, sharex=True)
    for j in range(k):
        for ch in range(c):
            ax = axes[ch, j]
            ax.plot(t, real[j, ch], color=COLORS["real"], lw=0.6, label="real")
            ax.plot(t, synth[j, ch], color=COLORS["synth"], lw=0.6, alpha=0.75, label="synthetic")
            ax.set_ylabel(f"ch {ch}", fontsize=8)
            ax.tick_params(labelsize=7)
        axes[0, j].set_title(ex["titles"][j], fontsize=8)
        axes[-1, j].set_xlabel("s", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.suptitle(f"Raw EMG, real vs synthetic for the same {kinematics} window", fontsize=10)
    return _png(fig)


def envelopes_figure(ex: dict[str, Any], fs: float) -> str:
    real, synth = ex["real"].astype(np.float64), ex["synth"].astype(np.float64)
    k, c = len(real), min(MAX_TRACE_CHANNELS, real.shape[1])
    er, es = envelope(real, fs), envelope(synth, fs)
    t = (np.arange(er.shape[2]) + (real.shape[2] - er.shape[2]) / 2) / fs
    fig, axes = plt.subplots(1, k, figsize=(4.2 * k, 2.6), squeeze=False)
    for j in range(k):
        ax = axes[0, j]
        for ch in range(c):
            ax.plot(t, er[j, ch], color=plt.cm.tab10(ch), lw=1.0)
            ax.plot(t, es[j, ch], color=plt.cm.tab10(ch), lw=1.0, ls="--")
        ax.set_title(ex["titles"][j], fontsize=8)
        ax.set_xlabel("s", fontsize=8)
        ax.tick_params(labelsize=7)
    fig.suptitle(f"Envelopes (moving average of |x|, {ENVELOPE_S * 1000:.0f} ms): solid real, dashed synthetic, "
                 f"first {c} channels", fontsize=10, y=1.06)
    return _png(fig)


def psd_figure(psd: dict[str, Any]) -> str:
    fig, ax = plt.subplots(figsize=(6, 3.2))
    f = psd["freqs"]
    ax.semilogy(f[1:], psd["real"][1:], color=COLORS["real"], label="real")
    ax.semilogy(f[1:], psd["synth"][1:], color=COLORS["synth"], label="synthetic")
    ax.set_xlabel("Hz")
    ax.set_ylabel("PSD (raw units²/Hz)")
    ax.set_title("Welch PSD, mean over paired windows and channels", fontsize=10)
    ax.legend()
    return _png(fig)


def metric_hist_figure(per_pair: dict[str, np.ndarray]) -> str:
    names = [n for n in ("dtw", "fft_mse", "eecc", "psd_log_distance_db") if n in per_pair]
    fig, axes = plt.subplots(1, len(names), figsize=(3.3 * len(names), 2.6), squeeze=False)
    for ax, n in zip(axes[0], names):
        v = per_pair[n][np.isfinite(per_pair[n])]
        ax.hist(v, bins=30, color="#777777")
        ax.set_title(n, fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Per-pair distribution of the similarity metrics", fontsize=10)
    return _png(fig)


def accuracy_figure(run: dict[str, Any]) -> str:
    summ = run["summary"]
    clfs = list(dict.fromkeys(s["classifier"] for s in summ))
    conds = list(dict.fromkeys(s["condition"] for s in summ))
    fig, ax = plt.subplots(figsize=(1.6 + 1.4 * len(clfs), 3.2))
    w = 0.8 / len(conds)
    for i, c in enumerate(conds):
        by = {s["classifier"]: s for s in summ if s["condition"] == c}
        x = np.arange(len(clfs)) + (i - (len(conds) - 1) / 2) * w
        sd = [by[k]["accuracy_sd"] if k in by and by[k]["accuracy_sd"] is not None else np.nan for k in clfs]
        ax.bar(x, [100 * by[k]["accuracy_mean"] if k in by else np.nan for k in clfs], w,
               yerr=[100 * v for v in sd], color=COLORS.get(c), label=c, capsize=3)
    ax.set_xticks(np.arange(len(clfs)), clfs)
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.legend(fontsize=8, ncol=max(1, len(conds) // 6))
    ax.set_title(f"{run['protocol']}: accuracy on real test windows (mean ± SD over seeds; no bar: SD undefined)",
                 fontsize=10)
    return _png(fig)


def learning_curve_figure(points: list[dict[str, Any]], title: str = "") -> str:
    """Accuracy vs EMG fraction: one panel per (selection rule, classifier) that has two or more fractions (rows:
    selection rules, columns: classifiers), one colour per condition line, one line style per clip length C, mean ±
    SD over seeds as a band (none where the SD is undefined); one legend for the figure. '' when no panel has two
    fractions."""
    sels = [sel for sel in dict.fromkeys(p["select"] for p in points)
            if len({p["fraction"] for p in points if p["select"] == sel}) >= 2]
    clfs = list(dict.fromkeys(p["classifier"] for p in points if p["select"] in sels))
    if not sels:
        return ""
    names = list(dict.fromkeys(p["line"] for p in points if p["select"] in sels))
    clips = sorted({p["clip_s"] for p in points if p["select"] in sels})
    color = {n: plt.cm.tab20(k % 20) for k, n in enumerate(names)}
    style = {c: ("-", "--", ":", "-.")[k % 4] for k, c in enumerate(clips)}
    fig, axes = plt.subplots(len(sels), len(clfs), figsize=(4.6 * len(clfs), 3.4 * len(sels)), squeeze=False,
                             sharey=True)
    for i, sel in enumerate(sels):
        for j, clf in enumerate(clfs):
            ax = axes[i, j]
            pts = [p for p in points if p["select"] == sel and p["classifier"] == clf]
            for line, clip in dict.fromkeys((p["line"], p["clip_s"]) for p in pts):
                lp = sorted((p for p in pts if p["line"] == line and p["clip_s"] == clip), key=lambda p: p["fraction"])
                x = np.array([p["fraction"] for p in lp])
                y = np.array([100 * p["mean"] for p in lp])
                sd = np.array([100 * p["sd"] if p["sd"] is not None else np.nan for p in lp])
                lw = 2.2 if line.startswith("RR") else 1.2
                ax.plot(x, y, style[clip], marker="o", ms=3, lw=lw, color=color[line])
                if np.isfinite(sd).any():
                    ax.fill_between(x, y - np.nan_to_num(sd), y + np.nan_to_num(sd), color=color[line], alpha=0.12)
            ax.set_title(f"{clf}, selection {sel}", fontsize=9)
            ax.set_xlabel("fraction of training EMG kept", fontsize=8)
            ax.set_ylabel("accuracy (%)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
    handles = [plt.Line2D([], [], color=color[n], lw=2.2 if n.startswith("RR") else 1.2, label=n) for n in names]
    if len(clips) > 1:
        handles += [plt.Line2D([], [], color="black", ls=style[c], label=f"clip {c:g} s") for c in clips]
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=7, frameon=False)
    fig.suptitle(title or "Learning curves: accuracy on the real test split vs EMG fraction (mean ± SD over seeds)",
                 fontsize=10)
    fig.tight_layout()
    return _png(fig)


def per_class_figure(run: dict[str, Any]) -> str:
    summ = run["summary"]
    classes = list(summ[0]["per_class_accuracy_mean"])
    labels = [f"{s['classifier']} {s['condition']}" for s in summ]
    mat = np.array([[s["per_class_accuracy_mean"].get(c, np.nan) for c in classes] for s in summ])
    fig, ax = plt.subplots(figsize=(1.2 + 0.7 * len(classes), 0.8 + 0.32 * len(labels)))
    im = ax.imshow(100 * mat, vmin=0, vmax=100, cmap="viridis", aspect="auto")
    ax.set_xticks(np.arange(len(classes)), classes, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=8)
    for i in range(mat.shape[0]):
        for j in range(mat.shape[1]):
            ax.text(j, i, f"{100 * mat[i, j]:.0f}", ha="center", va="center", fontsize=7,
                    color="white" if mat[i, j] < 0.6 else "black")
    fig.colorbar(im, ax=ax, label="accuracy (%)")
    ax.set_title("Per-class accuracy (mean over seeds)", fontsize=10)
    return _png(fig)


CSS = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1400px;color:#222}
table{border-collapse:collapse;margin:0.8em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right;font-size:13px}
td:first-child,th:first-child{text-align:left}th{background:#f2f2f2}img{max-width:100%;margin:0.5em 0}
pre{background:#f7f7f7;padding:0.8em;font-size:12px;overflow-x:auto}.warn{color:#a00}"""


def render_html(results: dict[str, Any], plots: list[dict[str, Any]]) -> str:
    """The whole report as one HTML string (PNG figures inlined as base64)."""
    cfg = results["config"]
    parts = [f"<html><head><meta charset='utf-8'><title>emgaug benchmark</title><style>{CSS}</style></head><body>",
             "<h1>emgaug benchmark</h1>",
             f"<p>code {html.escape(results['code_version'])}, created {html.escape(results['created_utc'])}; "
             f"classifiers {', '.join(cfg['classifiers']) or 'none'}, {len(cfg['seeds'])} seed(s), features "
             f"{cfg['features']}, MR mix ratio {cfg['mix_ratio']}, device {cfg['device']}. Test data is always the "
             f"real held-out split; {html.escape(resample_note(cfg))}.</p>"]
    if results.get("augmentations"):
        parts += ["<h2>Classic augmentation peers</h2><p>Augmented copies of each seed's real training windows, used "
                  "in place of the synthetic set (GR:&lt;name&gt;) or added to the real windows (MR:&lt;name&gt;).</p>",
                  _table(["name", "parameters", "what"],
                         [[a["name"], json.dumps(a["params"]), a["reference"]] for a in results["augmentations"]])]
    runs = results["runs"]
    if any(r.get("classifier_average") for r in runs):
        parts += ["<h2>Accuracy by split protocol (Table 3 layout)</h2>", _table(*table3_rows(runs))]
    curve = sweep_points(runs)
    if curve and learning_curve_figure(curve):
        parts += ["<h2>Scarce EMG: learning curves</h2><p>One manifest per EMG fraction (<code>emgaug split "
                  "--emg-fraction F</code>); RR-scarce trains on the real EMG that exists, RR-full (dashed) also on "
                  "the kinematics pool's withheld EMG (upper reference), GR/MR on synthetic EMG from the pool's "
                  "angles.</p>", learning_curve_figure(curve)]
    if any(r.get("similarity") for r in runs):
        what = html.escape(kinematics_of([r for r in runs if r.get("similarity")]))
        parts += [f"<h2>Similarity metrics</h2><p>Synthetic windows against the real windows of the same conditioning "
                  f"kinematics ({what}; same file and rows); definitions in docs/metrics.md.</p>",
                  _table(*similarity_rows(runs))]
    for run, plot in zip(runs, plots):
        parts.append(f"<h2>{html.escape(run['protocol'])}: {html.escape(run['manifest'])}</h2>")
        if run.get("withheld_read"):
            parts.append(f"<p class='warn'>RR-full read {run['withheld_read']['windows']} windows of the kinematics "
                         f"pool's withheld EMG: {html.escape(run['withheld_read']['note'])}.</p>")
        if run.get("oracle"):
            parts.append(f"<p class='warn'>{html.escape(run['oracle']['note'])}; source split "
                         f"{html.escape(str(run['oracle']['source_split']))}.</p>")
        leak = run.get("leakage_check")
        if leak:
            cls = "warn" if leak["problems"] else ""
            parts.append(f"<p class='{cls}'>Synthetic set {html.escape(str(run['synthetic']))}: "
                         f"{leak['windows']} windows, source split {html.escape(str(leak['source_split']))}, "
                         f"{leak['windows_overlapping_test']} overlapping the test split"
                         + (f"; problems: {html.escape('; '.join(leak['problems']))}" if leak["problems"] else "") + "</p>")
        if run.get("summary"):
            parts += ["<h3>Classification accuracy (%) (Table 2 layout)</h3>", _table(*table2_rows(run)),
                      "<h3>Macro F1 (%)</h3>", _table(*table2_rows(run, "macro_f1"))]
            if augment_rows(run)[1]:
                parts += ["<h3>Classic augmentation peers: accuracy (%)</h3>", _table(*augment_rows(run))]
            if run.get("new_person") and per_user_rows(run)[1]:
                ref = run["new_person"].get("reference_split")
                parts.append("<p>New person: the test users' first seconds per stage are the calibration split. RR "
                             "trains on the other people plus that calibration; GR/MR use the synthetic set"
                             + (f", styled on each test user's {html.escape(str(ref))} clip" if ref else
                                " (not styled on the calibration: synthesize with --reference calibration for that)")
                             + ". Results per test user below.</p>")
            if per_user_rows(run)[1]:
                parts += ["<h3>Accuracy (%) per test user</h3><p>Mean ± SD over seeds per user; the users × seeds "
                          "column takes every (user, seed) accuracy as one cell (each user weighs the same) with a 95 % "
                          "percentile-bootstrap CI; pooled = over all test windows.</p>", _table(*per_user_rows(run))]
            if run.get("comparisons"):
                parts += ["<h3>Paired comparisons</h3><p>Condition minus reference, paired by (test user, seed); "
                          "Wilcoxon signed-rank test (two-sided, zero differences dropped), 95 % bootstrap CI of the "
                          "mean difference.</p>", _table(*comparison_rows(run))]
            if run.get("gap_closed"):
                parts += [f"<h3>Scarce EMG: gap closed ({html.escape(scarce_caption(run))})</h3><p>gap closed = (MR - "
                          "RR-scarce) / (RR-full - RR-scarce): 0 = no better than the scarce real EMG, 100 % = as good "
                          "as the pool's real EMG. RR-scarce: train [+ clip] [+ calibration]; RR-full: the same plus "
                          "the kinematics pool's withheld real EMG (the upper reference, the only benchmark read of "
                          "it); MR:&lt;aug&gt; augments the scarce real windows. User mean: each test user weighs the "
                          "same, 95 % bootstrap CI over users; p: Wilcoxon signed-rank over (test user, seed) cells. "
                          "Undefined where RR-full is not above RR-scarce.</p>", _table(*gap_rows(run))]
            if heldout_rows(run)[1]:
                parts += [f"<h3>Held-out gestures</h3><p>{html.escape(heldout_note(run))}</p>",
                          _table(*heldout_rows(run))]
            parts += [accuracy_figure(run), per_class_figure(run)]
        if run.get("similarity"):
            sim = run["similarity"]
            parts.append(f"<h3>Similarity</h3><p>{sim['pairs']} pairs, real windows from split(s): "
                         f"{html.escape(json.dumps(sim['paired_split_counts']))}; settings "
                         f"<code>{html.escape(json.dumps(sim['settings']))}</code>; {sim['seconds']:.1f} s.</p>")
            fs = plot.get("sample_rate", 1.0)
            if plot.get("examples") is not None:
                parts += [traces_figure(plot["examples"], fs, kinematics_of([run])), envelopes_figure(plot["examples"], fs)]
            if plot.get("psd") is not None:
                parts.append(psd_figure(plot["psd"]))
            if plot.get("per_pair"):
                parts.append(metric_hist_figure(plot["per_pair"]))
    parts.append(f"<h2>Configuration</h2><pre>{html.escape(json.dumps(cfg, indent=2))}</pre>")
    parts.append(f"<p>Command: <code>{html.escape(results['command'])}</code></p></body></html>")
    return "\n".join(parts)


def sweep_points(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Learning-curve points of the scarce runs of one benchmark, when they span at least two EMG fractions."""
    from emgaug.benchmark.scarce import curve_points

    scarce = [r for r in runs if r.get("scarce") and r.get("summary")]
    if len({r["scarce"]["emg_fraction"] for r in scarce}) < 2:
        return []
    return [p for r in scarce for p in curve_points(r["summary"], r["scarce"])]
