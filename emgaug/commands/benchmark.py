"""`emgaug benchmark`: RR / GR / MR classifier accuracy and similarity metrics for real vs synthetic EMG."""

from __future__ import annotations

from pathlib import Path

import typer

from emgaug.console import console


def benchmark(
    manifest: list[Path] = typer.Option(..., "--manifest", help="Split manifest (repeatable: one per split protocol)."),
    synthetic: list[Path] | None = typer.Option(None, "--synthetic", help="Synthetic set made for the matching "
                                                   "--manifest's train split (repeatable, paired in order); 'none' "
                                                   "for a manifest without one (e.g. EMG fraction 1 in a sweep)."),
    classifiers: str = typer.Option("svm,rf,tds_rnn,neuropose", help="Comma list of svm, rf, tds_rnn, neuropose, "
                                    "svm_nystroem; 'none' for similarity metrics only. svm is the exact RBF SVM (fit "
                                    "~n^2: up to ~20,000 training windows); svm_nystroem approximates its kernel "
                                    "(1,000 Nystroem features, linear SVM) and scales linearly."),
    seeds: int = typer.Option(5, help="Seeds per classifier and condition (results are mean ± SD)."),
    conditions: str = typer.Option("RR,GR,MR", help="Comma list of training conditions to run; e.g. GR,MR when one "
                                   "RR run (same manifest, seeds and caps) is shared by several synthetic sets. "
                                   "RR-full: the scarce-EMG upper reference (see --rr-full)."),
    mix_ratio: float = typer.Option(1.0, help="MR: synthetic windows added per real training window."),
    features: str = typer.Option("td", help="SVM/RF input (and the discriminative score's): td (time-domain "
                                 "features), amplitude (log MAV, RMS, WL per channel, floored; suits envelopes) or "
                                 "raw (flattened windows, as in the paper)."),
    augment: str = typer.Option("none", help="Classic augmentations of the real training windows, each with its own "
                                "GR/MR rows: comma list of noise, magwarp, timewarp, crop, gain, mixup; parameters as "
                                "name@key=value;key=value (e.g. noise@snr_db=20)."),
    resample_fraction: float | None = typer.Option(None, help="Each seed trains on a seeded class-stratified "
                                                      "subsample of this fraction of the training windows (every "
                                                      "condition), so seeds differ for every classifier (default "
                                                      "0.8); 1 = all windows every seed."),
    rr_full: bool | None = typer.Option(None, "--rr-full/--no-rr-full", help="Scarce-EMG manifests (emgaug split "
                                           "--emg-fraction): also train RR-full, RR's windows plus the kinematics "
                                           "pool's withheld real EMG (the upper reference of gap closed = (MR - "
                                           "RR-scarce) / (RR-full - RR-scarce)); default: on for such manifests when "
                                           "RR runs."),
    metrics: bool = typer.Option(True, "--metrics/--no-metrics", help="Compute similarity metrics (needs --synthetic)."),
    max_test_windows: int | None = typer.Option(None, help="Cap on real test windows and on similarity pairs (seeded subset)."),
    max_train_windows: int | None = typer.Option(None, help="Cap on real and on synthetic training windows (seeded subset)."),
    window_s: float | None = typer.Option(None, help="Window length when no synthetic set fixes it (default 1 s)."),
    stride_s: float | None = typer.Option(None, help="Stride of the real windows (default: half a window)."),
    dtw: str = typer.Option("exact", help="DTW: exact (dtaidistance C, L1 cost) or fastdtw (paper-compatible, radius 1)."),
    dtw_band: float = typer.Option(0.1, help="Exact DTW Sakoe-Chiba half-width as a fraction of the window; 0 = unconstrained."),
    jobs: int | None = typer.Option(None, help="Worker processes for metrics and RandomForest (default: all usable CPUs)."),
    max_memory_gb: float = typer.Option(8.0, help="Refuse (with the cap to pass) when a split's windows would exceed this many GiB."),
    device: str = typer.Option("auto", help="Deep decoders: auto (CUDA when present), cpu or cuda[:N]."),
    out: Path = typer.Option(Path("benchmark_out"), help="Folder for results.json, results.csv and report.html; "
                             "SVM / RandomForest features are cached in its feature_cache/ (keyed by the windows' "
                             "fingerprint) and reused by later runs on the same sets."),
) -> None:
    """Train each classifier on real (RR), synthetic (GR) and mixed (MR) data, test on the real held-out split, and
    compare synthetic with real windows of the same joint angles."""
    from emgaug.benchmark.classifiers import parse_classifiers
    from emgaug.benchmark.runner import run_benchmark
    from emgaug.benchmark.tables import print_tables
    from emgaug.errors import EmgaugError

    if dtw not in ("exact", "fastdtw"):
        raise EmgaugError(f"unknown --dtw {dtw!r}; choose exact or fastdtw")
    results = run_benchmark(manifest, synthetic or [], classifiers=parse_classifiers(classifiers), seeds=seeds,
                            mix_ratio=mix_ratio, features=features, metrics=metrics, max_test_windows=max_test_windows,
                            max_train_windows=max_train_windows, window_s=window_s, stride_s=stride_s, device=device,
                            dtw_method=dtw, dtw_band=dtw_band or None, n_jobs=jobs, out=out,
                            max_memory_gb=max_memory_gb,
                            conditions=[c.strip().upper() for c in conditions.split(",") if c.strip()],
                            augment=augment, rr_full=rr_full,
                            **({"resample_fraction": resample_fraction} if resample_fraction is not None else {}))
    print_tables(results, console)
    console.print(f"wrote {out / 'results.json'}, {out / 'results.csv'} and {out / 'report.html'}")
