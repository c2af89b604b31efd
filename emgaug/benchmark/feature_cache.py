"""Classifier features computed once per (window set, feature kind), reused by every classifier, condition and seed,
and cached as Parquet next to the results (`<out>/feature_cache/`), keyed by the windows' fingerprint, so a second
benchmark of the same sets reads them instead of recomputing them.

What is cached is the per-window part of a feature map (`window_stats`): the TD features themselves (`td`), or the
MAV / RMS / WL statistics of `amplitude` (whose floors are fitted on each training set, from the statistics, at
fit time). `raw` features are the windows themselves: nothing to cache. A window set's fingerprint names exactly the
windows: for real windows the manifest's SHA-256 (which fingerprints every data file) and each window's file and row
range; for a synthetic set the SHA-256 of every part's data (recorded by its writer) and the rows taken. The key
also holds the feature kind and FEATURE_VERSION (bumped whenever the feature code changes), so a stale entry is
never used; a damaged or mismatched cache file is recomputed and replaced.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from emgaug.atomic import atomic_path, json_default
from emgaug.metrics.features import amplitude_stats, floor_from_stats, td_features

FEATURE_VERSION = 1
CACHED_KINDS = ("td", "amplitude")
META_KEY = b"emgaug.features"


def window_stats(emg: np.ndarray, kind: str) -> np.ndarray:
    """The per-window part of feature map `kind`, (N, D): TD features (float32), or amplitude MAV/RMS/WL (float64,
    channel-major, 3 per channel)."""
    if kind == "td":
        return td_features(emg)
    if kind == "amplitude":
        st = amplitude_stats(emg)
        return st.reshape(len(st), -1)
    raise ValueError(f"no cached window statistics for feature kind {kind!r}")


class StatsFeatures:
    """`WindowFeatures` on cached window statistics: `fit` on the training windows' statistics (amplitude: the
    floors), `transform` any statistics; the same numbers `WindowFeatures` gives on the windows themselves."""

    def __init__(self, kind: str):
        if kind not in CACHED_KINDS:
            raise ValueError(f"feature kind {kind!r} is not computed from cached statistics")
        self.kind = kind
        self.floor: np.ndarray | None = None

    def fit(self, stats: np.ndarray) -> StatsFeatures:
        if self.kind == "amplitude":
            self.floor = floor_from_stats(np.asarray(stats).reshape(-1, 3))
        return self

    def transform(self, stats: np.ndarray) -> np.ndarray:
        if self.kind == "td":
            return np.asarray(stats, dtype=np.float32)
        if self.floor is None:
            raise RuntimeError("amplitude features used before fit (the floor comes from the training windows)")
        st = np.asarray(stats, dtype=np.float64).reshape(len(stats), -1, 3)
        return np.log(np.maximum(st, self.floor)).reshape(len(st), -1).astype(np.float32)


def fingerprint(*parts: Any) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, np.ndarray):
            h.update(str(p.dtype).encode() + str(p.shape).encode() + np.ascontiguousarray(p).tobytes())
        else:
            h.update(json.dumps(p, sort_keys=True, default=json_default).encode())
        h.update(b"\0")
    return h.hexdigest()


@dataclass
class FeatureStore:
    """Window statistics by fingerprint: in memory for this run, and as Parquet files in `folder` when given."""

    folder: Path | None = None
    memory: dict[str, np.ndarray] = field(default_factory=dict)
    hits: int = 0  # read from a cache file
    computed: int = 0  # computed (then written)
    seconds: float = 0.0  # in get(): computing or reading

    def get(self, key: str, kind: str, n: int, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """The (n, D) statistics of `kind` for the window set `key` (its fingerprint): from memory, from the cache
        file, or `compute()`d and written."""
        name = f"{kind}-{key[:40]}"
        if name in self.memory:
            return self.memory[name]
        t0 = time.perf_counter()
        got = self._read(name, key, kind, n) if self.folder is not None else None
        if got is None:
            got = np.asarray(compute())
            if got.shape[0] != n:
                raise RuntimeError(f"feature computation returned {got.shape[0]} rows for {n} windows")
            self.computed += 1
            if self.folder is not None:
                self._write(name, key, kind, got)
        else:
            self.hits += 1
        self.seconds += time.perf_counter() - t0
        self.memory[name] = got
        return got

    def path(self, name: str) -> Path:
        assert self.folder is not None
        return self.folder / f"{name}.parquet"

    def _read(self, name: str, key: str, kind: str, n: int) -> np.ndarray | None:
        f = self.path(name)
        if not f.is_file():
            return None
        try:
            t = pq.read_table(f)
            meta = json.loads((t.schema.metadata or {})[META_KEY])
            col = t.column("stats")
            if (meta.get("key") != key or meta.get("kind") != kind or meta.get("version") != FEATURE_VERSION
                    or t.num_rows != n):
                return None
            flat = np.concatenate([c.flatten().to_numpy(zero_copy_only=False) for c in col.chunks]) if col.num_chunks \
                else np.zeros(0)
            out = flat.reshape(n, int(meta["dims"])).astype(meta["dtype"], copy=False)
            return out
        except (OSError, KeyError, ValueError, TypeError, pa.ArrowException):
            return None  # damaged or foreign: recomputed and replaced

    def _write(self, name: str, key: str, kind: str, stats: np.ndarray) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        n, d = stats.shape
        flat = pa.array(np.ascontiguousarray(stats).reshape(-1))
        table = pa.table({"stats": pa.FixedSizeListArray.from_arrays(flat, d)})
        meta = {"key": key, "kind": kind, "version": FEATURE_VERSION, "dims": d, "dtype": str(stats.dtype), "rows": n}
        table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
        with atomic_path(self.path(name)) as tmp:
            pq.write_table(table, tmp, compression="zstd")

    def summary(self) -> dict[str, Any]:
        return {"folder": str(self.folder) if self.folder else None, "computed": self.computed,
                "from_cache": self.hits, "seconds": round(self.seconds, 3)}


def stream_stats(batches: Iterable[np.ndarray], kind: str) -> np.ndarray:
    """Window statistics of windows arriving in batches (e.g. a synthetic set streamed from disk), concatenated;
    memory holds one batch of windows at a time."""
    parts = [window_stats(b, kind) for b in batches]
    return np.concatenate(parts) if parts else np.zeros((0, 0))
