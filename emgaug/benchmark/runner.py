"""`run_benchmark`: for each (manifest, synthetic set) pair, RR/GR/MR classifier results over several seeds and the
similarity suite between synthetic windows and the real windows of the same conditioning angles."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from rich.progress import Progress

from emgaug.benchmark.classifiers import CLASSIFIERS, FEATURE_KINDS
from emgaug.benchmark.data import (check_leakage, load_split_windows, paired_real_windows, refuse_leaky, resolve_window,
                                   synthetic_windows)
from emgaug.benchmark.protocols import (CONDITIONS, active_conditions, average_over_classifiers, run_protocols,
                                        summarise)
from emgaug.console import console, make_progress
from emgaug.data.manifest import load_manifest
from emgaug.errors import EmgaugError
from emgaug.metrics import paired
from emgaug.metrics.similarity import similarity_report
from emgaug.provenance import code_version, command_line, file_sha256

SYNTH_META_KEYS = ("model_name", "checkpoint_sha256", "manifest_path", "source_split", "allow_test_conditioning",
                   "sample_rate", "created_utc", "code_version")
EXAMPLE_PAIRS = 3


def _load_synthetic(item: Any) -> tuple[Any, str]:
    if isinstance(item, (str, Path)):
        from emgaug.synthesis.parquet_io import read_synthetic

        return read_synthetic(item), str(item)
    return item, str(getattr(item, "path", None) or item.metadata.get("path", "<in-memory synthetic set>"))


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise EmgaugError(f"--seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    return [int(s) for s in seeds]


def run_benchmark(manifests: Sequence[str | Path], synthetic: Sequence[Any] = (), *,
                  classifiers: Sequence[str] = CLASSIFIERS, seeds: int | Sequence[int] = 5, mix_ratio: float = 1.0,
                  features: str = "td", metrics: bool = True, max_test_windows: int | None = None,
                  max_train_windows: int | None = None, window_s: float | None = None, stride_s: float | None = None,
                  device: str = "auto", dtw_method: str = "exact", dtw_band: float | None = 0.1,
                  n_jobs: int | None = None, out: str | Path | None = None, show_progress: bool = True,
                  max_memory_gb: float | None = 8.0, conditions: Sequence[str] = CONDITIONS) -> dict[str, Any]:
    """Benchmark real vs synthetic training data on each manifest; synthetic sets pair with manifests in order.

    Returns the results dict (also written as results.json, results.csv and report.html under `out` when given).
    GR/MR refuse a synthetic set conditioned on test angles (metadata or row-range overlap with the test split).
    `conditions` picks a subset of RR/GR/MR, e.g. GR+MR only when one RR run is shared by many synthetic sets.
    """
    if not manifests:
        raise EmgaugError("no --manifest given; pass at least one manifest made by `emgaug split`")
    synthetic = list(synthetic)
    if synthetic and len(synthetic) != len(manifests):
        raise EmgaugError(f"{len(synthetic)} --synthetic set(s) for {len(manifests)} --manifest(s); give one synthetic set "
                          "per manifest, in the same order (or none for RR only)")
    if features not in FEATURE_KINDS:
        raise EmgaugError(f"unknown --features {features!r}; choose one of {', '.join(FEATURE_KINDS)}")
    bad = [c for c in classifiers if c not in CLASSIFIERS]
    if bad:
        raise EmgaugError(f"unknown classifier(s) {', '.join(bad)}; choose from {', '.join(CLASSIFIERS)}")
    seed_list = _seed_list(seeds)
    conditions = tuple(conditions)
    bad = [c for c in conditions if c not in CONDITIONS]
    if bad or not conditions:
        raise EmgaugError(f"unknown condition(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(CONDITIONS)}")
    if classifiers and not synthetic and "RR" not in conditions:
        raise EmgaugError(f"conditions {','.join(conditions)} need --synthetic sets; add RR or pass --synthetic")
    from emgaug.benchmark.deep import resolve_device

    dev = str(resolve_device(device)) if any(c in ("tds_rnn", "neuropose") for c in classifiers) else "cpu"
    config = {"manifests": [str(m) for m in manifests], "synthetic": [str(s) if isinstance(s, (str, Path)) else "<in-memory>"
                                                                       for s in synthetic],
              "classifiers": list(classifiers), "seeds": seed_list, "mix_ratio": mix_ratio, "features": features,
              "metrics": metrics, "max_test_windows": max_test_windows, "max_train_windows": max_train_windows,
              "window_s": window_s, "stride_s": stride_s, "device": dev, "dtw_method": dtw_method, "dtw_band": dtw_band,
              "max_memory_gb": max_memory_gb,
              "conditions": list(conditions)}
    results: dict[str, Any] = {"tool": "emgaug benchmark", "code_version": code_version(), "command": command_line(),
                               "created_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                               "config": config, "runs": []}
    plots = []
    for i, mpath in enumerate(manifests):
        synth_item = synthetic[i] if synthetic else None
        run, plot = _run_one(Path(mpath), synth_item, list(classifiers), seed_list, mix_ratio, features, metrics,
                             max_test_windows, max_train_windows, window_s, stride_s, dev, dtw_method, dtw_band, n_jobs,
                             show_progress, max_memory_gb, conditions)
        results["runs"].append(run)
        plots.append(plot)
    if out is not None:
        from emgaug.benchmark.outputs import write_outputs

        write_outputs(results, plots, Path(out))
    return results


def _run_one(mpath: Path, synth_item: Any, classifiers: list[str], seeds: list[int], mix_ratio: float, features: str,
             metrics: bool, max_test: int | None, max_train: int | None, window_s: float | None, stride_s: float | None,
             device: str, dtw_method: str, dtw_band: float | None, n_jobs: int | None,
             show_progress: bool, max_gb: float | None,
             conditions: tuple[str, ...] = CONDITIONS) -> tuple[dict[str, Any], dict[str, Any]]:
    m = load_manifest(mpath)
    synth, synth_path = _load_synthetic(synth_item) if synth_item is not None else (None, None)
    window = resolve_window(m, synth.metadata if synth is not None else None, window_s, stride_s)
    class_names = [s for s, _ in sorted(m.label_map().items(), key=lambda kv: kv[1])]
    run: dict[str, Any] = {"manifest": str(mpath), "manifest_sha256": file_sha256(mpath), "protocol": m.protocol,
                           "dataset": m.source, "window": window.to_dict(), "classes": class_names,
                           "synthetic": synth_path}
    leak = None
    if synth is not None:
        leak = check_leakage(m, synth.labels, synth.metadata, synth_path)
        run["synthetic_metadata"] = {k: synth.metadata.get(k) for k in SYNTH_META_KEYS if k in synth.metadata}
        run["leakage_check"] = leak.to_dict()
        if classifiers:
            refuse_leaky(leak)
        if leak.manifest_matches is False:
            console.print(f"[yellow]{synth_path} was made from a different manifest than {mpath}; its rows were "
                          "checked against this manifest's test split, but make sure the pairing is intended[/yellow]")
    plot: dict[str, Any] = {"class_names": class_names}
    fs = float(m.data_source.sample_rate)
    with (make_progress() if show_progress else Progress(disable=True)) as prog:
        t_read = prog.add_task(f"{m.protocol}: reading real windows", total=None)
        adv = lambda k: prog.advance(t_read, k)  # noqa: E731
        need_train = bool(classifiers) or (metrics and synth is not None)  # metrics use it for TRTS
        train = load_split_windows(m, "train", window, max_train, seed=0, progress=adv, max_gb=max_gb) if need_train else None
        test = load_split_windows(m, "test", window, max_test, seed=0, progress=adv, max_gb=max_gb) if classifiers else None
        prog.update(t_read, total=prog.tasks[t_read].completed)
        synth_lw = synthetic_windows(synth, m, window, m.data_source.num_channels) if synth is not None else None
        run["counts"] = {"train_windows": len(train) if train is not None else 0,
                         "test_windows": len(test) if test is not None else 0,
                         "synthetic_windows": len(synth_lw) if synth_lw is not None else 0}
        if classifiers:
            synth_train = synth_lw
            if synth_lw is not None and max_train is not None and len(synth_lw) > max_train:
                synth_train = synth_lw.subset(np.sort(np.random.default_rng(0).choice(len(synth_lw), max_train, replace=False)))
            n_cond = len(active_conditions(conditions, synth is not None))
            t_fit = prog.add_task(f"{m.protocol}: training classifiers", total=len(classifiers) * n_cond * len(seeds))
            rows = run_protocols(train, test, synth_train, classifiers, seeds, class_names, mix_ratio=mix_ratio,
                                 features=features, device=device, n_jobs=n_jobs or 1, conditions=conditions,
                                 progress=lambda msg: prog.update(t_fit, advance=1, description=f"{m.protocol}: {msg}"))
            run["results"] = rows
            run["summary"] = summarise(rows)
            run["classifier_average"] = average_over_classifiers(rows)
        if metrics and synth_lw is not None:
            t_pair = prog.add_task(f"{m.protocol}: reading paired real windows", total=None)
            real_p, idx, info = paired_real_windows(m, synth_lw, max_pairs=max_test, seed=0,
                                                    progress=lambda k: prog.advance(t_pair, k))
            prog.update(t_pair, total=prog.tasks[t_pair].completed)
            if len(idx) == 0:
                console.print(f"[yellow]{synth_path}: no synthetic window matches real rows of {m.data_source.root} "
                              "(e.g. angles from a kinematics-only pool); similarity metrics skipped[/yellow]")
                run["similarity_skipped"] = info
                return run, plot
            synth_p = synth_lw.emg[idx]
            t_met = prog.add_task(f"{m.protocol}: similarity metrics", total=len(idx))
            sim = similarity_report(real_p, synth_p, fs, dtw_method=dtw_method, dtw_band=dtw_band,
                                    synth_labels=synth_lw.labels[idx], trts_train=(train.emg, train.labels),
                                    n_jobs=n_jobs, keep_per_pair=True, progress=lambda k: prog.advance(t_met, k))
            plot["per_pair"] = sim.pop("per_pair")
            sim.update(info)
            run["similarity"] = sim
            k = min(EXAMPLE_PAIRS, len(idx))
            pick = np.linspace(0, len(idx) - 1, k).astype(int)
            plot["examples"] = {"real": real_p[pick], "synth": synth_p[pick],
                                "titles": [f"{r['filename']} [{int(r['start'])}:{int(r['stop'])}] {r['stage']}"
                                           for _, r in synth_lw.meta.iloc[idx[pick]].iterrows()]}
            f, pr = _mean_psd(real_p, fs)
            _, ps = _mean_psd(synth_p, fs)
            plot["psd"] = {"freqs": f, "real": pr, "synth": ps}
            plot["sample_rate"] = fs
    if not classifiers and not (metrics and synth is not None):
        console.print(f"[yellow]{mpath}: nothing to do (no classifiers and no synthetic set for metrics)[/yellow]")
    return run, plot


def _mean_psd(x: np.ndarray, fs: float, chunk: int = 128) -> tuple[np.ndarray, np.ndarray]:
    """Welch PSD averaged over windows and channels, computed in chunks so float64 copies stay small."""
    total, f = None, None
    for i in range(0, len(x), chunk):
        f, p = paired.welch_psd(x[i:i + chunk].astype(np.float64), fs)
        s = p.sum(axis=(0, 1))
        total = s if total is None else total + s
    return f, total / (len(x) * x.shape[1])
