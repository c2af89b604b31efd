"""Speed of the similarity metrics (issue 7, part 1), against the paper's own tool in the same run.

1. DTW on 16-channel windows of 2,000 samples: exact DTW in C (dtaidistance, L1 cost), unconstrained and with the
   default 10 % Sakoe-Chiba band, vs fastdtw (radius 1, L1 cost, pure Python) on the same pairs.
   Target: the default exact DTW >= 20x faster than fastdtw.
2. The full metric suite (`similarity_report`: every per-pair metric incl. banded exact DTW, discriminative score,
   TRTS) on N test windows of 16 x 2,000 with --jobs workers. Target: 2,500 windows in < 5 minutes on 2 cores.
   Run at reduced N on a busy machine: the time is measured at two sizes, fitted as fixed + per-pair cost, and
   extrapolated to --target-n (printed as an extrapolation, with the load average at the time).

Usage: python perf/bench_metrics.py [--pairs 6] [--n 160] [--target-n 2500] [--jobs 2] [--full]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from rich.console import Console
from rich.table import Table
from scipy import signal as sps

from emgaug.metrics.dtw import band_samples, dtw_l1_exact, dtw_l1_fastdtw, paired_dtw
from emgaug.metrics.similarity import similarity_report

C, T, FS = 16, 2000, 2000.0


def emg_like(n: int, seed: int) -> np.ndarray:
    """Band-limited (20-450 Hz) Gaussian noise with a slow random envelope: (n, 16, 2000) float32."""
    rng = np.random.default_rng(seed)
    b, a = sps.butter(4, [20, 450], btype="band", fs=FS)
    x = sps.lfilter(b, a, rng.standard_normal((n, C, T)), axis=-1)
    env = 1 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.5, 2, (n, C, 1)) * np.arange(T) / FS + rng.uniform(0, 6, (n, C, 1)))
    return (x * env * 50).astype(np.float32)


def time_dtw(real: np.ndarray, synth: np.ndarray, console: Console) -> list[tuple[str, float, float]]:
    """(name, seconds per channel pair, mean distance) for each DTW variant on the same pairs."""
    pairs = [(real[i, c].astype(np.float64), synth[i, c].astype(np.float64)) for i in range(len(real)) for c in range(C)]
    band = band_samples(T, 0.1)
    out = []
    for name, fn in (("fastdtw radius 1 (pure Python, L1)", lambda a, b: dtw_l1_fastdtw(a, b, 1)),
                     ("exact DTW, unconstrained (dtaidistance C, L1)", lambda a, b: dtw_l1_exact(a, b)),
                     (f"exact DTW, band 10 % = {band} samples (C, L1)", lambda a, b: dtw_l1_exact(a, b, band))):
        t0 = time.perf_counter()
        d = [fn(a, b) for a, b in pairs]
        dt = (time.perf_counter() - t0) / len(pairs)
        out.append((name, dt, float(np.mean(d))))
        console.print(f"  {name}: {dt * 1e3:.2f} ms per channel pair")
    return out


def time_suite(n: int, jobs: int) -> tuple[float, float]:
    """(wall seconds, CPU seconds summed over the main process and the metric workers) of one full suite run."""
    real, synth = emg_like(n, 1), emg_like(n, 2)
    labels = np.arange(n) % 6
    t0 = time.perf_counter()
    rep = similarity_report(real, synth, FS, synth_labels=labels, trts_train=(real, labels), n_jobs=jobs)
    return time.perf_counter() - t0, rep["cpu_seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pairs", type=int, default=6, help="window pairs for the DTW comparison (x16 channel pairs)")
    ap.add_argument("--n", type=int, default=160, help="windows for the measured suite run (a second run uses n/2)")
    ap.add_argument("--target-n", type=int, default=2500)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--full", action="store_true", help="measure the suite at --target-n directly (no extrapolation)")
    args = ap.parse_args()
    console = Console()
    load0 = os.getloadavg()
    console.print(f"CPUs usable: {len(os.sched_getaffinity(0))}, load average {load0[0]:.2f} (1 min) before the run")

    console.print(f"DTW on {args.pairs} pairs x {C} channels of {T} samples:")
    res = time_dtw(emg_like(args.pairs, 3), emg_like(args.pairs, 4), console)
    fast = res[0][1]
    t = Table(title="DTW per channel pair (same pairs, one process)", title_justify="left")
    for col in ("method", "ms / pair", "speed-up vs fastdtw", "mean distance"):
        t.add_column(col, justify="right" if col != "method" else "left")
    for name, dt, d in res:
        t.add_row(name, f"{dt * 1e3:.2f}", f"{fast / dt:.1f}x", f"{d:.1f}")
    # the suite's path: banded exact DTW over chunks of pairs in --jobs processes
    from joblib import Parallel, delayed

    real, synth = emg_like(4 * args.jobs, 5), emg_like(4 * args.jobs, 6)
    par_run = Parallel(n_jobs=args.jobs)
    par_run(delayed(paired_dtw)(real[i:i + 1, :1], synth[i:i + 1, :1], band=0.1) for i in range(args.jobs))  # start workers
    t0 = time.perf_counter()
    par_run(delayed(paired_dtw)(real[i:i + 4], synth[i:i + 4], band=0.1) for i in range(0, len(real), 4))
    par = (time.perf_counter() - t0) / (len(real) * C)
    t.add_row(f"exact DTW, band 10 %, {args.jobs} processes (suite path)", f"{par * 1e3:.2f}", f"{fast / par:.1f}x", "")
    console.print(t)

    t2 = Table(title=f"Full similarity suite on 16 x {T} windows, {args.jobs} worker(s)", title_justify="left")
    for col in ("windows", "wall s", "CPU s", f"CPU s / {args.jobs} (idle-machine wall)", "kind"):
        t2.add_column(col, justify="right")
    if args.full:
        s, cpu = time_suite(args.target_n, args.jobs)
        t2.add_row(str(args.target_n), f"{s:.1f}", f"{cpu:.1f}", f"{cpu / args.jobs:.1f}", "measured")
        est, est_cpu = s, cpu
    else:
        n1, n2 = max(8, args.n // 2), args.n
        (s1, c1), (s2, c2) = time_suite(n1, args.jobs), time_suite(n2, args.jobs)

        def extrapolate(a: float, b: float) -> tuple[float, float, float]:
            slope = max((b - a) / (n2 - n1), 1e-9)
            fixed = max(a - slope * n1, 0.0)
            return fixed + slope * args.target_n, fixed, slope

        est, fixed, slope = extrapolate(s1, s2)
        est_cpu, _, cslope = extrapolate(c1, c2)
        t2.add_row(str(n1), f"{s1:.1f}", f"{c1:.1f}", f"{c1 / args.jobs:.1f}", "measured")
        t2.add_row(str(n2), f"{s2:.1f}", f"{c2:.1f}", f"{c2 / args.jobs:.1f}", "measured")
        t2.add_row(str(args.target_n), f"{est:.1f}", f"{est_cpu:.1f}", f"{est_cpu / args.jobs:.1f}",
                   f"extrapolated (wall {fixed:.1f} s + {slope * 1e3:.0f} ms/window; CPU {cslope * 1e3:.0f} ms/window)")
    console.print(t2)
    load1 = os.getloadavg()
    shared = max(load0[0], load1[0]) > len(os.sched_getaffinity(0))
    console.print(f"load average after: {load1[0]:.2f}; "
                  + ("the machine was shared (load > CPUs): times are upper bounds" if shared else ""))
    console.print(f"targets: default exact DTW >= 20x faster than fastdtw: {'met' if fast / res[2][1] >= 20 else 'NOT met'} "
                  f"(single process {fast / res[2][1]:.1f}x, {args.jobs} processes {fast / par:.1f}x; unconstrained exact "
                  f"{fast / res[1][1]:.1f}x); suite on {args.target_n} windows < 300 s: {'met' if est < 300 else 'NOT met'} "
                  f"on this machine now ({est:.0f} s wall), {'met' if est_cpu / args.jobs < 300 else 'NOT met'} on "
                  f"{args.jobs} idle cores ({est_cpu / args.jobs:.0f} s = CPU seconds / {args.jobs})")


if __name__ == "__main__":
    main()
