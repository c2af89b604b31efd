"""Scarce-EMG chain (issue 13, issue 19): how much of the accuracy that full EMG would give does synthetic EMG from
kinematics-only recordings buy back?

    python pipelines/scarce.py --data ../shared/data/ninapro_db1 --protocol cross-session --fractions 1/3 \\
        --select early,interleaved --models ridge,ridge_user --classifiers svm,rf --features amplitude --seeds 3

For every EMG fraction F, selection rule and clip length C it
1. splits (`make_split(..., emg_fraction=F, emg_select=rule, clip_s=C)`): each user keeps the EMG of a fraction of
   their training sessions (or recordings); the rest is the kinematics pool (angles only, plus a C-second clip per
   withheld session when C > 0);
2. benchmarks the real data once: RR-scarce (train [+ clip]) and RR-full (RR-scarce's windows + the pool's withheld
   real EMG: the upper reference), plus every classic augmentation of the scarce real windows (GR:<aug>, MR:<aug>);
3. per generator (`name@key=value;...` specs): trains it on the scarce train split, synthesizes one window per pool
   window from the pool's angles (`synthesize_set(..., split="kinematics_pool")`) and benchmarks GR and MR;
4. writes the oracle (the pool's REAL EMG as a synthetic set, `oracle_real=True`: the ceiling, a sanctioned read)
   and benchmarks it like a generator;
5. reports gap closed = (MR - RR-scarce) / (RR-full - RR-scarce) per classifier, pooled, as the mean over test users
   (95 % bootstrap CI over users) and per test user, with the Wilcoxon signed-rank p of MR vs RR-scarce over
   (test user, seed) cells, for every generator, the oracle and every augmentation; learning curves (accuracy vs F)
   go into report.html, tables into summary.md / summary.json.

MR mixes in as many synthetic windows as RR-full adds real pool windows (mix ratio = pool windows / scarce real
windows, per fraction), so the oracle's MR and RR-full train on the same amount of data; `--mix-ratio` overrides it.
Synthesis uses the benchmark's window stride, so the synthetic set has one window per real pool window.

Clips: RR-scarce trains on the clips. `--clip-style none` (default) synthesizes without them (each training user's
own learned style); `--clip-style person` passes `reference="clip"`, the person-level reference encoder applied to
each user's clips; `--clip-style recording` passes `clip="clip"`, each window styled and gain-matched on its own
recording's (or session's) clip, once synthesis offers it (refused with one line before).

Resumable: every output sits in a folder named after the manifest's content hash and is skipped when complete, so a
changed split never reuses stale models, sets or benchmarks.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import sys
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

ORACLE = "oracle"
REAL = "_real"  # the shared RR-scarce / RR-full / augmentation run of one manifest
# --clip-style: none = synthesize without the clips; person = reference="clip" (person-level style from each user's
# clips, person-conditioned models only); recording = clip="clip" (each window styled and gain-matched on its own
# recording's / session's clip, where synthesis offers it: synthesize_set(..., clip=...))
CLIP_STYLES = {"none": None, "person": "clip", "recording": "clip"}


def machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "torch_threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


def parse_fraction(text: str) -> float:
    """'0.25', '1/3' -> float in (0, 1]."""
    try:
        f = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError) as e:
        raise SystemExit(f"error: --fractions: {text!r} is not a number or a/b fraction") from e
    if not 0 < f <= 1:
        raise SystemExit(f"error: --fractions: {text} is not in (0, 1]")
    return f


def _dirname(spec: str) -> str:
    return spec.replace("@", "+").replace(";", "+")


def _splits_hash(m) -> str:
    return hashlib.sha256(json.dumps(m.splits, sort_keys=True).encode()).hexdigest()[:10]


def _tag(select: str, clip_s: float, fraction: float, unit: str = "auto", clip_style: str = "none") -> str:
    style = f"-{clip_style}" if clip_s > 0 and clip_style != "none" else ""
    return f"{select}{'' if unit == 'auto' else '-' + unit}/clip{clip_s:g}s{style}/f{fraction:.4g}"


def run_chain(a: argparse.Namespace, log=print) -> dict[str, Any]:
    """Run (or resume) every (selection, clip, fraction) cell and return the summary (also out/summary.json)."""
    from emgaug.benchmark.runner import run_benchmark
    from emgaug.data.manifest import KINEMATICS_POOL
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.synthesis.parquet_io import read_metadata
    from emgaug.training.trainer import train_model

    out: Path = a.out
    out.mkdir(parents=True, exist_ok=True)
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}
    summary: dict[str, Any] = {"data": str(a.data), "machine": machine(), "settings": settings, "timings_s": {},
                               "cells": {}}
    previous = out / "summary.json"
    if previous.is_file():  # cells of earlier invocations (other rules, units, clips) stay in the summary
        old = json.loads(previous.read_text())
        if old.get("data") == summary["data"] and old.get("settings", {}).get("protocol") == a.protocol:
            summary["cells"].update(old.get("cells", {}))
            summary["timings_s"].update(old.get("timings_s", {}))
    timings = summary["timings_s"]
    source = open_source(a.data, a.kind, **a.source_options)
    bench_kw = dict(classifiers=a.classifiers, seeds=a.seeds, features=a.features, metrics=False,
                    max_train_windows=a.max_train_windows, max_test_windows=a.max_test_windows, window_s=a.window_s,
                    stride_s=a.stride_s, show_progress=False)

    def bench(bench_dir: Path, mpath: Path, synth: Path | None, conditions: tuple[str, ...], augment=(),
              mix_ratio: float = 1.0) -> dict[str, Any]:
        done = bench_dir / "results.json"
        if not done.is_file():
            run_benchmark([mpath], [synth] if synth is not None else [], conditions=conditions, augment=list(augment),
                          mix_ratio=mix_ratio, out=bench_dir, **bench_kw)
        return json.loads(done.read_text())["runs"][0]

    for select in a.select:
        for clip_s in a.clip_s:
            for fraction in a.fractions:
                tag = _tag(select, clip_s, fraction, a.emg_unit, a.clip_style)
                style = f"+clip-{a.clip_style}" if clip_s > 0 and a.clip_style != "none" else ""
                t = time.perf_counter()
                m = make_split(source, a.protocol, seed=a.split_seed, users=a.users, gap_s=a.gap_s,
                               emg_fraction=fraction, emg_select=select, emg_unit=a.emg_unit,
                               clip_s=clip_s if clip_s > 0 else None,
                               use_metadata_columns=not a.no_metadata_columns)
                h = _splits_hash(m)
                name = f"{select}_{m.params['emg_unit']}_clip{clip_s:g}s_f{fraction:.4g}_{h}"
                mpath = out / "manifests" / f"{a.protocol}_{name}.json"
                if not mpath.is_file():
                    m.save(mpath)
                timings[f"{tag}/split"] = round(time.perf_counter() - t, 2)
                cell_dir = out / "cells" / name
                has_pool = bool(m.splits.get(KINEMATICS_POOL))
                cell: dict[str, Any] = {"select": select, "unit": m.params["emg_unit"], "clip_s": clip_s,
                                        "clip_style": a.clip_style if clip_s > 0 else None,
                                        "fraction": fraction, "settings": {k: settings[k] for k in (
                                            "classifiers", "features", "seeds", "augment", "models", "clip_style",
                                            "window_s", "stride_s", "epochs", "profile")},
                                        "manifest": str(mpath), "counts": m.counts,
                                        "emg_selection": m.params.get("emg_selection"), "runs": {}}
                summary["cells"][tag] = cell
                t = time.perf_counter()
                log(f"[{tag}] real-data benchmark (RR-scarce{', RR-full' if has_pool else ''}"
                    f"{', augmentations' if a.augment else ''})")
                real = bench(cell_dir / "benchmark" / REAL, mpath, None,
                             ("RR", "RR-full", "GR", "MR") if has_pool else ("RR", "GR", "MR"), a.augment)
                timings[f"{tag}/benchmark_real"] = round(time.perf_counter() - t, 2)
                cell["runs"][REAL] = _condense(real)
                if not has_pool:  # all EMG kept: RR-scarce is RR-full, nothing to synthesize
                    _write(out, summary)
                    continue
                n_real, n_pool = real["counts"]["train_windows"], real["counts"]["withheld_windows"]
                mix = a.mix_ratio if a.mix_ratio is not None else n_pool / max(1, n_real)
                cell["mix_ratio"] = mix
                sources = [(spec, spec) for spec in a.models] + ([(ORACLE, None)] if a.oracle else [])
                for name, spec in sources:
                    key = f"{tag}/{name}"
                    synth_dir = cell_dir / "synthetic" / (_dirname(name) + (style if spec is not None else ""))
                    t = time.perf_counter()
                    if spec is not None:
                        model, overrides = parse_model_spec(spec)
                        log(f"[{key}] train")
                        ckpt = train_model(mpath, model, cell_dir / "models" / _dirname(spec), epochs=a.epochs,
                                           profile=a.profile, seed=0, resume=True, quiet=True,
                                           window_cfg=WindowConfig(window_s=a.window_s, stride_s=a.train_stride_s,
                                                                   angle_rate_hz=a.angle_rate_hz),
                                           max_train_windows=a.max_train_windows, model_overrides=overrides)
                        timings[f"{key}/train"] = round(time.perf_counter() - t, 2)
                    t = time.perf_counter()
                    if not (synth_dir.is_dir() and _complete_set(synth_dir, read_metadata)):
                        log(f"[{key}] synthesize from {KINEMATICS_POOL}")
                        if spec is None:  # the oracle: the pool's real EMG, labelled oracle in its metadata
                            synthesize_set(None, synth_dir, manifest=mpath, split=KINEMATICS_POOL, oracle_real=True,
                                           window_s=a.window_s, stride_s=a.stride_s, overwrite=True)
                        else:
                            synthesize_set(ckpt, synth_dir, manifest=mpath, split=KINEMATICS_POOL, seed=0,
                                           device="cpu", stride_s=a.stride_s, overwrite=True,
                                           **_clip_kwargs(ckpt, a.clip_style, clip_s))
                    timings[f"{key}/synthesize"] = round(time.perf_counter() - t, 2)
                    t = time.perf_counter()
                    log(f"[{key}] benchmark GR, MR")
                    run = bench(cell_dir / "benchmark" / synth_dir.name, mpath, synth_dir, ("GR", "MR"), mix_ratio=mix)
                    timings[f"{key}/benchmark"] = round(time.perf_counter() - t, 2)
                    cell["runs"][name] = _condense(run)
                    cell["runs"][name]["gap_closed"] = _gaps(real, run)
                    _write(out, summary)
                cell["runs"][REAL]["gap_closed"] = _gaps(real, None)
                _write(out, summary)
    _write(out, summary, final=True)
    return summary


def _clip_kwargs(ckpt: Path, clip_style: str, clip_s: float) -> dict[str, Any]:
    """What synthesis takes from the clips (see CLIP_STYLES): nothing without clips or with --clip-style none."""
    if clip_s <= 0 or clip_style == "none":
        return {}
    if clip_style == "recording":
        import inspect

        from emgaug.synthesis.generate import synthesize_set

        if "clip" not in inspect.signature(synthesize_set).parameters:
            raise SystemExit("error: --clip-style recording needs synthesize_set(..., clip=...) (per-recording clip "
                             "styles), which this emgaug does not have yet; use --clip-style none or person")
        return {"clip": CLIP_STYLES[clip_style]}
    from emgaug.training.checkpoint import load_generator

    # a model without person conditioning takes no reference split
    return {"reference": CLIP_STYLES[clip_style]} if load_generator(ckpt, "cpu").model.person_conditioned else {}


def _complete_set(path: Path, read_metadata) -> bool:
    try:
        read_metadata(path)
        return True
    except Exception:  # noqa: BLE001 - an unreadable or half-written set is made again
        return False


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'name' or 'name@key=value;key=value' (model options, as `emgaug train --set`) -> (name, overrides)."""
    from emgaug.commands.train import parse_model_options

    name, _, opts = spec.partition("@")
    return name, parse_model_options([p for p in opts.split(";") if p])


