"""Benchmark wall time, feature-stage time and peak memory with a synthetic set of N windows, cold (features computed
and written to <out>/feature_cache) and warm (read back), plus the exact vs Nystroem SVM fit times (issue 18 item 5).

    python perf/bench_feature_cache.py --windows 20000 200000 --classifiers svm_nystroem,rf
    python perf/bench_feature_cache.py --svm-scaling 2000 5000 10000 20000

The data: the built-in simulated dataset (16 channels, 2 kHz), split cross-subject, 0.25 s windows; the synthetic
set is N windows made from the real training windows plus noise (so GR / MR learn something), written with
emgaug's SyntheticWriter. Each benchmark run is a fresh `emgaug benchmark` process (`--no-metrics`, so the set is
streamed for features and never held); its peak RSS is that process's ru_maxrss, the feature stage the time
results.json records under feature_cache.seconds (computing or reading every window set's statistics).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WINDOW_S = 0.25


def _run(cmd: list[str], cwd: Path) -> tuple[float, float, str]:
    """(wall s, peak RSS MiB, stdout) of a child process."""
    env = {**os.environ, "COLUMNS": "200"}
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    out = p.stdout.read()
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-4000:]}")
    return wall, ru.ru_maxrss / 1024.0, out


def _prepare(work: Path) -> Path:
    emgaug = [sys.executable, "-m", "emgaug"]
    subprocess.run(emgaug + ["simulate", "--out", "data", "--seed", "0"], cwd=work, check=True, capture_output=True)
    subprocess.run(emgaug + ["split", "--data", "data", "--protocol", "cross-subject", "--seed", "0", "--out",
                             "m.json"], cwd=work, check=True, capture_output=True)
    return work / "m.json"


def _write_set(manifest: Path, out: Path, n: int) -> float:
    """N windows: real training windows cycled, each with its own noise (10 % of the window's SD); seconds taken."""
    import numpy as np

    from emgaug.benchmark.data import load_split_windows
    from emgaug.data.manifest import load_manifest
    from emgaug.data.windows import WindowConfig
    from emgaug.synthesis.parquet_io import SyntheticWriter

    t0 = time.perf_counter()
    m = load_manifest(manifest)
    win = WindowConfig(window_s=WINDOW_S, stride_s=WINDOW_S, angle_rate_hz=50.0).resolve(m.data_source.sample_rate)
    real = load_split_windows(m, "train", win)
    J, Ta = m.data_source.num_joints, win.angle_frames
    meta = {"model_name": "noisy_copy", "checkpoint_sha256": "0" * 64, "manifest_path": str(manifest),
            "source_split": "train", "allow_test_conditioning": False, "window": win.to_dict(),
            "sample_rate": win.sample_rate}
    rng = np.random.default_rng(0)
    with SyntheticWriter(out, emg_shape=real.emg.shape[1:], angle_shape=(J, Ta), metadata=meta) as w:
        for lo in range(0, n, 1024):
            k = min(1024, n - lo)
            src = np.arange(lo, lo + k) % len(real)
            emg = real.emg[src] + 0.1 * real.emg[src].std(axis=2, keepdims=True) * rng.standard_normal(
                (k, *real.emg.shape[1:]), dtype=np.float32)
            labels = real.meta.iloc[src].reset_index(drop=True)
            labels["split"] = "train"
            labels["sample_index"] = (np.arange(lo, lo + k) // len(real)).astype(np.int32)
            labels["window_index"] = src
            w.write_batch(emg, np.zeros((k, J, Ta), np.float32), labels)
    return time.perf_counter() - t0


def _benchmark(args: argparse.Namespace, work: Path, manifest: Path) -> list[dict]:
    rows = []
    for n in args.windows:
        syn = work / f"syn{n}"
        write_s = _write_set(manifest, syn, n)
        size = sum(p.stat().st_size for p in syn.rglob("*.parquet")) / 2**30
        out = work / f"bench{n}"
        cmd = [sys.executable, "-m", "emgaug", "benchmark", "--manifest", str(manifest), "--synthetic", str(syn),
               "--classifiers", args.classifiers, "--seeds", str(args.seeds), "--no-metrics", "--stride-s",
               str(WINDOW_S), "--out", str(out), "--jobs", str(args.jobs)]
        for state in ("cold (features computed, cache written)", "warm (features read from the cache)"):
            wall, rss, _ = _run(cmd, work)
            res = json.loads((out / "results.json").read_text())
            fc = res["feature_cache"]
            rows.append({"synthetic_windows": n, "set_gib_on_disk": round(size, 2), "write_s": round(write_s, 1),
                         "state": state, "wall_s": round(wall, 1), "feature_stage_s": fc["seconds"],
                         "computed": fc["computed"], "from_cache": fc["from_cache"], "peak_rss_mib": round(rss),
                         "fits": len(res["runs"][0]["results"])})
            print(json.dumps(rows[-1]), flush=True)
        shutil.rmtree(syn, ignore_errors=True)
    return rows


def _svm_scaling(sizes: list[int]) -> list[dict]:
    import numpy as np

    from emgaug.benchmark.classifiers import make_classifier

    rows = []
    rng = np.random.default_rng(0)
    C, F, K = 16, 9, 8  # TD features of 16 channels, 8 classes
    centers = rng.standard_normal((K, C * F)).astype(np.float32)
    for n in sizes:
        y = rng.integers(0, K, n)
        x = centers[y] + 6.0 * rng.standard_normal((n, C * F)).astype(np.float32)
        yt = rng.integers(0, K, 2000)
        xt = centers[yt] + 6.0 * rng.standard_normal((2000, C * F)).astype(np.float32)
        for name in ("svm", "svm_nystroem"):
            clf = make_classifier(name, 0, K, features="td")
            est = clf.make_estimator()
            t0 = time.process_time()
            est.fit(x, y)
            fit = time.process_time() - t0
            acc = float((est.predict(xt) == yt).mean())
            rows.append({"classifier": name, "train_windows": n, "fit_cpu_s": round(fit, 2), "accuracy": round(acc, 3)})
            print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, nargs="*", default=[20000], help="synthetic set sizes")
    ap.add_argument("--classifiers", default="svm_nystroem,rf")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--svm-scaling", type=int, nargs="*", default=[], help="training sizes for exact vs Nystroem SVM")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_features-"))
    out: dict = {}
    try:
        if args.windows:
            out["benchmark"] = _benchmark(args, work, _prepare(work))
        if args.svm_scaling:
            out["svm_scaling"] = _svm_scaling(args.svm_scaling)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
