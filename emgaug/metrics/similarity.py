"""The full similarity suite between paired real and synthetic windows, computed in parallel chunks.

`similarity_report` is the one entry point: per-pair metrics (FFT-MSE, DTW, EECC, PSD log-distance, median/mean
frequency error, kurtosis difference, inter-channel correlation distance) are summarised as mean, SD and median
over pairs; set-level scores (discriminative score, TRTS) are single numbers.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from emgaug.metrics import paired
from emgaug.metrics.discriminative import discriminative_score, trts_accuracy
from emgaug.metrics.dtw import DTW_METHODS, band_samples, paired_dtw
from emgaug.metrics.features import WindowFeatures

# name -> (direction, unit); direction "lower" / "higher" / "0.5" says which value is better
PAIR_METRICS: dict[str, tuple[str, str]] = {
    "fft_mse": ("lower", "raw units^2"),
    "dtw": ("lower", "raw units x samples"),
    "eecc": ("higher", "Pearson r"),
    "psd_log_distance_db": ("lower", "dB"),
    "median_freq_error_hz": ("lower", "Hz"),
    "mean_freq_error_hz": ("lower", "Hz"),
    "kurtosis_difference": ("lower", "excess kurtosis"),
    "channel_corr_distance": ("lower", "Frobenius"),
}
SET_METRICS: dict[str, tuple[str, str]] = {
    "discriminative_score": ("0.5", "accuracy (0.5 ideal)"),
    "trts_accuracy": ("higher", "accuracy"),
}


def default_jobs() -> int:
    """Worker processes for metric chunks: the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def pair_metrics_chunk(real: np.ndarray, synth: np.ndarray, sample_rate: float, dtw_method: str = "exact",
                       dtw_band: float | None = 0.1, fastdtw_radius: int = 1, envelope_s: float = paired.ENVELOPE_S,
                       psd_band: tuple[float, float] = paired.PSD_BAND_HZ, with_dtw: bool = True) -> dict[str, np.ndarray]:
    """Every per-pair metric for one chunk of (n, C, T) pairs -> {name: (n,) array}."""
    out = {
        "fft_mse": paired.fft_mse(real, synth),
        "eecc": paired.eecc(real, synth, sample_rate, envelope_s),
        **paired.spectral_metrics(real, synth, sample_rate, psd_band),
        "kurtosis_difference": paired.kurtosis_difference(real, synth),
        "channel_corr_distance": paired.channel_correlation_distance(real, synth),
    }
    if with_dtw:
        out["dtw"] = paired_dtw(real, synth, method=dtw_method, band=dtw_band, radius=fastdtw_radius)
    return out


def _timed_chunk(real: np.ndarray, synth: np.ndarray, **kw) -> tuple[dict[str, np.ndarray], float]:
    """pair_metrics_chunk plus the CPU seconds it used in its (worker) process."""
    t0 = time.process_time()
    out = pair_metrics_chunk(real, synth, **kw)
    return out, time.process_time() - t0


def _summary(v: np.ndarray) -> dict[str, float]:
    ok = v[np.isfinite(v)]
    if len(ok) == 0:
        return {"mean": float("nan"), "sd": float("nan"), "median": float("nan"), "n": 0}
    return {"mean": float(ok.mean()), "sd": float(ok.std(ddof=1)) if len(ok) > 1 else 0.0,
            "median": float(np.median(ok)), "n": int(len(ok))}


