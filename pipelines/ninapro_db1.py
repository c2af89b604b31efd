"""Ninapro DB1 chain: split -> train every generator -> synthesize -> benchmark, then one summary of it all.

    python pipelines/ninapro_db1.py --data ../shared/data/ninapro_db1 --out runs/ninapro_db1

For each protocol (cross-subject with a calibration split of the test people, cross-session by repetition
group) it trains every generator in --models with the same budget (epochs x training windows), synthesizes one
set per model from the training kinematics (cross-subject: rendered as the test people, styled on their
calibration EMG), writes the oracle (the real training EMG as a synthetic set: the ceiling), and benchmarks each
set: similarity to the real windows of the same kinematics, and RR / GR / MR accuracy over several seeds with
per-user results and Wilcoxon tests of MR against RR. The floors (`ridge`, `ridge_user`) and the classic
augmentations are rows of every table. Everything is resumable: finished steps are skipped when their outputs
exist. `summary.md` / `summary.json` in --out hold the tables docs/results.md quotes, with machine and timings.
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

MODELS = ("flow", "seqemg_gan", "seqemg_gan_paper", "seqemg_gan@mismatch_weight=1.0;feature_loss_weight=1.0",
          "wavenet", "transformer_seq2seq", "dcgan", "ridge", "ridge_user")
ORACLE = "oracle_real"  # the real training EMG written as a synthetic set: the ceiling row of every table
PROTOCOLS = ("cross-subject", "cross-session")
SIM_METRICS = ("eecc", "fft_mse", "dtw", "psd_log_distance_db", "median_freq_error_hz", "kurtosis_difference",
               "channel_corr_distance", "discriminative_score", "trts_accuracy")
AUGMENT = ("noise", "magwarp", "timewarp", "crop", "gain", "mixup")


def machine() -> dict[str, Any]:
    import torch

    return {"platform": platform.platform(), "python": platform.python_version(), "torch": torch.__version__,
            "cpus": os.cpu_count(), "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}


DEEP = ("tds_rnn", "neuropose")
REAL_ONLY = "_real_only"  # benchmark_deep/<protocol>/_real_only: the deep decoders' shared RR run


def run_chain(data: Path, out: Path, models: list[str], protocols: list[str], epochs: int, seeds: int,
              classifiers: list[str], window_s: float, train_stride_s: float, max_train_windows: int | None,
              max_test_windows: int | None, users: list[str] | None, profile: str,
              deep_models: list[str] | None = None, log=print, features: str = "amplitude",
              calibration_s: float | None = 10.0, augment: list[str] | None = None, oracle: bool = True,
              threads: int | None = None) -> dict[str, Any]:
    """Run (or resume) the whole chain and return the summary dict (also written to out/summary.json).

    Every generator gets the same budget: `epochs` over the same at most `max_train_windows` training windows.
    Cross-subject splits carve a calibration split (`calibration_s` seconds of each test user per gesture, one
    repetition group at 10 s); person-conditioned generators then render the training kinematics as the test
    people (styles from their calibration EMG), and RR/MR train on train + calibration. The oracle row (real
    training EMG as a synthetic set) is the ceiling; classic augmentations (`augment`) run once per protocol,
    with the oracle. `deep_models`: models whose sets also go through the deep decoders (None = all).
    Deep decoders run after every model's SVM/RF benchmark, with one shared real-only (RR) run per protocol."""
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig
    from emgaug.synthesis.generate import synthesize_set
    from emgaug.training.checkpoint import load_generator
    from emgaug.training.trainer import train_model

    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {"data": str(data), "machine": machine(), "settings": {
        "models": models, "protocols": protocols, "epochs": epochs, "profile": profile, "seeds": seeds,
        "classifiers": classifiers, "window_s": window_s, "train_stride_s": train_stride_s,
        "max_train_windows": max_train_windows, "max_test_windows": max_test_windows, "users": users,
        "deep_models": deep_models, "features": features, "calibration_s": calibration_s,
        "augment": list(augment or []), "oracle": oracle, "threads": threads},
        "timings_s": {}, "runs": {}}
    timings = summary["timings_s"]
    source = open_source(data, "ninapro_db1")
    shallow = [c for c in classifiers if c not in DEEP]
    for protocol in protocols:
        mpath = out / "manifests" / f"{protocol}.json"
        t = time.perf_counter()
        calib = calibration_s if protocol == "cross-subject" else None
        m = make_split(source, protocol, seed=0, users=users, calibration_s=calib)
        if not mpath.is_file() or json.loads(mpath.read_text())["splits"] != m.splits:
            m.save(mpath)  # rewritten only when the split changed, so finished steps stay resumable
        timings[f"{protocol}/split"] = round(time.perf_counter() - t, 2)
        specs = ([ORACLE] if oracle else []) + list(models)
        for spec in specs:
            key = f"{protocol}/{spec}"
            ck_dir, synth_dir, bench_dir = (out / part / protocol / _dirname(spec)
                                             for part in ("models", "synthetic", "benchmark"))
            if spec == ORACLE:
                if not _is_set(synth_dir):
                    log(f"[{key}] write the real training EMG as a synthetic set")
                    synthesize_set(None, synth_dir, manifest=mpath, oracle_real=True, window_s=window_s, overwrite=True)
                history = None
            else:
                model, overrides = parse_model_spec(spec)
                t = time.perf_counter()
                log(f"[{key}] train")
                ckpt = train_model(mpath, model, ck_dir, epochs=epochs, profile=profile, seed=0, resume=True,
                                   quiet=True, max_train_windows=max_train_windows, model_overrides=overrides,
                                   window_cfg=WindowConfig(window_s=window_s, stride_s=train_stride_s,
                                                           angle_rate_hz=50.0))
                timings[f"{key}/train"] = round(time.perf_counter() - t, 2)
                t = time.perf_counter()
                if not _is_set(synth_dir):
                    log(f"[{key}] synthesize")
                    person = load_generator(ckpt).model.person_conditioned
                    synthesize_set(ckpt, synth_dir, seed=0, device="auto", overwrite=True,
                                   reference="calibration" if (calib and person) else None)
                timings[f"{key}/synthesize"] = round(time.perf_counter() - t, 2)
                history = ck_dir / "history.json"
            t = time.perf_counter()
            _benchmark(bench_dir, mpath, synth_dir, shallow, seeds, max_train_windows, max_test_windows,
                       metrics=True, conditions=("RR", "GR", "MR"), log=lambda key=key: log(f"[{key}] benchmark"),
                       features=features, augment=augment if spec == specs[0] else None)
            timings[f"{key}/benchmark"] = round(time.perf_counter() - t, 2)
            summary["runs"][key] = condense(json.loads((bench_dir / "results.json").read_text()), history)
            (out / "summary.json").write_text(json.dumps(summary, indent=2))
        deep = [c for c in classifiers if c in DEEP]
        deep_specs = [spec for spec in models if deep_models is None or spec in deep_models]
        if deep and deep_specs:
            # RR does not depend on the synthetic set: train the deep decoders on real data once per protocol and
            # run only GR / MR per model (same seeds, caps and test windows, so the numbers are directly comparable)
            t = time.perf_counter()
            real_dir = out / "benchmark_deep" / protocol / REAL_ONLY
            _benchmark(real_dir, mpath, None, deep, seeds, max_train_windows, max_test_windows, metrics=False,
                       conditions=("RR",), log=lambda protocol=protocol: log(f"[{protocol}] deep decoders, real only"), window_s=window_s)
            timings[f"{protocol}/benchmark_deep_rr"] = round(time.perf_counter() - t, 2)
            summary.setdefault("real_only_deep", {})[protocol] = condense(json.loads((real_dir / "results.json").read_text()),
                                                                          None)["accuracy"]
            for spec in deep_specs:
                key, name = f"{protocol}/{spec}", _dirname(spec)
                t = time.perf_counter()
                deep_dir = out / "benchmark_deep" / protocol / name
                _benchmark(deep_dir, mpath, out / "synthetic" / protocol / name, deep, seeds, max_train_windows,
                           max_test_windows, metrics=False, conditions=("GR", "MR"),
                           log=lambda key=key: log(f"[{key}] deep decoders, GR and MR"))
                timings[f"{key}/benchmark_deep"] = round(time.perf_counter() - t, 2)
                acc = condense(json.loads((deep_dir / "results.json").read_text()), None)["accuracy"]
                summary["runs"][key]["accuracy"].update({k: v for k, v in acc.items() if not k.endswith("/RR")})
                (out / "summary.json").write_text(json.dumps(summary, indent=2))
    (out / "summary.md").write_text(markdown(summary))
    return summary


