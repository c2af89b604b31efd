"""Seeded fuzzing of emgaug's inputs (issue 16): mutate the built-in dataset, a split manifest and a Parquet
synthetic set at random, run the command that consumes each through the CLI error boundary, and classify.

    python tests/fuzz_hostile.py --cases 500 --seed 0 [--work DIR] [--report fuzz.json]

Each case copies a pristine input, applies one mutation and runs:
  dataset  -> `emgaug split` then `emgaug train --model ridge` (closed form, deterministic)
  data_after_split -> `emgaug train --model ridge` with the pristine manifest over the mutated data (the outputs
              must equal the pristine ones unless refused: the manifest's fingerprints and entry checks)
  manifest -> `emgaug train --model ridge` on the pristine data
  parquet  -> `emgaug benchmark --conditions GR --classifiers rf` against the pristine manifest

Outcomes: refused (exit 2 ending in exactly one `error:` line), traceback (an uncaught exception, an
`unexpected ...` crash line (exit 1), or any traceback text), accepted (exit 0), other (anything else).
An accepted case is a SILENT CORRUPTION when the oracle for its mutation class fails:
  hostile  (path traversal, aliases, symlinks out, missing files): never acceptable;
  binary   (flipped/truncated/replaced bytes, non-finite EMG, broken attributes, damaged Parquet parts or
            metadata): the outputs must equal the pristine ones (same split entries, allclose ridge weights; the
            same synthetic arrays and labels read back), i.e. the damage was in bytes nobody reads;
  edit     (metadata.csv and manifest edits, masked angles, unlisted extra files, huge but finite values): the
            outputs must respect the invariants: every file inside the dataset folder, no physical file in two of
            train/val/test, entries matching the data they name, the protocol's leakage rules re-derived from the
            data, finite weights.
Exit status 0 when tracebacks and silent corruptions are both 0.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import sys
import tempfile
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import h5py  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TRAIN = ["--model", "ridge", "--window-s", "0.2", "--stride-s", "0.2", "--device", "cpu", "--max-val-windows", "4"]
BENCH = ["--classifiers", "rf", "--seeds", "1", "--no-metrics", "--conditions", "GR", "--device", "cpu", "--jobs", "1"]
HOSTILE, BINARY, EDIT = "hostile", "binary", "edit"


# --- running the CLI in-process ---------------------------------------------------------------------------------------
def run_cli(args: list[str]) -> tuple[int, str]:
    from emgaug import cli
    from emgaug.data.handles import close_all

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
        try:
            code = cli.run([str(a) for a in args])
        except BaseException:  # noqa: BLE001 - escaping the boundary is exactly what we count
            code = -1
            buf.write("\nTraceback (escaped the CLI boundary):\n" + traceback.format_exc())
    close_all()
    return code, buf.getvalue()


def classify(code: int, text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    if code == -1 or "Traceback" in text or (code == 1 and any("unexpected" in ln for ln in errors)):
        return "traceback"
    if code == 0:
        return "accepted"
    if code == 2 and len(errors) == 1 and lines[-1] == errors[0]:
        return "refused"
    return "other"


# --- pristine inputs ----------------------------------------------------------------------------------------------
class Pristine:
    def __init__(self, work: Path):
        from emgaug.data.simulate import simulate_dataset
        from emgaug.synthesis.parquet_io import read_synthetic

        self.dir = work / "pristine"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.data = simulate_dataset(self.dir / "data", seed=0, users=3, sessions=2, reps=1, stages=("click", "fist"),
                                     held_out_users=1, held_out_stages=0)
        self.manifest = self.dir / "m.json"
        self._ok(run_cli(["split", "--data", self.data, "--out", self.manifest]))
        self._ok(run_cli(["train", "--manifest", self.manifest, "--out", self.dir / "ridge", *TRAIN]))
        self.checkpoint = self.dir / "ridge" / "best.pt"
        self.weights = load_weights(self.checkpoint)
        self.synthetic = self.dir / "syn"
        self._ok(run_cli(["synthesize", "--checkpoint", self.checkpoint, "--out", self.synthetic, "--max-windows", "24",
                          "--device", "cpu"]))
        self.set = read_synthetic(self.synthetic)
        self._ok(run_cli(["benchmark", "--manifest", self.manifest, "--synthetic", self.synthetic, "--out",
                          self.dir / "bench", *BENCH]))
        self.entries = entry_table(json.loads(self.manifest.read_text()))

    @staticmethod
    def _ok(res: tuple[int, str]) -> None:
        if res[0] != 0:
            raise SystemExit(f"pristine setup failed:\n{res[1]}")


def load_weights(path: Path) -> dict[str, np.ndarray]:
    import torch

    ck = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v.detach().double().numpy() for k, v in ck["model_state"].items() if torch.is_tensor(v)}


def entry_table(d: dict) -> dict[str, list[tuple]]:
    keep = ("key", "filename", "user", "session", "stage", "start", "stop")
    return {s: sorted(tuple(str(e.get(k)) for k in keep) for e in es) for s, es in d["splits"].items()}


def weights_close(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    return a.keys() == b.keys() and all(a[k].shape == b[k].shape and np.allclose(a[k], b[k], rtol=1e-4, atol=1e-6)
                                        for k in a)


def weights_finite(w: dict[str, np.ndarray]) -> bool:
    return all(np.isfinite(v).all() for v in w.values())


# --- byte-level helpers -----------------------------------------------------------------------------------------------
def flip_bytes(path: Path, rng: random.Random, k: int) -> str:
    raw = bytearray(path.read_bytes())
    if not raw:
        return "empty"
    where = []
    for _ in range(k):
        i = rng.randrange(len(raw))
        raw[i] ^= 1 << rng.randrange(8)
        where.append(i)
    path.write_bytes(bytes(raw))
    return f"offsets {sorted(where)}"


def truncate(path: Path, rng: random.Random) -> str:
    n = path.stat().st_size
    keep = rng.randrange(max(1, n))
    with open(path, "r+b") as f:
        f.truncate(keep)
    return f"{keep}/{n} bytes"


# --- dataset mutations --------------------------------------------------------------------------------------------
def _meta(d: Path) -> pd.DataFrame:
    return pd.read_csv(d / "metadata.csv", dtype=str, keep_default_na=False)


def _save_meta(d: Path, df: pd.DataFrame) -> None:
    df.to_csv(d / "metadata.csv", index=False)


def _h5(d: Path, rng: random.Random) -> Path:
    return rng.choice(sorted(d.glob("*.hdf5")))


def m_csv_traversal(d, rng):
    outside = d.parent / "outside"
    outside.mkdir(exist_ok=True)
    shutil.copy(_h5(d, rng), outside / "secret.hdf5")
    df = _meta(d)
    i = rng.randrange(len(df))
    df.loc[i, "filename"] = rng.choice(["../outside/secret", "../outside/secret.hdf5", "./../outside/secret"])
    _save_meta(d, df)
    return HOSTILE, f"row {i}"


def m_csv_absolute(d, rng):
    df = _meta(d)
    i = rng.randrange(len(df))
    df.loc[i, "filename"] = str(_h5(d, rng).resolve())
    _save_meta(d, df)
    return HOSTILE, f"row {i}"


def m_csv_alias(d, rng):
    df = _meta(d)
    i = rng.randrange(len(df))
    (d / "sub").mkdir(exist_ok=True)
    name = df.loc[i, "filename"]
    alias = rng.choice([f"./{name}", f"{name}.hdf5", f"./{name}.hdf5", f"sub/../{name}", f".//{name}"])
    row = df.iloc[[i]].assign(filename=alias)
    if rng.random() < 0.5:  # relabel the alias as another user, so it lands in another split
        row = row.assign(user="sim002" if df.loc[i, "user"] != "sim002" else "sim000")
    _save_meta(d, pd.concat([df, row], ignore_index=True))
    return HOSTILE, alias


def m_csv_dup(d, rng):
    df = _meta(d)
    i = rng.randrange(len(df))
    _save_meta(d, pd.concat([df, df.iloc[[i]]], ignore_index=True))
    return HOSTILE, f"row {i}"


def m_symlink_out(d, rng):
    f = _h5(d, rng)
    target = d.parent / "elsewhere.hdf5"
    shutil.move(f, target)
    os.symlink(target, f)
    return HOSTILE, f.name


def m_symlink_alias(d, rng):
    f = _h5(d, rng)
    os.symlink(f, d / "alias.hdf5")
    df = _meta(d)
    row = df[df["filename"] == f.stem].assign(filename="alias", user="sim002")
    _save_meta(d, pd.concat([df, row], ignore_index=True))
    return HOSTILE, f.name


def m_delete_file(d, rng):
    f = _h5(d, rng)
    f.unlink()
    return HOSTILE, f.name


def m_csv_blank(d, rng):
    df = _meta(d)
    i, col = rng.randrange(len(df)), rng.choice(["user", "session", "stage", "side", "filename"])
    df.loc[i, col] = rng.choice(["", "  "])
    _save_meta(d, df)
    return EDIT, f"{col} row {i}"


def m_csv_drop_column(d, rng):
    df = _meta(d)
    col = rng.choice(list(df.columns))
    _save_meta(d, df.drop(columns=[col]))
    return EDIT, col


def m_csv_flip(d, rng):
    return EDIT, flip_bytes(d / "metadata.csv", rng, rng.randint(1, 6))


def m_csv_truncate(d, rng):
    return EDIT, truncate(d / "metadata.csv", rng)


def m_csv_shuffle(d, rng):
    df = _meta(d)
    idx = list(range(len(df)))
    rng.shuffle(idx)
    _save_meta(d, df.iloc[idx])
    return EDIT, "shuffled"


def m_csv_relabel(d, rng):
    df = _meta(d)
    i = rng.randrange(len(df))
    col = rng.choice(["user", "session", "stage", "held_out_user", "split", "side"])
    df.loc[i, col] = rng.choice(["sim000", "sim002", "zzz", "True", "False", "fist", "ü\u200b", "1e9", "nan"])
    _save_meta(d, df)
    return EDIT, f"{col} row {i}"


def m_csv_weird_filename(d, rng):
    df = _meta(d)
    i = rng.randrange(len(df))
    df.loc[i, "filename"] = rng.choice(["a\tb", "x\x01", "ü" * 300, "." , "..", "sub/", "metadata.csv", "*", "%s%n"])
    _save_meta(d, df)
    return EDIT, repr(df.loc[i, "filename"])[:40]


def m_csv_garbage(d, rng):
    (d / "metadata.csv").write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(0, 400))))
    return EDIT, "random bytes"


def m_extra_files(d, rng):
    (d / "notes.txt").write_text("not data")
    (d / "unlisted.hdf5").write_bytes(b"\x00" * 100)
    return EDIT, "unlisted files"


def m_swap_files(d, rng):
    a, b = rng.sample(sorted(d.glob("*.hdf5")), 2)
    tmp = a.with_suffix(".swap")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    return EDIT, f"{a.name} <-> {b.name}"  # before a split metadata.csv's labels are the truth; after one, a change


def m_h5_flip(d, rng):
    f = _h5(d, rng)
    return BINARY, f"{f.name} {flip_bytes(f, rng, rng.choice([1, 1, 2, 4, 16]))}"


def m_h5_truncate(d, rng):
    f = _h5(d, rng)
    return BINARY, f"{f.name} {truncate(f, rng)}"


def m_h5_zero_block(d, rng):
    f = _h5(d, rng)
    raw = bytearray(f.read_bytes())
    i = rng.randrange(len(raw))
    raw[i:i + 4096] = bytes(len(raw[i:i + 4096]))
    f.write_bytes(bytes(raw))
    return BINARY, f"{f.name} @{i}"


def m_h5_replace(d, rng):
    f = _h5(d, rng)
    f.write_bytes(rng.choice([b"", bytes(rng.randrange(256) for _ in range(2000)), b"\x89HDF\r\n\x1a\n" + b"\x00" * 64]))
    return BINARY, f.name


def _edit_rows(f: Path, field: str, fn: Callable[[np.ndarray], None]) -> None:
    with h5py.File(f, "r+") as h:
        ds = h["emg2pose"]["timeseries"]
        rows = ds[:]
        fn(rows[field])
        ds[...] = rows


def m_h5_emg_nonfinite(d, rng):
    f = _h5(d, rng)
    value = rng.choice([np.nan, np.inf, -np.inf])

    def poison(emg):
        a = rng.randrange(len(emg))
        emg[a:a + rng.randint(1, 50), rng.randrange(emg.shape[1])] = value
    _edit_rows(f, "emg", poison)
    return BINARY, f"{f.name} {value}"


def m_h5_angles_nonfinite(d, rng):
    f = _h5(d, rng)

    def poison(ang):
        a = rng.randrange(len(ang))
        ang[a:a + rng.randint(1, 200), rng.randrange(ang.shape[1])] = rng.choice([np.nan, np.inf, -np.inf])
    _edit_rows(f, "joint_angles", poison)
    return EDIT, f.name


def m_h5_emg_huge(d, rng):
    f = _h5(d, rng)

    def scale(emg):
        emg *= rng.choice([1e20, 1e30, -1e25, 0.0])
    _edit_rows(f, "emg", scale)
    return EDIT, f.name


def m_h5_time(d, rng):
    f = _h5(d, rng)

    def garble(t):
        k = rng.choice(["const", "reverse", "nan_tail", "nan_head", "jitter"])
        if k == "const":
            t[:] = t[0]
        elif k == "reverse":
            t[:] = t[::-1].copy()
        elif k == "nan_tail":
            t[len(t) // 2:] = np.nan
        elif k == "nan_head":
            t[:5] = np.nan
        else:
            t += np.random.default_rng(0).normal(0, 1e-3, len(t))
    _edit_rows(f, "time", garble)
    return BINARY, f.name


def m_h5_attr(d, rng):
    f = _h5(d, rng)
    with h5py.File(f, "r+") as h:
        g = h["emg2pose"]
        k = rng.choice(["sample_rate", "sample_rate", "user", "junk"])
        v = rng.choice([0.0, -1.0, np.nan, np.inf, "abc", 1000.0, 2000.5, 4000.0, b"2000", np.array([2000.0, 1.0]),
                        np.bytes_(b"\xff\xfe")])
        if k in g.attrs:
            del g.attrs[k]
        if rng.random() < 0.9:
            g.attrs[k] = v
    return BINARY, f"{f.name} {k}={v!r}"[:80]


def m_h5_structure(d, rng):
    f = _h5(d, rng)
    k = rng.choice(["drop_ds", "rename_group", "zero_rows", "fewer_channels", "scalar_emg", "2d"])
    with h5py.File(f, "r+") as h:
        rows = h["emg2pose"]["timeseries"][:]
        attrs = dict(h["emg2pose"].attrs)
        if k == "drop_ds":
            del h["emg2pose"]["timeseries"]
        elif k == "rename_group":
            h.move("emg2pose", "other")
        else:
            del h["emg2pose"]["timeseries"]
            if k == "zero_rows":
                h["emg2pose"].create_dataset("timeseries", data=rows[:0])
            elif k == "fewer_channels":
                dt = np.dtype([("time", "<f8"), ("joint_angles", "<f8", (20,)), ("emg", "<f4", (8,))])
                new = np.empty(len(rows), dt)
                new["time"], new["joint_angles"], new["emg"] = rows["time"], rows["joint_angles"], rows["emg"][:, :8]
                h["emg2pose"].create_dataset("timeseries", data=new)
            elif k == "scalar_emg":
                dt = np.dtype([("time", "<f8"), ("joint_angles", "<f8", (20,)), ("emg", "<f4")])
                new = np.empty(len(rows), dt)
                new["time"], new["joint_angles"], new["emg"] = rows["time"], rows["joint_angles"], rows["emg"][:, 0]
                h["emg2pose"].create_dataset("timeseries", data=new)
            else:
                h["emg2pose"].create_dataset("timeseries", data=np.stack([rows, rows], axis=1))
            for a, v in attrs.items():
                h["emg2pose"].attrs[a] = v
    return BINARY, f"{f.name} {k}"


DATASET_MUTATIONS = [m_csv_traversal, m_csv_absolute, m_csv_alias, m_csv_dup, m_symlink_out, m_symlink_alias,
                     m_delete_file, m_csv_blank, m_csv_drop_column, m_csv_flip, m_csv_truncate, m_csv_shuffle,
                     m_csv_relabel, m_csv_weird_filename, m_csv_garbage, m_extra_files, m_swap_files, m_h5_flip, m_h5_flip, m_h5_flip,
                     m_h5_truncate, m_h5_zero_block, m_h5_replace, m_h5_emg_nonfinite, m_h5_angles_nonfinite,
                     m_h5_emg_huge, m_h5_time, m_h5_attr, m_h5_structure]


# --- manifest mutations (the JSON as a dict, or its bytes) ------------------------------------------------------------
def _entries(d):
    return [(s, i) for s, es in d["splits"].items() for i in range(len(es))]


def mm_move(d, rng):
    if not d["splits"].get("test"):
        return "no test"
    e = d["splits"]["test"].pop(rng.randrange(len(d["splits"]["test"])))
    if rng.random() < 0.6:
        e["user"] = rng.choice(d["splits"]["train"])["user"] if d["splits"].get("train") else "sim000"
    d["splits"].setdefault(rng.choice(["train", "val"]), []).append(e)
    return "test entry moved"


def mm_key(d, rng):
    s, i = rng.choice(_entries(d))
    t, j = rng.choice(_entries(d))
    d["splits"][s][i]["key"] = d["splits"][t][j]["key"]
    if rng.random() < 0.5:
        d["splits"][s][i]["filename"] = d["splits"][t][j]["filename"]
    return f"{s}[{i}] key <- {t}[{j}]"


def mm_rows(d, rng):
    s, i = rng.choice(_entries(d))
    e = d["splits"][s][i]
    f = rng.choice(["start", "stop"])
    e[f] = rng.choice([-1, 0, e["stop"] + 1, e["stop"] + 100000, e["start"], 2**63, 1.5, "10", None, e[f] // 2])
    return f"{s}[{i}].{f}={e[f]!r}"


def mm_overlap(d, rng):
    s, i = rng.choice(_entries(d))
    d["splits"].setdefault(rng.choice(["train", "val", "test"]), []).append(dict(d["splits"][s][i]))
    return f"dup {s}[{i}]"


def mm_split(d, rng):
    s = rng.choice(list(d["splits"]))
    if rng.random() < 0.5:
        del d["splits"][s]
    else:
        d["splits"][s] = []
    return s


def mm_protocol(d, rng):
    d["protocol"] = rng.choice(["sample-wise", "cross-session", "cross-user-stage", "bogus", "", 7])
    return repr(d["protocol"])


def mm_root(d, rng):
    d["source"].pop("root_from_manifest", None)
    d["source"]["root"] = rng.choice(["/nonexistent", "..", "../..", "", 123, None, "/", "/etc", "data/../data"])
    return repr(d["source"]["root"])


def mm_kind(d, rng):
    d["source"]["kind"] = rng.choice(["3dc", "ninapro_db1", "bogus", "auto", None, "uci_lower_limb"])
    return repr(d["source"]["kind"])


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


def mm_random_value(d, rng):
    paths = [p for p in _paths(d) if p]
    p = rng.choice(paths)
    parent = d
    for k in p[:-1]:
        parent = parent[k]
    parent[p[-1]] = rng.choice([None, [], {}, "x", -1, 0, 1e308, True, "sim000", [1, 2], {"a": 1}, "../../x"])
    return "/".join(map(str, p))


def mm_delete_key(d, rng):
    paths = [p for p in _paths(d) if p and isinstance(p[-1], str)]
    p = rng.choice(paths)
    parent = d
    for k in p[:-1]:
        parent = parent[k]
    del parent[p[-1]]
    return "/".join(map(str, p))


def mm_delete_entry(d, rng):
    s, i = rng.choice(_entries(d))
    d["splits"][s].pop(i)
    return f"{s}[{i}]"


def mm_gap(d, rng):
    d["params"]["gap_rows"] = rng.choice([-5, 0, 10**9, "x", 1.5, None])
    return repr(d["params"]["gap_rows"])


MANIFEST_DICT_MUTATIONS = [mm_move, mm_move, mm_key, mm_rows, mm_rows, mm_overlap, mm_split, mm_protocol, mm_root,
                           mm_kind, mm_random_value, mm_random_value, mm_delete_key, mm_delete_entry, mm_gap]


def mutate_manifest(src: Path, dst: Path, rng: random.Random) -> tuple[str, str]:
    if rng.random() < 0.25:
        shutil.copy(src, dst)
        if rng.random() < 0.7:
            return "json_bytes", flip_bytes(dst, rng, rng.randint(1, 8))
        return "json_truncate", truncate(dst, rng)
    d = json.loads(src.read_text())
    fn = rng.choice(MANIFEST_DICT_MUTATIONS)
    detail = fn(d, rng)
    dst.write_text(json.dumps(d))
    return fn.__name__, detail


# --- Parquet mutations --------------------------------------------------------------------------------------------
def _parts(s: Path) -> list[Path]:
    return sorted(s.glob("stage=*/*.parquet"))


def _footer(f: Path) -> tuple[dict, dict | None]:
    """(provenance, part record) from a part's metadata (the record is None when the part has none)."""
    import pyarrow.parquet as pq
    from emgaug.synthesis.schema import METADATA_KEY, PART_KEY

    kv = pq.read_metadata(f).metadata or {}
    return json.loads(kv[METADATA_KEY]), (json.loads(kv[PART_KEY]) if PART_KEY in kv else None)


