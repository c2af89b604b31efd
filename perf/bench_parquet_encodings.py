"""Parquet encodings for the synthetic set's float arrays (issue 18 item 4): file size, write and read speed of
PLAIN, BYTE_STREAM_SPLIT and dictionary encoding under snappy / zstd / none, on two realistic shapes:

* emg2pose-like: 2,000 windows of 16 x 2,000 float32 surface EMG (20-450 Hz band-limited Gaussian noise at 2 kHz,
  amplitude-modulated by a slow activation envelope, volts ~1e-5..1e-4: every mantissa bit is noise, as in
  generator output);
* DB1-like: 2,000 windows of 10 x 100 float32 RMS envelopes at 100 Hz (positive, smooth, 0.01..2).

    python perf/bench_parquet_encodings.py [--windows 2000] [--repeats 3] [--keep DIR]

One thread (pyarrow's CPU pool set to 1) so the numbers compare options, not cores. Write = building the Parquet
file from an Arrow table already in memory; read = `pq.read_table` + the fixed-size list flattened to one numpy
array (what `emgaug.synthesis.read_synthetic` does). Speeds are MB of raw float32 per CPU second of this process
(user + system; best of `--repeats`, options run round robin): on a shared machine other processes' load moved
wall-time speeds by 2-5x between runs. `--keep DIR` leaves one file per option for checking other engines (e.g.
Spark 3.5's vectorised reader, which refuses BYTE_STREAM_SPLIT).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

# (name, writer options) for the float column; label strings are dictionary-encoded in every option
OPTIONS = {
    "plain/snappy": dict(compression="snappy", use_dictionary=False),
    "plain/zstd": dict(compression="zstd", use_dictionary=False),
    "plain/none": dict(compression="none", use_dictionary=False),
    "bss/snappy": dict(compression="snappy", use_dictionary=False, use_byte_stream_split=True),
    "bss/zstd": dict(compression="zstd", use_dictionary=False, use_byte_stream_split=True),
    "dict/snappy": dict(compression="snappy", use_dictionary=True),
    "dict/zstd": dict(compression="zstd", use_dictionary=True),
}


def emg_like(n: int, C: int = 16, T: int = 2000, fs: float = 2000.0, seed: int = 0) -> np.ndarray:
    """Band-limited (20-450 Hz) Gaussian noise times a slow per-channel activation envelope, in volts."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, C, T), np.float32)
    f = np.fft.rfftfreq(T, 1 / fs)
    band = ((f >= 20) & (f <= 450)).astype(np.float32)
    t = np.arange(T) / fs
    for lo in range(0, n, 100):
        k = min(100, n - lo)
        x = np.fft.irfft(np.fft.rfft(rng.standard_normal((k, C, T)), axis=-1) * band, n=T, axis=-1)
        env = 1.0 + 0.8 * np.sin(2 * np.pi * rng.uniform(0.3, 2, (k, C, 1)) * t + rng.uniform(0, 6.3, (k, C, 1)))
        out[lo:lo + k] = (x / x.std() * env * rng.uniform(1e-5, 1e-4, (k, C, 1))).astype(np.float32)
    return out


def envelope_like(n: int, C: int = 10, T: int = 100, seed: int = 1) -> np.ndarray:
    """Positive smooth RMS envelopes (Ninapro DB1's 10 x 100-sample windows at 100 Hz)."""
    rng = np.random.default_rng(seed)
    x = np.cumsum(rng.standard_normal((n, C, T)), axis=-1)
    x = np.abs(x - x.mean(-1, keepdims=True)) / (np.abs(x).max(-1, keepdims=True) + 1e-9)
    return (0.01 + 2.0 * x * rng.uniform(0.1, 1.0, (n, C, 1))).astype(np.float32)


def table_of(arr: np.ndarray) -> pa.Table:
    n = arr.shape[0]
    width = int(np.prod(arr.shape[1:]))
    return pa.table({
        "user": pa.array([f"user{i // 250:03d}" for i in range(n)]),
        "filename": pa.array([f"file{i // 50:05d}" for i in range(n)]),
        "row_id": pa.array(np.arange(n, dtype=np.int64)),
        "emg": pa.FixedSizeListArray.from_arrays(pa.array(arr.reshape(-1)), width),
    })


def write_read(table: pa.Table, path: Path, opts: dict, rows_per_group: int) -> tuple[float, float]:
    """CPU seconds (this process) to write `table` to `path` with `opts`, and to read it back into one numpy array."""
    kw = dict(opts)
    bss = kw.pop("use_byte_stream_split", False)
    use_dict = ["user", "filename"] + (["emg.list.element"] if kw.pop("use_dictionary") else [])
    t = time.process_time()
    pq.write_table(table, path, row_group_size=rows_per_group, use_dictionary=use_dict,
                   use_byte_stream_split=["emg.list.element"] if bss else False, write_page_checksum=True, **kw)
    t_write = time.process_time() - t
    t = time.process_time()
    got = pq.read_table(path).column("emg")
    flat = np.concatenate([c.flatten().to_numpy() for c in got.chunks])
    t_read = time.process_time() - t
    assert flat.nbytes == table.column("emg").combine_chunks().values.nbytes
    return t_write, t_read


def summary(path: Path, raw: int, writes: list[float], reads: list[float]) -> dict:
    md = pq.ParquetFile(path).metadata
    encodings = sorted({e for g in range(md.num_row_groups) for e in md.row_group(g).column(3).encodings})
    size = path.stat().st_size
    return {"bytes": size, "ratio": size / raw, "write_MBps": raw / 1e6 / min(writes), "read_MBps": raw / 1e6 / min(reads),
            "encodings": encodings}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=2000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None, help="folder that keeps one file per (data, option)")
    ap.add_argument("--json", type=Path, default=None, help="also write the results here")
    a = ap.parse_args(argv)
    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    out_dir = a.keep or Path("/tmp") / f"emgaug_bench_parquet_{time.time_ns()}"
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    for name, make, row_bytes in (("emg2pose 16x2000", emg_like, 16 * 2000 * 4), ("db1 10x100", envelope_like, 10 * 100 * 4)):
        table = table_of(make(a.windows))
        rows_per_group = max(1, (16 << 20) // row_bytes)  # the writer's ~16 MB row groups
        print(f"\n{name}: {a.windows} windows, {table.column('emg').combine_chunks().values.nbytes / 1e6:.0f} MB raw float32")
        print(f"{'option':<14}{'MB on disk':>11}{'ratio':>7}{'write MB/cpu-s':>15}{'read MB/cpu-s':>14}  encodings")
        raw = table.column("emg").combine_chunks().values.nbytes
        paths = {opt: out_dir / f"{name.split()[0]}-{opt.replace('/', '-')}.parquet" for opt in OPTIONS}
        times: dict[str, list[tuple[float, float]]] = {opt: [] for opt in OPTIONS}
        for _ in range(a.repeats):  # round robin, so load changes on a shared machine hit every option alike
            for opt, kw in OPTIONS.items():
                times[opt].append(write_read(table, paths[opt], kw, rows_per_group))
        for opt in OPTIONS:
            path = paths[opt]
            r = summary(path, raw, [w for w, _ in times[opt]], [r for _, r in times[opt]])
            results[f"{name}|{opt}"] = r
            print(f"{opt:<14}{r['bytes'] / 1e6:>11.1f}{r['ratio']:>7.3f}{r['write_MBps']:>15.0f}{r['read_MBps']:>14.0f}  "
                  f"{','.join(r['encodings'])}")
            if a.keep is None:
                path.unlink()
    if a.keep is None:
        out_dir.rmdir()
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