def similarity_report(real: np.ndarray, synth: np.ndarray, sample_rate: float, *, dtw_method: str = "exact",
                      dtw_band: float | None = 0.1, fastdtw_radius: int = 1, with_dtw: bool = True,
                      envelope_s: float = paired.ENVELOPE_S, psd_band: tuple[float, float] = paired.PSD_BAND_HZ,
                      real_labels: np.ndarray | None = None, synth_labels: np.ndarray | None = None,
                      trts_train: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0, n_jobs: int | None = None,
                      chunk_size: int = 32, keep_per_pair: bool = False, features: str = "td",
                      progress: Callable[[int], Any] | None = None) -> dict[str, Any]:
    """Compare synthetic windows with the real windows of the same conditioning angles (pair i <-> i).

    real, synth: (n, C, T) raw-unit arrays. Returns {"n_pairs", "settings", "metrics": {name: {mean, sd, median, n,
    better, unit}}, "seconds"} plus "per_pair" arrays when keep_per_pair. TRTS trains on `trts_train` (emg, labels)
    when given, else on the paired real windows with `real_labels`; it needs `synth_labels`. `progress(k)` is
    called with the number of pairs finished after each chunk. `features` (td or amplitude) is what the discriminative
    score and TRTS see; amplitude floors are fitted on the TRTS training windows when given, else on the real windows.
    """
    real, synth = paired.check_pair(real, synth, dtype=np.float32)
    if dtw_method not in DTW_METHODS:
        raise ValueError(f"unknown DTW method {dtw_method!r}; choose one of {DTW_METHODS}")
    t0, cpu0 = time.perf_counter(), time.process_time()
    n = len(real)
    jobs = default_jobs() if n_jobs in (None, 0, -1) else max(1, int(n_jobs))
    kw = dict(sample_rate=sample_rate, dtw_method=dtw_method, dtw_band=dtw_band, fastdtw_radius=fastdtw_radius,
              envelope_s=envelope_s, psd_band=psd_band, with_dtw=with_dtw)
    bounds = [(i, min(n, i + chunk_size)) for i in range(0, n, chunk_size)]
    parts: list[dict[str, np.ndarray]] = []
    worker_cpu = 0.0
    if jobs == 1 or len(bounds) <= 1:
        for a, b in bounds:
            parts.append(pair_metrics_chunk(real[a:b], synth[a:b], **kw))
            if progress:
                progress(b - a)
    else:
        from joblib import Parallel, delayed

        par = Parallel(n_jobs=jobs, backend="loky", return_as="generator")
        for (a, b), (part, cpu) in zip(bounds, par(delayed(_timed_chunk)(real[a:b], synth[a:b], **kw) for a, b in bounds)):
            parts.append(part)
            worker_cpu += cpu
            if progress:
                progress(b - a)
    per_pair = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]} if parts else {}
    metrics: dict[str, dict[str, Any]] = {}
    for name, arr in per_pair.items():
        better, unit = PAIR_METRICS[name]
        metrics[name] = {**_summary(arr), "better": better, "unit": unit}
    if n >= 4:
        fmap = WindowFeatures(features).fit(trts_train[0] if trts_train is not None else real)
        feats_r, feats_s = fmap.transform(real), fmap.transform(synth)
        folds = int(min(5, n))
        ds = discriminative_score(real, synth, seed=seed, folds=folds, n_jobs=jobs, real_features=feats_r,
                                  synth_features=feats_s)
        metrics["discriminative_score"] = {"mean": ds, "sd": float("nan"), "median": ds, "n": 2 * n, "better": "0.5",
                                           "unit": SET_METRICS["discriminative_score"][1]}
        if synth_labels is not None and (trts_train is not None or real_labels is not None):
            tr_emg, tr_lab = trts_train if trts_train is not None else (real, real_labels)
            acc = trts_accuracy(tr_emg, tr_lab, synth, synth_labels, seed=seed, n_jobs=jobs,
                                train_features=fmap.transform(tr_emg) if trts_train is not None else feats_r,
                                synth_features=feats_s)
            metrics["trts_accuracy"] = {"mean": acc, "sd": float("nan"), "median": acc, "n": n, "better": "higher",
                                        "unit": SET_METRICS["trts_accuracy"][1]}
    settings = {"sample_rate": float(sample_rate), "dtw_method": dtw_method,
                "dtw_band_fraction": dtw_band if dtw_method == "exact" else None,
                "dtw_band_samples": band_samples(real.shape[-1], dtw_band) if dtw_method == "exact" else None,
                "fastdtw_radius": fastdtw_radius if dtw_method == "fastdtw" else None, "dtw_cost": "L1 |a-b|",
                "envelope_s": envelope_s, "psd_band_hz": list(psd_band), "welch_nperseg": min(paired.WELCH_NPERSEG, real.shape[-1]),
                "n_jobs": jobs, "seed": seed, "classifier_features": features}
    out = {"n_pairs": n, "channels": int(real.shape[1]), "samples": int(real.shape[2]), "settings": settings,
           "metrics": metrics, "seconds": time.perf_counter() - t0,
           "cpu_seconds": time.process_time() - cpu0 + worker_cpu}  # this process (all threads) + metric workers
    if keep_per_pair:
        out["per_pair"] = per_pair
    return out