def _write_part(f: Path, t, prov: dict, rec: dict | None, refresh: bool) -> None:
    """Write table `t` to part `f` with provenance `prov` and footer record `rec`, as a tool that keeps all file
    metadata would; `refresh` also makes the record's checksums and row count match the new bytes."""
    import hashlib

    import pyarrow.parquet as pq
    from emgaug.synthesis.parquet_io import _HashingFile
    from emgaug.synthesis.schema import METADATA_KEY, PART_KEY

    raw = json.dumps(prov).encode()
    t = t.replace_schema_metadata({METADATA_KEY: raw})
    tmp = f.with_name(f.name + ".edit")
    sink = _HashingFile(tmp)
    w = pq.ParquetWriter(sink, t.schema)
    w.write_table(t)
    if rec is not None:
        if refresh:
            rec = dict(rec, data_sha256=sink.hexdigest(), data_bytes=sink.nbytes, part_rows=t.num_rows,
                       provenance_sha256=hashlib.sha256(raw).hexdigest())
        w.add_key_value_metadata({PART_KEY: json.dumps(rec)})
    w.close()
    sink.close()
    tmp.replace(f)


def _refresh_sha(s: Path) -> None:
    """What a careful editor (or a buggy tool) would do: recompute the checksums so only deeper checks can tell
    (older layout: the root JSON's part_sha256; Parquet-only layout: each part's footer record)."""
    import pyarrow.parquet as pq
    from emgaug.provenance import file_sha256

    mf = s / "_emgaug_metadata.json"
    if mf.is_file():
        meta = json.loads(mf.read_text())
        meta["part_sha256"] = {p.relative_to(s).as_posix(): file_sha256(p) for p in _parts(s)}
        mf.write_text(json.dumps(meta))
        return
    for p in _parts(s):
        prov, rec = _footer(p)
        _write_part(p, pq.read_table(p), prov, rec, refresh=True)