def _dirname(spec: str) -> str:
    """Folder name of a model spec ('seqemg_gan@feature_loss_weight=1.0' -> 'seqemg_gan+feature_loss_weight=1.0')."""
    return spec.replace("@", "+").replace(";", "+")


def _is_set(path: Path) -> bool:
    """A finished synthetic set is there (the chain is resumable; a set appears only when complete)."""
    from emgaug.synthesis.parquet_io import is_synthetic_set

    return is_synthetic_set(path)


def _benchmark(bench_dir: Path, mpath: Path, synth_dir: Path | None, classifiers: list[str], seeds: int,
               max_train: int | None, max_test: int | None, *, metrics: bool, conditions: tuple[str, ...], log,
               window_s: float | None = None, features: str = "amplitude", augment: list[str] | None = None) -> None:
    """Run one benchmark into bench_dir unless its results.json already exists (the chain is resumable)."""
    from emgaug.benchmark import run_benchmark

    if (bench_dir / "results.json").is_file():
        return
    log()
    run_benchmark([mpath], [synth_dir] if synth_dir is not None else [], classifiers=classifiers, seeds=seeds,
                  metrics=metrics, max_test_windows=max_test, max_train_windows=max_train, out=bench_dir,
                  show_progress=False, conditions=conditions, window_s=window_s, features=features,
                  augment=augment or ())


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """'name' or 'name@key=value;key=value' (model options, as `emgaug train --set`) -> (name, overrides)."""
    from emgaug.commands.train import parse_model_options

    name, _, opts = spec.partition("@")
    return name, parse_model_options([p for p in opts.split(";") if p])