def _gaps(real: dict[str, Any], run: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Gap closed of the MR rows of `run` (a generator's or the oracle's set), or of the augmentations' MR rows in the
    real run when `run` is None, against the real run's RR-scarce and RR-full (same test windows and seeds)."""
    from emgaug.benchmark.scarce import gap_closed

    base = [r for r in real.get("results", []) if r["condition"] in ("RR", "RR-full")]
    if run is None:
        return gap_closed(real.get("results", []))
    return gap_closed(base + [r for r in run.get("results", []) if r["condition"] == "MR"])


def _condense(run: dict[str, Any]) -> dict[str, Any]:
    return {"summary": [{k: s[k] for k in ("classifier", "condition", "accuracy_mean", "accuracy_sd", "per_user",
                                             "user_accuracy_mean", "user_accuracy_ci95") if k in s}
                        for s in run.get("summary", [])],
            "counts": run.get("counts"), "scarce": run.get("scarce"), "synthetic": run.get("synthetic"),
            "synthetic_metadata": run.get("synthetic_metadata")}


def _pct(v: float | None, digits: int = 0) -> str:
    return "undefined" if v is None else f"{100 * v:.{digits}f} %"


def _p(p: float | None) -> str:
    return "undefined" if p is None else (f"{p:.3f}" if p >= 1e-3 else f"{p:.1e}")


def _acc(s: dict[str, Any] | None) -> str:
    if s is None:
        return "-"
    sd = "undefined" if s["accuracy_sd"] is None else f"{100 * s['accuracy_sd']:.1f}"
    return f"{100 * s['accuracy_mean']:.1f} ± {sd}"


def _rows_of(cell: dict[str, Any], classifiers: list[str]):
    """(label, {clf: summary entry}, {clf: gap entry}) for each row of a cell's table, in table order."""
    real = cell["runs"][REAL]
    by = lambda run, cond: {s["classifier"]: s for s in run["summary"] if s["condition"] == cond}  # noqa: E731
    gaps = lambda run, cond: {g["classifier"]: g for g in run.get("gap_closed", []) if g["condition"] == cond}  # noqa: E731
    yield "RR-scarce (real EMG that exists)", by(real, "RR"), {}
    yield "RR-full (+ the pool's real EMG: upper reference)", by(real, "RR-full"), {}
    for name, run in cell["runs"].items():
        if name == REAL:
            continue
        label = "oracle (the pool's real EMG as a synthetic set)" if name == ORACLE else name
        yield f"GR {label}", by(run, "GR"), {}
        yield f"MR {label}", by(run, "MR"), gaps(run, "MR")
    for cond in dict.fromkeys(s["condition"] for s in real["summary"]):
        if ":" in cond:
            yield f"{cond} (augmented scarce real windows)", by(real, cond), gaps(real, cond) if cond.startswith("MR") else {}


def markdown(summary: dict[str, Any]) -> str:
    s = summary["settings"]
    clfs = s["classifiers"]
    lines = [f"Data: `{summary['data']}`, protocol {s['protocol']}; machine: {summary['machine']}",
             f"Settings: {json.dumps({k: v for k, v in s.items() if k != 'out'})}", "",
             "gap closed = (MR - RR-scarce) / (RR-full - RR-scarce). Cells: accuracy % (mean ± SD over seeds, pooled "
             "test windows); gap: pooled / mean over test users [95 % bootstrap CI over users]; p: Wilcoxon "
             "signed-rank of MR vs RR-scarce over (test user, seed) cells.", ""]
    for tag, cell in summary["cells"].items():
        kept = sorted({", ".join(v["kept_sessions"]) for v in (cell.get("emg_selection") or {}).get("per_user", {})
                       .values() if "kept_sessions" in v})
        lines += [f"### {tag}: EMG fraction {cell['fraction']:.3g}, selection {cell['select']} per "
                  f"{cell.get('unit', 'session')}, clip {cell['clip_s']:g} s"
                  + (f" (synthesis clip style: {cell['clip_style']})" if cell.get("clip_style") else "")
                  + (f" (EMG kept: {'; '.join(kept)})" if kept else ""), ""]
        if "mix_ratio" in cell:
            lines += [f"MR mix ratio {cell['mix_ratio']:.3g} (pool windows / scarce real windows).", ""]
        head = ["row"] + [f"{c} {x}" for c in clfs for x in ("acc %", "gap closed", "p MR vs RR-scarce")]
        lines += ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
        users: list[str] = []
        per_user_lines = []
        for label, accs, gaps in _rows_of(cell, clfs):
            if not accs:
                continue
            cells = [label]
            for c in clfs:
                g = gaps.get(c)
                cells.append(_acc(accs.get(c)))
                if g:
                    ci = g["user_mean_ci95"]
                    cells.append(f"{_pct(g['pooled'])} / {_pct(g['user_mean'])}"
                                 + (f" [{100 * ci[0]:.0f}, {100 * ci[1]:.0f}]" if ci else ""))
                    cells.append(_p(g["mr_vs_rr_scarce"]["p_value"]))
                    users = users or list(g["per_user"])
                    per_user_lines.append((f"{label} ({c})", g["per_user"]))
                else:
                    cells += ["", ""]
            lines.append("| " + " | ".join(cells) + " |")
        full = {g["classifier"]: g for r in cell["runs"].values() for g in r.get("gap_closed", [])}
        if full:
            lines += ["", "RR-full minus RR-scarce (the gap), Wilcoxon p: " + ", ".join(
                f"{c} {100 * (g['rr_full'] - g['rr_scarce']):+.1f} points, p {_p(g['rr_full_vs_rr_scarce']['p_value'])}"
                for c, g in full.items())]
        if per_user_lines:
            lines += ["", "Gap closed per test user:", "", "| row | " + " | ".join(users) + " |",
                      "|---" * (len(users) + 1) + "|"]
            lines += ["| " + " | ".join([lab] + [_pct(pu.get(u)) for u in users]) + " |" for lab, pu in per_user_lines]
        lines.append("")
    lines += ["### Step timings (s)", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["timings_s"].items()]
    return "\n".join(lines) + "\n"


def html_report(summary: dict[str, Any]) -> str:
    """Learning curves (one figure per clip length set, lines per condition and generator) and the markdown tables."""
    import html

    from emgaug.benchmark.report import CSS, learning_curve_figure
    from emgaug.benchmark.scarce import curve_points

    points = []
    for cell in summary["cells"].values():
        sc = {"emg_fraction": cell["fraction"], "emg_select": f"{cell['select']} per {cell.get('unit', 'session')}",
              "clip_s": cell["clip_s"]}
        for name, run in cell["runs"].items():
            pts = curve_points(run["summary"], sc, label=None if name == REAL else name)
            # RR-scarce, RR-full, GR and MR of each generator and the oracle, MR of each augmentation
            points += [p for p in pts if not p["line"].startswith("GR:") and (name == REAL or p["line"][:2] in ("GR", "MR"))]
    parts = [f"<html><head><meta charset='utf-8'><title>emgaug scarce EMG</title><style>{CSS}</style></head><body>",
             "<h1>Scarce EMG: learning curves and gap closed</h1>",
             "<p>RR-scarce: the real EMG that exists (train [+ clip]); RR-full (dashed): plus the kinematics pool's "
             "real EMG (upper reference); GR/MR &lt;model&gt;: synthetic EMG from the pool's angles; oracle: the "
             "pool's real EMG written as a synthetic set; MR:&lt;aug&gt;: classic augmentation of the scarce real "
             "windows. Mean ± SD over seeds.</p>"]
    parts.append(learning_curve_figure(points))
    parts.append(f"<pre>{html.escape(markdown(summary))}</pre></body></html>")
    return "\n".join(parts)


def _write(out: Path, summary: dict[str, Any], final: bool = False) -> None:
    from emgaug.atomic import write_json_atomic

    write_json_atomic(out / "summary.json", summary)
    if final:
        (out / "summary.md").write_text(markdown(summary))
        (out / "report.html").write_text(html_report(summary))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/ninapro_db1"))
    ap.add_argument("--kind", default="auto", help="Dataset kind (auto-detected by default).")
    ap.add_argument("--source-option", action="append", default=[], help="KEY=VALUE for the reader, e.g. "
                    "reps_per_session=2 (repeatable).")
    ap.add_argument("--out", type=Path, default=Path("runs/scarce_db1"))
    ap.add_argument("--protocol", default="cross-session")
    ap.add_argument("--split-seed", type=int, default=0)
    ap.add_argument("--no-metadata-columns", action="store_true", help="Ignore emg2pose held_out_* columns.")
    ap.add_argument("--users", default=None, help="Comma list of users for a reduced run.")
    ap.add_argument("--gap-s", type=float, default=1.0, help="Gap after each clip (and sample-wise blocks).")
    ap.add_argument("--fractions", default="1/3", help="Comma list of EMG fractions in (0, 1], e.g. 0.1,0.25,1/3,0.5,1.")
    ap.add_argument("--select", default="early,interleaved", help="Comma list of selection rules: early, interleaved, "
                    "random.")
    ap.add_argument("--emg-unit", default="auto", choices=("auto", "session", "recording"), help="What a "
                    "fraction counts: sessions (repetition groups) or each user's recordings of each gesture.")
    ap.add_argument("--clip-s", default="0", help="Comma list of clip lengths C in seconds (0 = no clip).")
    ap.add_argument("--clip-style", default="none", choices=sorted(CLIP_STYLES), help="none: synthesize without the "
                    "clips; person: reference='clip' (person-level style from each user's clips); recording: each "
                    "window styled and gain-matched on its own recording's clip (needs synthesis with clip=).")
    ap.add_argument("--models", default="ridge,ridge_user", help="Comma list of generators, each optionally "
                    "name@key=value;key=value (e.g. seqemg_gan@mismatch_weight=1.0;feature_loss_weight=1.0).")
    ap.add_argument("--no-oracle", dest="oracle", action="store_false", help="Skip the oracle (the pool's real EMG).")
    ap.add_argument("--augment", default="noise,magwarp,timewarp,crop,gain,mixup", help="Classic augmentations "
                    "('none' for none), as emgaug benchmark --augment.")
    ap.add_argument("--classifiers", default="svm,rf")
    ap.add_argument("--features", default="amplitude")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--mix-ratio", type=float, default=None, help="MR synthetic windows per real window (default: "
                    "pool windows / scarce real windows).")
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--window-s", type=float, default=1.0)
    ap.add_argument("--stride-s", type=float, default=0.5, help="Benchmark window stride, also the synthesis stride.")
    ap.add_argument("--train-stride-s", type=float, default=0.25)
    ap.add_argument("--angle-rate-hz", type=float, default=50.0)
    ap.add_argument("--max-train-windows", type=int, default=None)
    ap.add_argument("--max-test-windows", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads.")
    a = ap.parse_args(argv)
    import torch

    torch.set_num_threads(a.threads)
    from emgaug.benchmark.augment import parse_augment
    from emgaug.commands.train import parse_model_options

    a.fractions = [parse_fraction(f) for f in a.fractions.split(",") if f.strip()]
    a.select = [s.strip() for s in a.select.split(",") if s.strip()]
    a.clip_s = [float(c) for c in a.clip_s.split(",") if c.strip()]
    a.models = [m.strip() for m in a.models.split(",") if m.strip() and m.strip().lower() != "none"]
    a.augment = [s.spec for s in parse_augment(a.augment)]
    a.classifiers = [c.strip() for c in a.classifiers.split(",") if c.strip()]
    a.users = a.users.split(",") if a.users else None
    a.source_options = parse_model_options(a.source_option, flag="--source-option")
    t0 = time.perf_counter()
    summary = run_chain(a)
    print((a.out / "summary.md").read_text())
    print(f"total {time.perf_counter() - t0:.0f} s; {len(summary['cells'])} cells")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
