"""Synthesis-output benchmark (issue 7.4): windows/s written to Parquet by emgaug's streaming `SyntheticWriter`
and peak resident memory as the set grows (1k vs 10k windows: it must stay flat), against two naive peers
in the same run: pandas `DataFrame.to_parquet` of the whole set held in memory, and `np.save` of whole arrays.

    python perf/bench_synthesis.py --sizes 1000 10000 --channels 16 --window 2000

Every configuration runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own. All methods receive
the same batches from the same producer (seeded Gaussian EMG of emg2pose's shape, 64 windows per batch), so
the difference is the writing strategy. `--e2e` adds a full `synthesize_set` run (ridge checkpoint on the
built-in dataset: window reads + generation + writing) for scale.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve()
E2E_STRIDE_S = 0.01  # heavily overlapping 1-s windows, so a small dataset yields 10k+ angle windows
METHODS = ("emgaug_writer", "pandas_to_parquet", "np_save")
LEGEND = {"emgaug_writer": "emgaug SyntheticWriter: streamed row groups (16 MB), zstd + PLAIN floats, labels + provenance",
          "pandas_to_parquet": "peer: the whole set in one pandas DataFrame, then DataFrame.to_parquet",
          "np_save": "peer: the whole set in numpy arrays, then np.save (no labels, no metadata)",
          "e2e": "synthesize_set end to end: ridge checkpoint, CPU, window reads + generation + writing"}


def _batches(n: int, C: int, T: int, J: int, Ta: int, batch: int):
    """The shared producer: (emg, angles, labels) batches, deterministic, identical for every method."""
    import numpy as np
    import pandas as pd

    for b, lo in enumerate(range(0, n, batch)):
        k = min(batch, n - lo)
        rng = np.random.default_rng((0, b))
        emg = rng.standard_normal((k, C, T), dtype=np.float32) * 50.0
        ang = rng.standard_normal((k, J, Ta), dtype=np.float32)
        idx = np.arange(lo, lo + k)
        labels = pd.DataFrame({"stage": [f"stage{i % 8}" for i in idx], "user": "u0", "session": "s0", "side": "right",
                               "filename": [f"file{i // 50}" for i in idx], "split": "train", "start": idx * T,
                               "stop": idx * T + T, "sample_index": 0, "window_index": idx})
        yield emg, ang, labels


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _child(args: argparse.Namespace) -> None:
    """Run one (method, size) in this fresh process; print one JSON line."""
    import numpy as np
    import pandas as pd

    if args.mode in ("emgaug_writer", "e2e"):
        import emgaug.synthesis.parquet_io  # noqa: F401 - import cost is not part of the measurement
    if args.mode == "e2e":
        import emgaug.synthesis.generate  # noqa: F401
        import emgaug.training.checkpoint  # noqa: F401
    out = Path(args.out)
    C, T, J, Ta = args.channels, args.window, args.joints, args.window // args.angle_downsample
    base = _rss_mb()
    t0 = time.perf_counter()
    if args.mode == "emgaug_writer":
        from emgaug.synthesis import SyntheticWriter

        meta = {"model_name": "bench", "checkpoint_sha256": "0" * 64, "sample_rate": 2000.0}
        with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, Ta), metadata=meta) as w:
            for emg, ang, labels in _batches(args.n, C, T, J, Ta, args.batch):
                w.write_batch(emg, ang, labels)
    elif args.mode == "pandas_to_parquet":
        frames = []
        for emg, ang, labels in _batches(args.n, C, T, J, Ta, args.batch):
            labels = labels.copy()
            labels["emg"] = list(emg.reshape(len(emg), -1))
            labels["angles"] = list(ang.reshape(len(ang), -1))
            frames.append(labels)
        pd.concat(frames, ignore_index=True).to_parquet(out)
    elif args.mode == "np_save":
        emgs, angs = [], []
        for emg, ang, _ in _batches(args.n, C, T, J, Ta, args.batch):
            emgs.append(emg)
            angs.append(ang)
        out.mkdir()
        np.save(out / "emg.npy", np.concatenate(emgs))
        np.save(out / "angles.npy", np.concatenate(angs))
    elif args.mode == "e2e":
        from emgaug.synthesis.generate import synthesize_set

        synthesize_set(args.checkpoint, out, max_windows=args.n, batch_size=args.batch, device="cpu", stride_s=E2E_STRIDE_S)
    seconds = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in (out.rglob("*") if out.is_dir() else [out]) if p.is_file())
    print(json.dumps({"mode": args.mode, "n": args.n, "seconds": seconds, "peak_rss_mb": _rss_mb(),
                      "base_rss_mb": base, "bytes": size}))


def _run_child(mode: str, n: int, args: argparse.Namespace, tmp: Path, checkpoint: Path | None = None) -> dict:
    out = tmp / f"{mode}_{n}" / ("set.parquet" if mode == "pandas_to_parquet" else "set")
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, str(HERE), "--child", mode, "--n", str(n), "--out", str(out), "--channels", str(args.channels),
           "--window", str(args.window), "--joints", str(args.joints), "--angle-downsample", str(args.angle_downsample),
           "--batch", str(args.batch)]
    if checkpoint is not None:
        cmd += ["--checkpoint", str(checkpoint)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"{mode} n={n} failed:\n{res.stderr[-3000:]}")
    shutil.rmtree(out.parent, ignore_errors=True)
    return json.loads(res.stdout.strip().splitlines()[-1])


def _e2e_checkpoint(tmp: Path) -> Path:
    """A ridge checkpoint on a small built-in dataset (4 users, 64 files; E2E_STRIDE_S gives ~13k angle windows)."""
    import torch

    from emgaug.data.simulate import simulate_dataset
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split
    from emgaug.data.windows import WindowConfig, WindowDataset, compute_norm_stats
    from emgaug.models.registry import build_model
    from emgaug.provenance import code_version
    from emgaug.training.checkpoint import save_checkpoint

    data = simulate_dataset(tmp / "sim", seed=0, users=4, sessions=2, reps=3, held_out_users=0, held_out_stages=0)
    m = make_split(open_source(data), "sample-wise", seed=0, val_frac=0.0, test_frac=0.1, block_s=1.0, gap_s=1.0)
    m.save(tmp / "manifest.json")
    recs = m.recordings("train")
    win = WindowConfig(window_s=1.0, stride_s=1.0).resolve(m.data_source.sample_rate)
    norm = compute_norm_stats(m.data_source, recs)
    lm = m.label_map()
    model = build_model("ridge", m.data_source.num_channels, m.data_source.num_joints, win, len(lm))
    model.fit(torch.utils.data.DataLoader(WindowDataset(m.data_source, recs, win, norm=norm, label_map=lm), batch_size=64))
    return save_checkpoint(tmp / "ridge.pt", {
        "model_name": "ridge", "model_config": model.config, "model_state": model.state_dict(),
        "num_channels": m.data_source.num_channels, "num_joints": m.data_source.num_joints, "num_classes": len(lm),
        "window": win.to_dict(), "norm": norm.to_dict(), "label_map": lm, "manifest_path": str(tmp / "manifest.json"),
        "seed": 0, "code_version": code_version(), "epoch": 1, "config": {"model": "ridge", "bench": True}})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000], help="windows per run")
    ap.add_argument("--channels", type=int, default=16)
    ap.add_argument("--window", type=int, default=2000, help="EMG samples per window (1 s at 2 kHz)")
    ap.add_argument("--joints", type=int, default=20)
    ap.add_argument("--angle-downsample", type=int, default=40, help="EMG samples per angle frame (2 kHz -> 50 Hz)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--e2e", action="store_true", help="also time synthesize_set end to end (ridge, CPU)")
    ap.add_argument("--tmp", type=Path, default=None, help="scratch folder (default: a system temp dir)")
    ap.add_argument("--child", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--checkpoint", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        args.mode = args.child
        _child(args)
        return
    console = Console()
    tmp = Path(tempfile.mkdtemp(prefix="emgaug_bench_syn_", dir=args.tmp))
    rows = []
    try:
        for n in args.sizes:
            for mode in args.methods:
                console.print(f"[dim]running {mode} with {n:,} windows ...[/dim]")
                rows.append(_run_child(mode, n, args, tmp))
        if args.e2e:
            ckpt = _e2e_checkpoint(tmp)
            for n in args.sizes:
                console.print(f"[dim]running synthesize_set end to end with {n:,} windows ...[/dim]")
                rows.append(_run_child("e2e", n, args, tmp, ckpt))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    win_mb = 4 * args.channels * args.window / 1e6
    t = Table(title=f"Synthetic set output: {args.channels} ch x {args.window} samples per window "
                    f"({win_mb * 1e3:.0f} kB of EMG), batches of {args.batch}")
    for c in ("method", "windows", "seconds", "windows/s", "EMG MB/s", "peak RSS MB", "RSS growth MB", "output MB"):
        t.add_column(c, justify="left" if c == "method" else "right")
    for r in rows:
        t.add_row(r["mode"], f"{r['n']:,}", f"{r['seconds']:.2f}", f"{r['n'] / r['seconds']:,.0f}",
                  f"{r['n'] * win_mb / r['seconds']:,.0f}", f"{r['peak_rss_mb']:,.0f}",
                  f"{r['peak_rss_mb'] - r['base_rss_mb']:,.0f}", f"{r['bytes'] / 1e6:,.0f}")
    console.print(t)
    for k, v in LEGEND.items():
        console.print(f"  {k}: {v}")
    console.print("RSS growth = peak RSS minus RSS after imports. A streamed writer's growth stays flat as the set grows; "
                  "whole-set peers grow with it.")


if __name__ == "__main__":
    main()
