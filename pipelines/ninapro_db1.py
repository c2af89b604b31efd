"""Ninapro DB1 chain: split -> train every generator -> synthesize -> benchmark, then one summary of it all.

    python pipelines/ninapro_db1.py --data ../shared/data/ninapro_db1 --out runs/ninapro_db1

For each protocol (cross-subject, cross-session by repetition group) it trains SeqEMG-GAN, its four ablations,
the peers and the ridge baseline on the training split, synthesizes one set per model from the training
angles, and benchmarks each set (similarity to the real windows of the same angles, and RR / GR / MR accuracy
over several seeds). Everything is resumable: finished steps are skipped when their outputs exist.
`summary.md` / `summary.json` in --out hold the tables the README quotes, with the machine and step timings.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

MODELS = ("seqemg_gan", "seqemg_gan@feature_loss_weight=1.0", "seqemg_gan@mismatch_weight=1.0;feature_loss_weight=1.0",
          "seqemg_gan_no_angle_encoder", "seqemg_gan_no_gru", "seqemg_gan_no_ang2gist",
          "seqemg_gan_no_discriminator", "gan", "dcgan", "styletransfer_dcgan", "transformer_seq2seq", "wavenet", "ridge")
PROTOCOLS = ("cross-subject", "cross-session")
SIM_METRICS = ("eecc", "fft_mse", "dtw", "psd_log_distance_db", "median_freq_error_hz", "kurtosis_difference",
               "channel_corr_distance", "discriminative_score", "trts_accuracy")


def machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


DEEP = ("tds_rnn", "neuropose")
REAL_ONLY = "_real_only"  # benchmark_deep/<protocol>/_real_only: the deep decoders' shared RR run


def run_chain(data: Path, out: Path, models: list[str], protocols: list[str], epochs: int, seeds: int,
              classifiers: list[str], window_s: float, train_stride_s: float, max_train_windows: int | None,
              max_test_windows: int | None, users: list[str] | None, profile: str,
              deep_models: list[str] | None = None, log=print) -> dict[str, Any]:
    """Run (or resume) the whole chain and return the summary dict (also written to out/summary.json).

    `deep_models`: models whose sets also go through the deep decoders (None = all); the others get SVM/RF only.
    Deep decoders run after every model's SVM/RF benchmark, with one shared real-only (RR) run per protocol."""
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.training.trainer import train_model

    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"data": str(data), "machine": machine(), "settings": {
        "models": models, "protocols": protocols, "epochs": epochs, "profile": profile, "seeds": seeds,
        "classifiers": classifiers, "window_s": window_s, "train_stride_s": train_stride_s,
        "max_train_windows": max_train_windows, "max_test_windows": max_test_windows, "users": users,
        "deep_models": deep_models},
        "timings_s": {}, "runs": {}}
    timings = summary["timings_s"]
    source = open_source(data, "ninapro_db1")
    for protocol in protocols:
        mpath = out / "manifests" / f"{protocol}.json"
        t = time.perf_counter()
        m = make_split(source, protocol, seed=0, users=users)
        if not mpath.is_file() or json.loads(mpath.read_text())["splits"] != m.splits:
            m.save(mpath)  # rewritten only when the split changed, so finished steps stay resumable
        timings[f"{protocol}/split"] = round(time.perf_counter() - t, 2)
        for spec in models:
            model, overrides = parse_model_spec(spec)
            key = f"{protocol}/{spec}"
            ck_dir, synth_dir, bench_dir = (out / part / protocol / _dirname(spec)
                                             for part in ("models", "synthetic", "benchmark"))
            t = time.perf_counter()
            log(f"[{key}] train")
            ckpt = train_model(mpath, model, ck_dir, epochs=epochs, profile=profile, seed=0, resume=True, quiet=True,
                               window_cfg=WindowConfig(window_s=window_s, stride_s=train_stride_s, angle_rate_hz=50.0),
                               max_train_windows=max_train_windows, model_overrides=overrides)
            timings[f"{key}/train"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            if not (synth_dir / "_emgaug_metadata.json").is_file():
                log(f"[{key}] synthesize")
                synthesize_set(ckpt, synth_dir, seed=0, device="auto", overwrite=True)
            timings[f"{key}/synthesize"] = round(time.perf_counter() - t, 2)
            t = time.perf_counter()
            shallow = [c for c in classifiers if c not in DEEP]
            _benchmark(bench_dir, mpath, synth_dir, shallow, seeds, max_train_windows, max_test_windows,
                       metrics=True, conditions=("RR", "GR", "MR"), log=lambda: log(f"[{key}] benchmark"))
            timings[f"{key}/benchmark"] = round(time.perf_counter() - t, 2)
            summary["runs"][key] = condense(json.loads((bench_dir / "results.json").read_text()), ck_dir / "history.json")
            (out / "summary.json").write_text(json.dumps(summary, indent=2))
        deep = [c for c in classifiers if c in DEEP]
        deep_specs = [spec for spec in models if deep_models is None or spec in deep_models]
        if deep and deep_specs:
            # RR does not depend on the synthetic set: train the deep decoders on real data once per protocol and
            # run only GR / MR per model (same seeds, caps and test windows, so the numbers are directly comparable)
            t = time.perf_counter()
            real_dir = out / "benchmark_deep" / protocol / REAL_ONLY
            _benchmark(real_dir, mpath, None, deep, seeds, max_train_windows, max_test_windows, metrics=False,
                       conditions=("RR",), log=lambda: log(f"[{protocol}] deep decoders, real only"), window_s=window_s)
            timings[f"{protocol}/benchmark_deep_rr"] = round(time.perf_counter() - t, 2)
            summary.setdefault("real_only_deep", {})[protocol] = condense(json.loads((real_dir / "results.json").read_text()),
                                                                          None)["accuracy"]
            for spec in deep_specs:
                key, name = f"{protocol}/{spec}", _dirname(spec)
                t = time.perf_counter()
                deep_dir = out / "benchmark_deep" / protocol / name
                _benchmark(deep_dir, mpath, out / "synthetic" / protocol / name, deep, seeds, max_train_windows,
                           max_test_windows, metrics=False, conditions=("GR", "MR"),
                           log=lambda: log(f"[{key}] deep decoders, GR and MR"))
                timings[f"{key}/benchmark_deep"] = round(time.perf_counter() - t, 2)
                acc = condense(json.loads((deep_dir / "results.json").read_text()), None)["accuracy"]
                summary["runs"][key]["accuracy"].update({k: v for k, v in acc.items() if not k.endswith("/RR")})
                (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def _dirname(spec: str) -> str:
    """Folder name of a model spec ('seqemg_gan@feature_loss_weight=1.0' -> 'seqemg_gan+feature_loss_weight=1.0')."""
    return spec.replace("@", "+").replace(";", "+")


def _benchmark(bench_dir: Path, mpath: Path, synth_dir: Path | None, classifiers: list[str], seeds: int,
               max_train: int | None, max_test: int | None, *, metrics: bool, conditions: tuple[str, ...], log,
               window_s: float | None = None) -> None:
    """Run one benchmark into bench_dir unless its results.json already exists (the chain is resumable)."""
    from emgaug.benchmark import run_benchmark

    if (bench_dir / "results.json").is_file():
        return
    log()
    run_benchmark([mpath], [synth_dir] if synth_dir is not None else [], classifiers=classifiers, seeds=seeds,
                  metrics=metrics, max_test_windows=max_test, max_train_windows=max_train, out=bench_dir,
                  show_progress=False, conditions=conditions, window_s=window_s)


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'name' or 'name@key=value;key=value' (model options, as `emgaug train --set`) -> (name, overrides)."""
    from emgaug.commands.train import parse_model_options

    name, _, opts = spec.partition("@")
    return name, parse_model_options([p for p in opts.split(";") if p])


def condense(results: dict[str, Any], history_path: Path | None) -> dict[str, Any]:
    """The numbers the summary tables need from one benchmark run."""
    run = results["runs"][0]
    sim = {k: v for k, v in run["similarity"]["metrics"].items()} if run.get("similarity") else {}
    acc = {(r["classifier"], r["condition"]): (r["accuracy_mean"], r["accuracy_sd"]) for r in run.get("summary", [])}
    avg = {cond: {"mean": v["accuracy_mean"], "sd": v["accuracy_sd"]} for cond, v in run.get("classifier_average", {}).items()}
    hist = json.loads(history_path.read_text()) if history_path is not None and history_path.is_file() else {}
    return {"similarity": {k: {"mean": v["mean"], "sd": v.get("sd")} for k, v in sim.items()},
            "accuracy": {f"{c}/{cond}": v for (c, cond), v in acc.items()}, "average": avg,
            "counts": run.get("counts"), "similarity_vs": (run.get("similarity") or {}).get("paired_against"),
            "epochs_trained": len(hist.get("epochs", [])), "best": hist.get("best")}


def _fmt(mean: float | None, sd: float | None = None, pct: bool = False) -> str:
    if mean is None:
        return "-"
    if sd is not None and sd != sd:  # NaN: a single value (e.g. the discriminative score), no spread
        sd = None
    if pct:
        return f"{100 * mean:.1f} ± {100 * (sd or 0):.1f}"
    return f"{mean:.4g}" if sd is None else f"{mean:.4g} ± {sd:.2g}"


def markdown(summary: dict[str, Any]) -> str:
    """Similarity and accuracy tables per protocol, models as rows."""
    s = summary["settings"]
    lines = [f"Data: `{summary['data']}`; machine: {summary['machine']}",
             f"Settings: {json.dumps(s)}", ""]
    for protocol in s["protocols"]:
        runs = {k.split("/", 1)[1]: v for k, v in summary["runs"].items() if k.startswith(protocol + "/")}
        if not runs:
            continue
        lines += [f"### {protocol}: similarity of synthetic to real windows with the same angles (mean ± SD over pairs)", "",
                  "| model | " + " | ".join(SIM_METRICS) + " |", "|---" * (len(SIM_METRICS) + 1) + "|"]
        for model, r in runs.items():
            cells = []
            for m in SIM_METRICS:
                v = r["similarity"].get(m)
                cells.append(_fmt(v["mean"], v["sd"]) if v else "-")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        common = [c for c in s["classifiers"] if c not in DEEP and all(f"{c}/RR" in r["accuracy"] for r in runs.values())]
        lines += ["", f"### {protocol}: accuracy (%) on the real test split, mean ± SD over {s['seeds']} seeds", "",
                  "| model | " + " | ".join(f"{c} {cond}" for c in s["classifiers"] for cond in ("GR", "MR")) +
                  f" | mean GR ({'+'.join(common)}) | mean MR ({'+'.join(common)}) |",
                  "|---" * (2 * len(s["classifiers"]) + 3) + "|"]
        for model, r in runs.items():
            cells = [_fmt(*r["accuracy"].get(f"{c}/{cond}", (None, None)), pct=True)
                     for c in s["classifiers"] for cond in ("GR", "MR")]
            for cond in ("GR", "MR"):
                vals = [r["accuracy"][f"{c}/{cond}"][0] for c in common if f"{c}/{cond}" in r["accuracy"]]
                cells.append(f"{100 * sum(vals) / len(vals):.1f}" if vals else "-")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        rr = {**next(iter(runs.values()))["accuracy"], **summary.get("real_only_deep", {}).get(protocol, {})}
        lines += ["", "RR (real only, the same for every model): " + ", ".join(
            f"{c} {_fmt(*rr.get(f'{c}/RR', (None, None)), pct=True)}" for c in s["classifiers"]), ""]
    lines += ["### Step timings (s)", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in summary["timings_s"].items()]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=Path("../shared/data/ninapro_db1"))
    ap.add_argument("--out", type=Path, default=Path("runs/ninapro_db1"))
    ap.add_argument("--models", default=",".join(MODELS), help="Comma list of model names, each optionally with "
                    "options: seqemg_gan@feature_loss_weight=1.0")
    ap.add_argument("--protocols", default=",".join(PROTOCOLS))
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--profile", default="fast")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--classifiers", default="svm,rf,tds_rnn,neuropose")
    ap.add_argument("--window-s", type=float, default=1.0)
    ap.add_argument("--train-stride-s", type=float, default=0.25)
    ap.add_argument("--max-train-windows", type=int, default=None)
    ap.add_argument("--max-test-windows", type=int, default=None)
    ap.add_argument("--users", default=None, help="Comma list of subjects (e.g. S1,S2,S3) for a reduced run.")
    ap.add_argument("--deep-models", default=None, help="Comma list of models benchmarked with the deep decoders "
                    "too (default: all models; 'none' for SVM/RF only). The deep decoders run after every model's "
                    "SVM/RF benchmark, RR once per protocol and GR/MR per model.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    summary = run_chain(a.data, a.out, a.models.split(","), a.protocols.split(","), a.epochs, a.seeds,
                        a.classifiers.split(","), a.window_s, a.train_stride_s, a.max_train_windows, a.max_test_windows,
                        a.users.split(",") if a.users else None, a.profile,
                        a.deep_models.split(",") if a.deep_models else None)
    print((a.out / "summary.md").read_text())
    print(f"total {time.perf_counter() - t0:.0f} s; {len(summary['runs'])} model runs")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