def _rewrite_part(f: Path, fn) -> None:
    """Rewrite a part's rows through `fn`, keeping its metadata (the footer record then no longer matches)."""
    import pyarrow.parquet as pq

    prov, rec = _footer(f)
    _write_part(f, fn(pq.read_table(f)), prov, rec, refresh=False)


def mp_flip(s, rng):
    f = rng.choice(_parts(s))
    return f"{f.parent.name} {flip_bytes(f, rng, rng.choice([1, 1, 2, 8]))}"


def mp_truncate(s, rng):
    f = rng.choice(_parts(s))
    return f"{f.parent.name} {truncate(f, rng)}"


def mp_delete(s, rng):
    f = rng.choice(_parts(s))
    shutil.rmtree(f.parent) if rng.random() < 0.5 else f.unlink()
    return f.parent.name


def mp_rename(s, rng):
    f = rng.choice(_parts(s))
    f.parent.rename(f.parent.with_name(rng.choice(["stage=pinch", "stage=%2E%2E", "stage=", "stage=fist%2Fx"])))
    return f.parent.name


def mp_swap(s, rng):
    a, b = _parts(s)[:2]
    tmp = a.with_suffix(".tmp")
    a.rename(tmp)
    b.rename(a)
    tmp.rename(b)
    return "swap"