def condense(results: dict[str, Any], history_path: Path | None) -> dict[str, Any]:
    """The numbers the summary tables need from one benchmark run: accuracy per classifier/condition (augmentation
    rows are conditions such as 'GR:noise'), per test user, paired comparisons with RR, similarity metrics."""
    run = results["runs"][0]
    sim = {k: v for k, v in run["similarity"]["metrics"].items()} if run.get("similarity") else {}
    summ = run.get("summary", [])
    acc = {(r["classifier"], r["condition"]): (r["accuracy_mean"], r["accuracy_sd"]) for r in summ}
    per_user = {f"{r['classifier']}/{r['condition']}": {u: v["accuracy_mean"] for u, v in r.get("per_user", {}).items()}
                for r in summ}
    comp = {f"{c['classifier']}/{c['condition']}": {k: c.get(k) for k in ("mean_difference", "sd_difference", "p_value",
                                                                         "ci95_difference", "n")}
            for c in run.get("comparisons", []) if c.get("reference") == "RR"}
    avg = {cond: {"mean": v["accuracy_mean"], "sd": v["accuracy_sd"]} for cond, v in run.get("classifier_average", {}).items()}
    hist = json.loads(history_path.read_text()) if history_path is not None and history_path.is_file() else {}
    return {"similarity": {k: {"mean": v["mean"], "sd": v.get("sd")} for k, v in sim.items()},
            "accuracy": {f"{c}/{cond}": v for (c, cond), v in acc.items()}, "average": avg, "per_user": per_user,
            "vs_rr": comp, "counts": run.get("counts"),
            "similarity_vs": (run.get("similarity") or {}).get("paired_against"),
            "epochs_trained": len(hist.get("epochs", [])), "best": hist.get("best")}


