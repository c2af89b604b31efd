"""Data-loading benchmark (issue 7.2): windows/s through WindowDataset + DataLoader workers vs a plain h5py read
of the same bytes, and peak resident memory for a small vs a large built-in dataset (it must not grow with files).

    python perf/bench_data_loading.py --files-small 10 --files-large 1000 --workers 0 2 4

Each configuration runs in a fresh subprocess so its peak RSS (ru_maxrss) is its own.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve()


def _dataset(root: Path, files: int) -> Path:
    """A built-in dataset with about `files` files (users x 2 sessions x 8 stages), created once and reused."""
    from emgaug.data.simulate import DEFAULT_STAGES, simulate_dataset

    users = max(1, round(files / (2 * len(DEFAULT_STAGES))))
    out = root / f"sim_{users * 2 * len(DEFAULT_STAGES)}files"
    if not (out / "metadata.csv").is_file():
        simulate_dataset(out, seed=0, users=users, sessions=2, reps=3, held_out_users=1 if users > 2 else 0)
    return out


def _child(args: argparse.Namespace) -> None:
    """Measure one configuration in this (fresh) process and print a JSON line."""
    import h5py
    import numpy as np
    from torch.utils.data import DataLoader

    from emgaug.data.source import open_source
    from emgaug.data.windows import WindowConfig, WindowDataset

    src = open_source(args.data)
    ds = WindowDataset(src, src.recordings, WindowConfig(window_s=1.0, stride_s=0.5).resolve(src.sample_rate))
    n = len(ds)
    t0 = time.perf_counter()
    if args.mode == "plain_h5py":  # the peer: read the same row ranges with h5py, no masking/pooling/tensors
        files: dict[str, h5py.File] = {}
        for i in range(n):
            meta = ds.window_meta(i)
            f = files.get(meta["filename"])
            if f is None:
                f = files[meta["filename"]] = h5py.File(Path(src.root) / f"{meta['filename']}.hdf5", "r")
            rows = f["emg2pose"]["timeseries"][meta["start"]:meta["stop"]]
            np.ascontiguousarray(rows["emg"].T)
    else:
        loader = DataLoader(ds, batch_size=32, num_workers=args.workers, shuffle=False)
        for _ in loader:
            pass
    dt = time.perf_counter() - t0
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"windows": n, "seconds": dt, "rss_mb": own, "worker_rss_mb": kids, "files": len(src.recordings)}))


def _run(data: Path, mode: str, workers: int) -> dict:
    out = subprocess.run([sys.executable, str(HERE), "--child", "--data", str(data), "--mode", mode, "--workers", str(workers)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path)
    ap.add_argument("--mode", default="dataloader")
    ap.add_argument("--workers", type=int, nargs="*", default=[0, 2])
    ap.add_argument("--files-small", type=int, default=10)
    ap.add_argument("--files-large", type=int, default=1000)
    ap.add_argument("--cache", type=Path, default=Path("runs/bench_data"))
    args = ap.parse_args()
    if args.child:
        args.workers = args.workers[0]
        return _child(args)
    console = Console()
    table = Table(title="Window loading from emg2pose-format HDF5 (1 s windows of 16 x 2000, stride 0.5 s)")
    for c in ("files", "loader", "windows", "windows/s", "peak RSS main (MB)", "peak RSS worker (MB)"):
        table.add_column(c, justify="right")
    for files in (args.files_small, args.files_large):
        with console.status(f"preparing ~{files} files"):
            data = _dataset(args.cache, files)
        runs = [("plain_h5py", 0)] + [("dataloader", w) for w in args.workers]
        for mode, w in runs:
            r = _run(data, mode, w)
            label = "plain h5py read (peer)" if mode == "plain_h5py" else f"WindowDataset, {w} workers"
            table.add_row(str(r["files"]), label, str(r["windows"]), f"{r['windows'] / r['seconds']:.0f}",
                          f"{r['rss_mb']:.0f}", f"{r['worker_rss_mb']:.0f}" if w else "-")
    console.print(table)


if __name__ == "__main__":
    main()
