"""`run_benchmark`: for each (manifest, synthetic set) pair, RR/GR/MR classifier results over several seeds and the
similarity suite between synthetic windows and the real windows of the same conditioning angles."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress

from emgaug.benchmark.augment import AugmentSpec, parse_augment
from emgaug.benchmark.classifiers import CLASSIFIERS, DEFAULT_CLASSIFIERS
from emgaug.benchmark.config import BenchmarkConfig
from emgaug.benchmark.data import (SyntheticSource, check_leakage, load_split_windows, paired_real_windows,
                                   read_withheld_windows, real_training_windows, refuse_leaky, resolve_window,
                                   synthetic_windows)
from emgaug.benchmark.feature_cache import FeatureStore
from emgaug.benchmark.conditions import (ALL_CONDITIONS, CONDITIONS, DEFAULT_RESAMPLE_FRACTION, RR_FULL,
                                        active_conditions, average_over_classifiers, normalise_condition,
                                        paired_comparisons, run_conditions, summarise)
from emgaug.benchmark.scarce import gap_closed, scarce_info
from emgaug.console import console, make_progress
from emgaug.data.manifest import CALIBRATION, KINEMATICS_POOL, load_manifest
from emgaug.errors import EmgaugError
from emgaug.metrics import paired
from emgaug.metrics.features import FEATURE_KINDS
from emgaug.metrics.similarity import similarity_report
from emgaug.provenance import code_version, command_line, file_sha256

SYNTH_META_KEYS = ("model_name", "checkpoint_sha256", "manifest_path", "source_split", "allow_test_conditioning",
                   "sample_rate", "created_utc", "code_version", "oracle", "person")
EXAMPLE_PAIRS = 3


def _no_synthetic(item: Any) -> bool:
    """None, or the word 'none' in place of a path: this manifest gets no synthetic set (e.g. EMG fraction 1)."""
    return item is None or (isinstance(item, (str, Path)) and str(item).strip().lower() == "none")


def _load_synthetic(item: Any, max_gb: float | None = None) -> tuple[Any, str]:
    if isinstance(item, (str, Path)):  # labels now; windows streamed for features, loaded only where needed
        return SyntheticSource(item, max_gb=max_gb), str(item)
    return item, str(getattr(item, "path", None) or item.metadata.get("path", "<in-memory synthetic set>"))


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise EmgaugError(f"--seeds must be >= 1, got {seeds}")
        return list(range(seeds))
    return [int(s) for s in seeds]


def run_benchmark(manifests: Sequence[str | Path], synthetic: Sequence[Any] = (), *,
                  classifiers: Sequence[str] = DEFAULT_CLASSIFIERS, seeds: int | Sequence[int] = 5, mix_ratio: float = 1.0,
                  features: str = "td", metrics: bool = True, max_test_windows: int | None = None,
                  max_train_windows: int | None = None, window_s: float | None = None, stride_s: float | None = None,
                  device: str = "auto", dtw_method: str = "exact", dtw_band: float | None = 0.1,
                  n_jobs: int | None = None, out: str | Path | None = None, show_progress: bool = True,
                  max_memory_gb: float | None = 8.0, conditions: Sequence[str] = CONDITIONS,
                  augment: str | Sequence[str | AugmentSpec] | None = (),
                  resample_fraction: float = DEFAULT_RESAMPLE_FRACTION, rr_full: bool | None = None) -> dict[str, Any]:
    """Benchmark real vs synthetic training data on each manifest; synthetic sets pair with manifests in order.

    Returns the results dict (also written as results.json, results.csv and report.html under `out` when given).
    GR/MR refuse a synthetic set conditioned on test angles (metadata or row-range overlap with the test split).
    `conditions` picks a subset of RR/GR/MR, e.g. GR+MR only when one RR run is shared by many synthetic sets.
    `augment` adds classic augmentations of the real training windows as further GR/MR sources
    (emgaug.benchmark.augment: e.g. ["noise", "magwarp@sigma=0.3"]). `resample_fraction` (default 0.8): each seed
    trains on a seeded class-stratified subsample of that fraction of the training windows, so seeds differ for
    every classifier (1.0 = all windows every seed).

    Scarce manifests (`emgaug split --emg-fraction`): RR is RR-scarce; `rr_full` adds the RR-full upper reference
    (RR's windows plus the kinematics pool's withheld real EMG, the one read of it, labelled as such): None (default)
    = on for such manifests whenever RR runs; "RR-full" in `conditions` asks for it on any manifest with a pool.
    Each run then reports gap closed = (MR - RR-scarce) / (RR-full - RR-scarce) (emgaug.benchmark.scarce). A
    synthetic item 'none' (or None) gives that manifest no synthetic set (e.g. the EMG fraction 1 point of a sweep).
    """
    if not manifests:
        raise EmgaugError("no --manifest given; pass at least one manifest made by `emgaug split`")
    synthetic = [None if _no_synthetic(s) else s for s in synthetic]
    if synthetic and len(synthetic) != len(manifests):
        raise EmgaugError(f"{len(synthetic)} --synthetic set(s) for {len(manifests)} --manifest(s); give one synthetic set "
                          "per manifest, in the same order (or none for RR only)")
    if features not in FEATURE_KINDS:
        raise EmgaugError(f"unknown --features {features!r}; choose one of {', '.join(FEATURE_KINDS)}")
    bad = [c for c in classifiers if c not in CLASSIFIERS]
    if bad:
        raise EmgaugError(f"unknown classifier(s) {', '.join(bad)}; choose from {', '.join(CLASSIFIERS)}")
    if not 0 < resample_fraction <= 1:
        raise EmgaugError(f"--resample-fraction must be in (0, 1], got {resample_fraction}")
    seed_list = _seed_list(seeds)
    conditions = tuple(normalise_condition(c) for c in conditions)
    bad = [c for c in conditions if c not in ALL_CONDITIONS]
    if bad or not conditions:
        raise EmgaugError(f"unknown condition(s) {', '.join(bad) or '(none given)'}; choose from {', '.join(ALL_CONDITIONS)}")
    aug_specs = parse_augment(augment)
    if (classifiers and not any(s is not None for s in synthetic) and not aug_specs
            and not {"RR", RR_FULL} & set(conditions)):
        raise EmgaugError(f"conditions {','.join(conditions)} need --synthetic sets or --augment; add RR or pass one")
    from emgaug.device import resolve_device

    dev = str(resolve_device(device)) if any(c in ("tds_rnn", "neuropose") for c in classifiers) else "cpu"
    config = BenchmarkConfig(
        manifests=tuple(str(m) for m in manifests),
        synthetic=tuple("none" if s is None else str(s) if isinstance(s, (str, Path)) else "<in-memory>"
                        for s in synthetic),
        classifiers=tuple(classifiers), seeds=tuple(seed_list), conditions=conditions,
        augment=tuple(a.spec for a in aug_specs), mix_ratio=mix_ratio, features=features,
        resample_fraction=float(resample_fraction), rr_full=rr_full, metrics=metrics, max_test_windows=max_test_windows,
        max_train_windows=max_train_windows, window_s=window_s, stride_s=stride_s, device=dev, dtw_method=dtw_method,
        dtw_band=dtw_band, n_jobs=n_jobs, max_memory_gb=max_memory_gb)
    results: dict[str, Any] = {"tool": "emgaug benchmark", "code_version": code_version(), "command": command_line(),
                               "created_utc": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
                               "config": asdict(config), "augmentations": [a.to_dict() for a in aug_specs],
                               "runs": []}
    plots = []
    store = FeatureStore(Path(out) / "feature_cache" if out is not None else None)  # shared by every manifest
    for i, mpath in enumerate(manifests):
        run, plot = _run_one(Path(mpath), synthetic[i] if synthetic else None, config, aug_specs, show_progress, store)
        results["runs"].append(run)
        plots.append(plot)
    results["feature_cache"] = store.summary()
    if out is not None:
        from emgaug.benchmark.outputs import write_outputs

        write_outputs(results, plots, Path(out))
    return results


def _run_one(mpath: Path, synth_item: Any, config: BenchmarkConfig, augment: list[AugmentSpec],
             show_progress: bool, store: FeatureStore | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
    m = load_manifest(mpath)
    synth, synth_path = _load_synthetic(synth_item, config.max_memory_gb) if synth_item is not None else (None, None)
    window = resolve_window(m, synth.metadata if synth is not None else None, config.window_s, config.stride_s)
    class_names = [s for s, _ in sorted(m.label_map().items(), key=lambda kv: kv[1])]
    classifiers = list(config.classifiers)
    max_train, max_test, max_gb = config.max_train_windows, config.max_test_windows, config.max_memory_gb
    run: dict[str, Any] = {"manifest": str(mpath), "manifest_sha256": file_sha256(mpath), "protocol": m.protocol,
                           "dataset": m.source, "window": window.to_dict(), "classes": class_names,
                           "synthetic": synth_path}
    scarce = scarce_info(m.params)
    if scarce is not None:
        run["scarce"] = scarce
    if m.splits.get(CALIBRATION):
        run["new_person"] = {"calibration_s": m.params.get("calibration_s"),
                             "reference_split": ((synth.metadata.get("person") or {}).get("reference_split")
                                                 if synth is not None else None)}
    has_pool = bool(m.splits.get(KINEMATICS_POOL))
    if RR_FULL in config.conditions and not has_pool:
        raise EmgaugError(f"{mpath}: RR-full trains on the kinematics pool's withheld EMG, and this manifest has no "
                          "pool; make one with `emgaug split --emg-fraction`")
    want_full = bool(has_pool and classifiers) and config.rr_full is not False and (
        RR_FULL in config.conditions or config.rr_full is True or (scarce is not None and "RR" in config.conditions))
    conditions = tuple(c for c in ALL_CONDITIONS if c in config.conditions or (c == RR_FULL and want_full))
    run["conditions"] = list(conditions)  # as run here: RR-full is added for scarce manifests
    leak = None
    if synth is not None:
        leak = check_leakage(m, synth.labels, synth.metadata, synth_path)
        run["synthetic_metadata"] = {k: synth.metadata.get(k) for k in SYNTH_META_KEYS if k in synth.metadata}
        run["leakage_check"] = leak.to_dict()
        if synth.metadata.get("oracle"):
            run["oracle"] = {"source_split": synth.metadata.get("source_split"),
                             "note": "oracle: the REAL EMG of the windows, written as a synthetic set (the ceiling of "
                                     "GR/MR; from the kinematics pool it is a sanctioned read of withheld EMG)"}
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
        need_train = bool(classifiers) or (config.metrics and synth is not None)  # metrics use it for TRTS
        train, split_counts = (real_training_windows(m, window, max_train, seed=0, progress=adv, max_gb=max_gb)
                               if need_train else (None, {}))
        test = load_split_windows(m, "test", window, max_test, seed=0, progress=adv, max_gb=max_gb) if classifiers else None
        # the one benchmark read of the pool's withheld EMG: the RR-full upper reference, labelled in every output
        withheld = (read_withheld_windows(m, window, RR_FULL, max_train, seed=0, progress=adv, max_gb=max_gb)
                    if want_full else None)
        if withheld is not None:
            run["withheld_read"] = {"purpose": RR_FULL, "windows": len(withheld), "split": KINEMATICS_POOL,
                                    "note": "RR-full = RR-scarce's windows plus the kinematics pool's real EMG: the "
                                            "upper reference of the scarce-EMG benchmark, never a training source of "
                                            "RR/GR/MR"}
        prog.update(t_read, total=prog.tasks[t_read].completed)
        synth_lw = synthetic_windows(synth, m, window, m.data_source.num_channels) if synth is not None else None
        run["counts"] = {"train_windows": len(train) if train is not None else 0, **split_counts,
                         "test_windows": len(test) if test is not None else 0,
                         "synthetic_windows": len(synth_lw) if synth_lw is not None else 0,
                         "withheld_windows": len(withheld) if withheld is not None else 0}
        if test is not None and "user" in test.meta:
            run["counts"]["test_windows_per_user"] = {str(u): int(n) for u, n in
                                                      test.meta["user"].astype(str).value_counts().sort_index().items()}
        if classifiers:
            synth_train = synth_lw
            if synth_lw is not None and max_train is not None and len(synth_lw) > max_train:
                synth_train = synth_lw.subset(np.sort(np.random.default_rng(0).choice(len(synth_lw), max_train, replace=False)))
            if isinstance(synth, SyntheticSource) and synth_train is not None and set(classifiers) & {"tds_rnn", "neuropose"}:
                synth.guard(len(synth_train))  # the deep decoders hold their windows: refuse now, not after RR
            n_cond = len(active_conditions(conditions, synth is not None, augment, withheld is not None))
            t_fit = prog.add_task(f"{m.protocol}: training classifiers", total=len(classifiers) * n_cond * len(config.seeds))
            rows = run_conditions(train, test, synth_train, classifiers, list(config.seeds), class_names,
                                 mix_ratio=config.mix_ratio, features=config.features, device=config.device,
                                 n_jobs=config.n_jobs, conditions=conditions, augment=augment,
                                 resample_fraction=config.resample_fraction, withheld=withheld, feature_store=store,
                                 progress=lambda msg: prog.update(t_fit, advance=1, description=f"{m.protocol}: {msg}"))
            run["results"] = rows
            run["summary"] = summarise(rows)
            run["classifier_average"] = average_over_classifiers(rows)
            run["comparisons"] = paired_comparisons(rows)
            gaps = gap_closed(rows)
            if gaps:
                run["gap_closed"] = gaps
        if config.metrics and synth_lw is not None:
            t_pair = prog.add_task(f"{m.protocol}: reading paired real windows", total=None)
            real_p, idx, info = paired_real_windows(m, synth_lw, max_pairs=max_test, seed=0,
                                                    progress=lambda k: prog.advance(t_pair, k))
            prog.update(t_pair, total=prog.tasks[t_pair].completed)
            if len(idx) == 0:
                console.print(f"[yellow]{synth_path}: no synthetic window matches real rows of {m.data_source.root} "
                              "(e.g. angles from a kinematics-only pool); similarity metrics skipped[/yellow]")
                run["similarity_skipped"] = info
                return run, plot
            synth_p = synth_lw.subset(idx).emg  # only the paired windows are read
            t_met = prog.add_task(f"{m.protocol}: similarity metrics", total=len(idx))
            sim = similarity_report(real_p, synth_p, fs, dtw_method=config.dtw_method, dtw_band=config.dtw_band,
                                    synth_labels=synth_lw.labels[idx], trts_train=(train.emg, train.labels),
                                    n_jobs=config.n_jobs, keep_per_pair=True, features=config.similarity_features,
                                    progress=lambda k: prog.advance(t_met, k))
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
    if not classifiers and not (config.metrics and synth is not None):
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