def _fmt(mean: float | None, sd: float | None = None, pct: bool = False) -> str:
    """mean ± SD; an undefined SD (None: one seed, or a deterministic classifier on identical data) prints as such."""
    if mean is None:
        return "-"
    if sd is not None and sd != sd:  # NaN: a single value (e.g. the discriminative score), no spread
        sd = None
    if pct:
        return f"{100 * mean:.1f} ± {100 * sd:.1f}" if sd is not None else f"{100 * mean:.1f} (SD undefined)"
    return f"{mean:.4g}" if sd is None else f"{mean:.4g} ± {sd:.2g}"


def _delta(c: dict[str, Any] | None) -> str:
    """MR - RR in points with its SD over (user, seed) cells and the Wilcoxon p-value."""
    if not c or c.get("mean_difference") is None:
        return "-"
    sd = c.get("sd_difference")
    p = c.get("p_value")
    return (f"{100 * c['mean_difference']:+.1f}" + (f" ± {100 * sd:.1f}" if sd is not None else "")
            + (f" (p={p:.2g})" if p is not None else " (p undefined)"))


ROLE = {"ridge": "floor: pooled ridge", "ridge_user": "floor: per-user ridge", ORACLE: "ceiling: real EMG (oracle)"}


def _rows(runs: dict[str, Any], classifiers: list[str]) -> list[tuple[str, dict[str, Any], str]]:
    """(row name, run, condition suffix) for every generator plus every augmentation found in the runs."""
    rows = [(model, r, "") for model, r in runs.items()]
    for r in runs.values():
        augs = sorted({k.split("/", 1)[1].split(":", 1)[1] for k in r["accuracy"] if ":" in k.split("/", 1)[1]})
        rows += [(f"augment: {a}", r, f":{a}") for a in augs]
    return rows


def _accuracy_table(protocol: str, rows: list[tuple[str, dict[str, Any], str]], shallow: list[str],
                    seeds: int) -> list[str]:
    """Markdown lines of one protocol's GR / MR / MR - RR table for the shallow classifiers, one line per row."""
    lines = [f"### {protocol}: accuracy (%) on the real test split, mean ± SD over {seeds} seeds; "
             "MR - RR in points (SD over test user x seed cells, Wilcoxon p)", "",
             "| row | role | " + " | ".join(f"{c} GR | {c} MR | {c} MR - RR" for c in shallow) + " |",
             "|---|---|" + "---|" * (3 * len(shallow))]
    for name, r, suf in rows:
        cells = []
        for c in shallow:
            cells += [_fmt(*r["accuracy"].get(f"{c}/GR{suf}", (None, None)), pct=True),
                      _fmt(*r["accuracy"].get(f"{c}/MR{suf}", (None, None)), pct=True),
                      _delta(r.get("vs_rr", {}).get(f"{c}/MR{suf}"))]
        role = ROLE.get(name, "augmentation" if suf else "generator")
        lines.append(f"| {name} | {role} | " + " | ".join(cells) + " |")
    return lines


