"""Sharded synthesis speed (issue 18 item 5): `emgaug synthesize` on 1 process vs `torchrun --nproc_per_node N`
(gloo, CPU), the same set (checked: rows sorted by row_id, EMG bytes equal), configurations run round robin.

    python perf/bench_sharded_synthesis.py --ranks 2 --repeats 3 --samples-per-window 4 --batch-size 32

Without --checkpoint it simulates the built-in dataset, splits it cross-subject and trains a 1-epoch seqemg_gan
(default size; 64 windows: the weights do not matter for speed) in a temporary folder. Every run is a fresh CLI
process; two times are reported: the command's wall time (process start to exit, including Python/torch imports
and torchrun's rendezvous) and the synthesis time the command prints (checkpoint load, window reads, generation,
writing and, for ranks, the finalize). One thread per process (OMP_NUM_THREADS=1, torchrun's default for several
ranks; the 1-process baseline gets the same, which is its faster setting on 2 shared cores: see --threads).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

LINE = re.compile(r"= ([\d,]+) windows in ([\d.]+) s total")


def _run(cmd: list[str], cwd: Path, threads: int) -> tuple[float, float, int, str]:
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "COLUMNS": "200"}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    m = LINE.search(" ".join(res.stdout.split()))
    if m is None:
        raise SystemExit(f"no summary line in:\n{res.stdout}")
    return wall, float(m.group(2)), int(m.group(1).replace(",", "")), res.stdout


def _prepare(work: Path) -> Path:
    emgaug = [sys.executable, "-m", "emgaug"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for cmd in (["simulate", "--out", "data", "--seed", "0"],
                ["split", "--data", "data", "--protocol", "cross-subject", "--seed", "0", "--out", "m.json"],
                ["train", "--manifest", "m.json", "--model", "seqemg_gan", "--profile", "fast", "--epochs", "1",
                 "--max-train-windows", "64", "--device", "cpu", "--out", "ck"]):
        subprocess.run(emgaug + cmd, cwd=work, env=env, check=True, capture_output=True)
    return work / "ck" / "best.pt"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, help="generator checkpoint (default: train a small one on built-in data)")
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--samples-per-window", type=int, default=4)
    ap.add_argument("--stride-s", type=float, default=0.1)
    ap.add_argument("--batch-size", type=int, default=32, help="the unit of work the ranks share")
    ap.add_argument("--max-windows", type=int, default=None)
    ap.add_argument("--threads", type=int, default=1, help="OMP threads of the 1-process baseline")
    ap.add_argument("--json", type=Path, help="write the measurements here")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_shards-"))
    try:
        ckpt = args.checkpoint.resolve() if args.checkpoint else _prepare(work)
        common = ["synthesize", "--checkpoint", str(ckpt), "--device", "cpu", "--overwrite", "--stride-s",
                  str(args.stride_s), "--samples-per-window", str(args.samples_per_window), "--batch-size",
                  str(args.batch_size)]
        if args.max_windows:
            common += ["--max-windows", str(args.max_windows)]
        configs = {
            "1 process": ([sys.executable, "-m", "emgaug", *common, "--out", "one"], args.threads),
            f"torchrun {args.ranks} ranks (gloo)": (
                [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(args.ranks),
                 "-m", "emgaug", *common, "--out", "ranks"], 1),
        }
        results: dict[str, list[tuple[float, float, int]]] = {k: [] for k in configs}
        for _ in range(args.repeats):
            for name, (cmd, threads) in configs.items():
                wall, synth, rows, _ = _run(cmd, work, threads)
                results[name].append((wall, synth, rows))
        from emgaug.synthesis import read_synthetic

        a, b = read_synthetic(work / "one"), read_synthetic(work / "ranks")
        same = a.emg.tobytes() == b.emg.tobytes() and a.labels.equals(b.labels)
        base = {k: min(r[0] for r in v) for k, v in results.items()}
        base_s = {k: min(r[1] for r in v) for k, v in results.items()}
        t = Table(title=f"synthesize, {len(a):,} windows ({ckpt.parent.name}), best of {args.repeats}, "
                        f"{os.cpu_count()} CPUs; same rows and EMG bytes: {same}")
        for c in ("configuration", "wall s", "synthesis s", "windows/s (synthesis)", "wall vs 1 process",
                  "synthesis vs 1 process"):
            t.add_column(c, justify="right" if c != "configuration" else "left")
        first = next(iter(configs))
        for name in configs:
            rows = results[name][0][2]
            t.add_row(name, f"{base[name]:.1f}", f"{base_s[name]:.1f}", f"{rows / base_s[name]:,.1f}",
                      f"{base[name] / base[first]:.2f}x", f"{base_s[name] / base_s[first]:.2f}x")
        Console(width=160).print(t)
        out = {"windows": len(a), "same_rows": same, "repeats": args.repeats, "cpus": os.cpu_count(),
               "runs": {k: [{"wall_s": w, "synthesis_s": s, "rows": r} for w, s, r in v] for k, v in results.items()}}
        print(json.dumps(out))
        if args.json:
            args.json.write_text(json.dumps(out, indent=2) + "\n")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