def mp_nan(s, rng):
    import pyarrow as pa

    f = rng.choice(_parts(s))

    def poison(t):
        col = t.column("emg").combine_chunks()
        flat = col.flatten().to_numpy(zero_copy_only=False).copy()
        i = rng.randrange(len(flat))
        flat[i:i + rng.randint(1, 100)] = rng.choice([np.nan, np.inf])
        arr = pa.FixedSizeListArray.from_arrays(pa.array(flat, pa.float32()), col.type.list_size)
        return t.set_column(t.schema.get_field_index("emg"), t.schema.field("emg"), arr)
    _rewrite_part(f, poison)
    if rng.random() < 0.7:
        _refresh_sha(s)
    return f.parent.name


def mp_drop_column(s, rng):
    f = rng.choice(_parts(s))
    col = rng.choice(["emg", "angles", "angle_mask", "row_id", "filename", "start", "valid_samples", "user"])
    _rewrite_part(f, lambda t: t.drop([col]))
    if rng.random() < 0.7:
        _refresh_sha(s)
    return f"{f.parent.name} -{col}"


def mp_rows(s, rng):
    f = rng.choice(_parts(s))
    k = rng.choice(["empty", "half", "dup"])
    import pyarrow as pa

    if k == "empty":
        _rewrite_part(f, lambda t: t.slice(0, 0))
    elif k == "half":
        _rewrite_part(f, lambda t: t.slice(0, t.num_rows // 2))
    else:
        _rewrite_part(f, lambda t: pa.concat_tables([t, t]))
    if rng.random() < 0.7:
        _refresh_sha(s)
    return f"{f.parent.name} {k}"


def mp_meta_bytes(s, rng):
    """Flip bytes in the metadata: a part's footer (provenance, record, schema, statistics) in the Parquet-only
    layout, the root JSON in the older one."""
    import struct

    mf = s / "_emgaug_metadata.json"
    if mf.is_file():
        if rng.random() < 0.7:
            return flip_bytes(mf, rng, rng.randint(1, 6))
        return truncate(mf, rng)
    f = rng.choice(_parts(s))
    raw = bytearray(f.read_bytes())
    footer = struct.unpack("<i", raw[-8:-4])[0]
    where = []
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(raw) - 8 - footer, len(raw) - 8)
        raw[i] ^= 1 << rng.randrange(8)
        where.append(i - (len(raw) - 8 - footer))
    f.write_bytes(bytes(raw))
    return f"{f.parent.name} footer offsets {sorted(where)}"


def mp_meta_edit(s, rng):
    """Edit one metadata key; in the Parquet-only layout the same edit in every part (provenance or footer record),
    with the record's checksums made to match 70% of the time."""
    import pyarrow.parquet as pq

    value = None if rng.random() < 0.4 else rng.choice([None, [], {}, "x", -1, 0, [16, 0], [0, 400], True, 1e308])
    mf = s / "_emgaug_metadata.json"
    if mf.is_file():
        meta = json.loads(mf.read_text())
        k = rng.choice(sorted(meta))
        if value is None:
            del meta[k]
        else:
            meta[k] = value
        mf.write_text(json.dumps(meta))
        return k
    parts = _parts(s)
    prov0, rec0 = _footer(parts[0])
    k = rng.choice(sorted(prov0) + sorted(set(rec0 or {}) & {"num_rows", "rows_per_stage", "partitions", "set_id"}))
    refresh = rng.random() < 0.7
    for p in parts:
        prov, rec = _footer(p)
        target = prov if k in prov0 else rec
        if target is not None:
            if value is None:
                target.pop(k, None)
            else:
                target[k] = value
        _write_part(p, pq.read_table(p), prov, rec, refresh=refresh)
    return f"{k}{' (checksums refreshed)' if refresh else ''}"


def mp_meta_delete(s, rng):
    """Remove the metadata: the root JSON (older layout) or a part's footer record (Parquet-only layout)."""
    import pyarrow.parquet as pq

    mf = s / "_emgaug_metadata.json"
    if mf.is_file():
        mf.unlink()
        return "metadata file removed"
    f = rng.choice(_parts(s))
    prov, _ = _footer(f)
    _write_part(f, pq.read_table(f), prov, None, refresh=False)
    return f"{f.parent.name} footer record removed"


def mp_extra(s, rng):
    (s / "notes.txt").write_text("x")
    if rng.random() < 0.5:
        (s / "stage=click" / "README").write_text("x")
    return "extra files"


def mp_part_as_dir(s, rng):
    f = rng.choice(_parts(s))
    f.unlink()
    f.mkdir()
    return f.parent.name


PARQUET_MUTATIONS = [mp_flip, mp_flip, mp_truncate, mp_delete, mp_rename, mp_swap, mp_nan, mp_nan, mp_drop_column,
                     mp_rows, mp_meta_bytes, mp_meta_edit, mp_meta_delete, mp_extra, mp_part_as_dir]


# --- oracles ------------------------------------------------------------------------------------------------------
def dataset_invariants(data: Path, manifest: Path, weights: dict[str, np.ndarray]) -> str | None:
    """None when the accepted outputs respect the invariants; else what is wrong."""
    if not weights_finite(weights):
        return "non-finite weights"
    d = json.loads(manifest.read_text())
    root = data.resolve()
    owner: dict[str, str] = {}
    for split, entries in d["splits"].items():
        for e in entries:
            cands = [data / e["filename"], data / f"{e['filename']}.hdf5", data / f"{e['filename']}.h5"]
            real = next((c.resolve() for c in cands if c.is_file()), None)
            if real is None or not real.is_relative_to(root):
                return f"{e['filename']} resolves outside the dataset ({real})"
            if split in ("train", "val", "test") and owner.setdefault(str(real), split) != split:
                return f"{real.name} is in {owner[str(real)]} and {split}"
    return None


def manifest_invariants(pristine: Pristine, mpath: Path, weights: dict[str, np.ndarray] | None) -> str | None:
    """The accepted manifest, with each entry's labels taken from the data it names, must pass the leakage check."""
    from emgaug.data.manifest import Manifest
    from emgaug.data.source import open_source
    from emgaug.data.splits import verify_manifest
    from emgaug.errors import EmgaugError

    if weights is not None and not weights_finite(weights):
        return "non-finite weights"
    d = json.loads(mpath.read_text())
    by_key = open_source(pristine.data).by_key()
    splits = {}
    for s, entries in d["splits"].items():
        out = []
        for e in entries:
            rec = by_key.get(e["key"])
            if rec is None:
                return f"entry {e['key']} not in the data"
            if not (isinstance(e["start"], int) and isinstance(e["stop"], int) and rec.start <= e["start"] < e["stop"]
                    <= rec.stop):
                return f"entry {e['key']} rows {e['start']}:{e['stop']} outside the recording"
            out.append(dict(e, filename=rec.filename, user=rec.user, session=rec.session, stage=rec.stage))
        splits[s] = out
    m = Manifest(protocol=d["protocol"], seed=0, source=d["source"], splits=splits, params=d.get("params", {}),
                 path=mpath)
    try:
        verify_manifest(m)
    except EmgaugError as e:
        return f"leaks by the data's labels: {e}"
    return None


def parquet_equal(pristine: Pristine, s: Path) -> str | None:
    from emgaug.errors import EmgaugError
    from emgaug.synthesis.parquet_io import read_synthetic

    try:
        got = read_synthetic(s)
    except EmgaugError as e:
        return f"the benchmark accepted a set the reader refuses: {e}"
    ref = pristine.set
    if got.emg.shape != ref.emg.shape or not np.array_equal(got.emg, ref.emg, equal_nan=False):
        return "EMG differs from the pristine set"
    cols = ["stage", "filename", "start", "stop", "user", "split"]
    if not got.labels[cols].reset_index(drop=True).equals(ref.labels[cols].reset_index(drop=True)):
        return "labels differ from the pristine set"
    return None


# --- the loop -----------------------------------------------------------------------------------------------------
def run_case(n: int, target: str, rng: random.Random, pristine: Pristine, work: Path) -> dict[str, Any]:
    case = work / f"case{n:05d}"
    case.mkdir()
    rec: dict[str, Any] = {"case": n, "target": target}
    try:
        if target == "dataset":
            data = Path(shutil.copytree(pristine.data, case / "data", symlinks=True))
            fn = rng.choice(DATASET_MUTATIONS)
            klass, detail = fn(data, rng)
            rec.update(mutation=fn.__name__, klass=klass, detail=detail)
            code, text = run_cli(["split", "--data", data, "--out", case / "m.json"])
            if code == 0:
                code, text = run_cli(["train", "--manifest", case / "m.json", "--out", case / "run", *TRAIN])
            rec["outcome"] = classify(code, text)
            if rec["outcome"] == "accepted":
                w = load_weights(case / "run" / "best.pt")
                if klass == HOSTILE:
                    rec["silent"] = "hostile input accepted"
                elif klass == BINARY:
                    same = entry_table(json.loads((case / "m.json").read_text())) == pristine.entries
                    if not (same and weights_close(w, pristine.weights)):
                        rec["silent"] = "damaged bytes changed the outputs without an error"
                else:
                    rec["silent"] = dataset_invariants(data, case / "m.json", w)
        elif target == "data_after_split":  # the data changes under an existing manifest (fingerprints' job)
            data = Path(shutil.copytree(pristine.data, case / "data", symlinks=True))
            shutil.copy(pristine.manifest, case / "m.json")  # its root_from_manifest ("data") now names the copy
            fn = rng.choice(DATASET_MUTATIONS)
            klass, detail = fn(data, rng)
            rec.update(mutation=fn.__name__, klass=klass, detail=detail)
            code, text = run_cli(["train", "--manifest", case / "m.json", "--out", case / "run", *TRAIN])
            rec["outcome"] = classify(code, text)
            if rec["outcome"] == "accepted":
                if klass == HOSTILE:
                    rec["silent"] = "hostile input accepted"
                elif not weights_close(load_weights(case / "run" / "best.pt"), pristine.weights):
                    rec["silent"] = "the data changed under the manifest and training used it without an error"
        elif target == "manifest":
            mpath = pristine.dir / f"case{n:05d}.json"  # beside the pristine data, as split wrote it
            name, detail = mutate_manifest(pristine.manifest, mpath, rng)
            rec.update(mutation=name, klass=EDIT, detail=detail)
            code, text = run_cli(["train", "--manifest", mpath, "--out", case / "run", *TRAIN])
            rec["outcome"] = classify(code, text)
            if rec["outcome"] == "accepted":
                try:
                    rec["silent"] = manifest_invariants(pristine, mpath, load_weights(case / "run" / "best.pt"))
                except Exception as e:  # noqa: BLE001 - the oracle itself could not make sense of what was accepted
                    rec["silent"] = f"accepted a manifest the oracle cannot read: {type(e).__name__}: {e}"
            mpath.unlink(missing_ok=True)
        else:
            s = Path(shutil.copytree(pristine.synthetic, case / "syn"))
            fn = rng.choice(PARQUET_MUTATIONS)
            detail = fn(s, rng)
            rec.update(mutation=fn.__name__, klass=BINARY, detail=detail)
            code, text = run_cli(["benchmark", "--manifest", pristine.manifest, "--synthetic", s, "--out", case / "b",
                                  *BENCH])
            rec["outcome"] = classify(code, text)
            if rec["outcome"] == "accepted":
                rec["silent"] = parquet_equal(pristine, s)
        rec["exit"] = code
        if rec["outcome"] != "accepted" or rec.get("silent"):
            rec["output"] = text.strip().splitlines()[-1][:400] if text.strip() else ""
        if rec["outcome"] in ("traceback", "other"):
            rec["output"] = text[-3000:]
    finally:
        shutil.rmtree(case, ignore_errors=True)
    rec["silent"] = rec.get("silent") or None
    return rec


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cases", type=int, default=50)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temp folder, removed)")
    ap.add_argument("--report", type=Path, default=None, help="write every case as JSON here")
    ap.add_argument("--targets", default="dataset,data_after_split,manifest,parquet")
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    own = args.work is None
    work = Path(tempfile.mkdtemp(prefix="emgaug-fuzz-")) if own else args.work
    work.mkdir(parents=True, exist_ok=True)
    old_crash_dir = os.environ.get("EMGAUG_CRASH_DIR")
    os.environ["EMGAUG_CRASH_DIR"] = str(work / "crashes")
    t0 = time.time()
    try:
        pristine = Pristine(work)
        targets = [t.strip() for t in args.targets.split(",") if t.strip()]
        rng = random.Random(args.seed)
        records = []
        for n in range(args.cases):
            target = rng.choice(targets)
            rec = run_case(n, target, random.Random(rng.getrandbits(64)), pristine, work)
            records.append(rec)
            if rec["outcome"] in ("traceback", "other") or rec["silent"]:
                print(f"case {n} {rec['target']} {rec['mutation']} ({rec['detail']}): {rec['outcome']}"
                      f"{' SILENT: ' + rec['silent'] if rec['silent'] else ''}\n  {rec.get('output', '')[-600:]}",
                      flush=True)
            if (n + 1) % 25 == 0:
                c = Counter(r["outcome"] for r in records)
                print(f"[{n + 1}/{args.cases}] {dict(c)} silent={sum(1 for r in records if r['silent'])} "
                      f"({time.time() - t0:.0f} s)", flush=True)
        summary = summarise(records, args, time.time() - t0)
        print(json.dumps(summary, indent=1))
        if args.report:
            args.report.write_text(json.dumps({"summary": summary, "cases": records}, indent=1, default=str))
        return 0 if summary["tracebacks"] == 0 and summary["silent_corruptions"] == 0 else 1
    finally:
        if old_crash_dir is None:
            os.environ.pop("EMGAUG_CRASH_DIR", None)
        else:
            os.environ["EMGAUG_CRASH_DIR"] = old_crash_dir
        if own:
            shutil.rmtree(work, ignore_errors=True)


def summarise(records: list[dict], args, seconds: float) -> dict[str, Any]:
    out = Counter(r["outcome"] for r in records)
    by_mut: dict[str, Counter] = defaultdict(Counter)
    for r in records:
        by_mut[f"{r['target']}:{r['mutation']}"][r["outcome"]] += 1
    return {"cases": len(records), "seed": args.seed, "refused_one_line": out["refused"], "accepted": out["accepted"],
            "tracebacks": out["traceback"], "other": out["other"],
            "silent_corruptions": sum(1 for r in records if r["silent"]),
            "by_target": {t: dict(Counter(r["outcome"] for r in records if r["target"] == t))
                          for t in sorted({r["target"] for r in records})},
            "by_mutation": {k: dict(v) for k, v in sorted(by_mut.items())}, "seconds": round(seconds, 1)}


if __name__ == "__main__":
    sys.exit(main())