def markdown(summary: dict[str, Any]) -> str:
    """Per protocol: accuracy (GR, MR, MR - RR with p) with floors, ceiling and augmentations as rows; similarity;
    per-test-user accuracy of RR and each row's MR for the first shallow classifier."""
    s = summary["settings"]
    lines = [f"Data: `{summary['data']}`; machine: {summary['machine']}",
             f"Settings: {json.dumps(s)}", ""]
    shallow = [c for c in s["classifiers"] if c not in DEEP]
    for protocol in s["protocols"]:
        runs = {k.split("/", 1)[1]: v for k, v in summary["runs"].items() if k.startswith(protocol + "/")}
        if not runs:
            continue
        rows = _rows(runs, shallow)
        lines += _accuracy_table(protocol, rows, shallow, s["seeds"])
        rr = {**next(iter(runs.values()))["accuracy"], **summary.get("real_only_deep", {}).get(protocol, {})}
        lines += ["", "RR (real only, the same for every row): " + ", ".join(
            f"{c} {_fmt(*rr.get(f'{c}/RR', (None, None)), pct=True)}" for c in s["classifiers"]), ""]
        lines += [f"### {protocol}: similarity of synthetic to real windows with the same angles (mean ± SD over pairs)",
                  "", "| model | " + " | ".join(SIM_METRICS) + " |", "|---" * (len(SIM_METRICS) + 1) + "|"]
        for model, r in runs.items():
            cells = []
            for m in SIM_METRICS:
                v = r["similarity"].get(m)
                cells.append(_fmt(v["mean"], v["sd"]) if v else "-")
            lines.append(f"| {model} | " + " | ".join(cells) + " |")
        if shallow:
            c = shallow[-1]
            first = next(iter(runs.values()))
            users = list(first["per_user"].get(f"{c}/RR", {}))
            if users:
                lines += ["", f"### {protocol}: {c} accuracy (%) per test user (mean over seeds): RR, then each "
                              "row's GR / MR", "", "| row | " + " | ".join(users) + " |", "|---" * (len(users) + 1) + "|",
                          "| RR | " + " | ".join(f"{100 * first['per_user'][f'{c}/RR'][u]:.1f}" for u in users) + " |"]
                for name, r, suf in rows:
                    gr, mr = r["per_user"].get(f"{c}/GR{suf}", {}), r["per_user"].get(f"{c}/MR{suf}", {})
                    lines.append(f"| {name} | " + " | ".join(
                        f"{100 * gr[u]:.1f} / {100 * mr[u]:.1f}" if u in gr and u in mr else "-" for u in users) + " |")
        lines.append("")
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
    ap.add_argument("--classifiers", default="svm,rf")
    ap.add_argument("--window-s", type=float, default=1.0)
    ap.add_argument("--train-stride-s", type=float, default=0.25)
    ap.add_argument("--max-train-windows", type=int, default=None)
    ap.add_argument("--max-test-windows", type=int, default=None)
    ap.add_argument("--users", default=None, help="Comma list of subjects (e.g. S1,S2,S3) for a reduced run.")
    ap.add_argument("--deep-models", default=None, help="Comma list of models benchmarked with the deep decoders "
                    "too (default: all models; 'none' for SVM/RF only). The deep decoders run after every model's "
                    "SVM/RF benchmark, RR once per protocol and GR/MR per model.")
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice).")
    ap.add_argument("--features", default="amplitude", help="SVM/RF input: amplitude (log MAV/RMS/WL: what suits "
                    "DB1's RMS envelopes), td or raw.")
    ap.add_argument("--calibration-s", type=float, default=10.0, help="cross-subject: seconds of each test user's "
                    "recordings per gesture kept as calibration (10 s = about one repetition group); 0 = none.")
    ap.add_argument("--augment", default=",".join(AUGMENT), help="Classic augmentations benchmarked as rows "
                    "('none' for none).")
    ap.add_argument("--no-oracle", action="store_true", help="Skip the oracle (real EMG) ceiling row.")
    a = ap.parse_args(argv)
    if a.threads:
        import torch

        torch.set_num_threads(a.threads)
    t0 = time.perf_counter()
    summary = run_chain(a.data, a.out, a.models.split(","), a.protocols.split(","), a.epochs, a.seeds,
                        a.classifiers.split(","), a.window_s, a.train_stride_s, a.max_train_windows, a.max_test_windows,
                        a.users.split(",") if a.users else None, a.profile,
                        a.deep_models.split(",") if a.deep_models else None, features=a.features,
                        calibration_s=a.calibration_s or None,
                        augment=[] if a.augment in ("", "none") else a.augment.split(","),
                        oracle=not a.no_oracle, threads=a.threads)
    print((a.out / "summary.md").read_text())
    print(f"total {time.perf_counter() - t0:.0f} s; {len(summary['runs'])} model runs")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    main()
