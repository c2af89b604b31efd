"""Real and synthetic windows for the benchmark: reading a manifest's splits, turning a synthetic set into labelled
arrays, refusing synthetic data that could leak the test split, and pairing synthetic windows with the real
windows of the same conditioning angles."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emgaug.data.manifest import KINEMATICS_POOL, Manifest
from emgaug.data.splits import CLIP
from emgaug.data.windows import ResolvedWindow, WindowConfig, WindowDataset, default_angle_rate
from emgaug.benchmark.feature_cache import fingerprint
from emgaug.errors import EmgaugError

# The only purposes for which the kinematics pool's withheld EMG may be read, each labelled wherever it shows up:
# the RR-full upper reference of the scarce-EMG benchmark. (The other sanctioned read, the oracle, is written by
# `emgaug synthesize --oracle-real --split kinematics_pool`, whose metadata says oracle.)
WITHHELD_READS = ("RR-full",)


class LabelledWindows:
    """Windows in raw units (`emg`, float32 (N, C, T)) with class labels (int64 (N,)) and one metadata row each
    (filename, start, stop, stage, ...).

    The EMG of a synthetic set larger than memory is not held: `rows` are the windows' positions in the set and
    `loader(rows)` reads exactly those windows when `emg` is first used (memory-guarded); classifier features are
    streamed from the set instead (`stats`). `source` fingerprints where the windows come from (a manifest's SHA-256,
    a synthetic set's content hash): with it, `stats` are cached by the feature store across classifiers,
    conditions, seeds and runs (emgaug.benchmark.feature_cache)."""

    def __init__(self, emg: np.ndarray | None, labels: np.ndarray, meta: pd.DataFrame, *,
                 loader: Callable[[np.ndarray], np.ndarray] | None = None, rows: np.ndarray | None = None,
                 source: str | None = None, streamer: Callable[[np.ndarray, str], np.ndarray] | None = None,
                 window_shape: tuple[int, int] | None = None):
        if emg is None and loader is None:
            raise ValueError("LabelledWindows needs the windows or a loader")
        self._emg = emg
        self.labels = np.asarray(labels)
        self.meta = meta
        self._loader, self._streamer = loader, streamer
        self.rows = None if rows is None else np.asarray(rows, dtype=np.int64)
        self.source = source
        self._shape = window_shape if emg is None else tuple(np.shape(emg)[1:])
        self._stats: dict[str, np.ndarray] = {}

    @property
    def window_shape(self) -> tuple[int, int]:
        """(C, T), without loading lazily read windows."""
        return tuple(self._shape) if self._shape is not None else tuple(self.emg.shape[1:])  # type: ignore[return-value]

    @property
    def emg(self) -> np.ndarray:
        if self._emg is None:
            self._emg = self._loader(self.rows)  # type: ignore[misc]
        return self._emg

    @property
    def loaded(self) -> bool:
        return self._emg is not None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, idx: np.ndarray) -> LabelledWindows:
        idx = np.asarray(idx, dtype=np.int64)
        out = LabelledWindows(None if self._emg is None else self._emg[idx], self.labels[idx],
                              self.meta.iloc[idx].reset_index(drop=True), loader=self._loader,
                              rows=None if self.rows is None else self.rows[idx], source=self.source,
                              streamer=self._streamer, window_shape=self._shape)
        out._stats = {k: v[idx] for k, v in self._stats.items()}
        return out

    @staticmethod
    def concat(parts: Sequence[LabelledWindows]) -> LabelledWindows:
        out = LabelledWindows(np.concatenate([p.emg for p in parts]), np.concatenate([p.labels for p in parts]),
                              pd.concat([p.meta for p in parts], ignore_index=True))
        if all(p.source is not None for p in parts):
            out.source = fingerprint(*[(p.source, p.cache_key()) for p in parts])
            out._ident = out.source
        return out

    _ident: str | None = None

    def cache_key(self) -> str | None:
        """Fingerprint of exactly these windows (None when their source is unknown: not cached across runs)."""
        if self.source is None:
            return None
        if self._ident is None:
            if self.rows is not None:
                ident: Any = self.rows
            else:
                cols = [c for c in ("filename", "start", "stop") if c in self.meta]
                ident = self.meta[cols].astype(str).agg("|".join, axis=1).tolist() if cols else len(self)
            self._ident = fingerprint(self.source, ident)
        return self._ident

    def stats(self, kind: str, store: Any = None) -> np.ndarray:
        """Per-window feature statistics of `kind` (emgaug.benchmark.feature_cache.window_stats), computed once:
        from the windows in memory, or streamed from the synthetic set without loading it; through `store` (a
        FeatureStore) when the windows have a fingerprint."""
        from emgaug.benchmark.feature_cache import window_stats

        if kind not in self._stats:
            def compute() -> np.ndarray:
                if self._emg is None and self._streamer is not None:
                    return self._streamer(self.rows, kind)
                return window_stats(self.emg, kind)
            key = self.cache_key()
            self._stats[kind] = store.get(key, kind, len(self), compute) if store is not None and key else compute()
        return self._stats[kind]


def resolve_window(manifest: Manifest, synthetic_meta: dict[str, Any] | None, window_s: float | None,
                   stride_s: float | None) -> ResolvedWindow:
    """Real-window geometry: the synthetic set's window length (so real and synthetic windows match), else --window-s
    (default 1 s); stride --stride-s, else half a window. Never jittered: test windows must be reproducible."""
    fs = manifest.data_source.sample_rate
    if synthetic_meta and synthetic_meta.get("window"):
        win = ResolvedWindow.from_dict(synthetic_meta["window"])
        if abs(win.sample_rate - fs) > 1e-6:
            raise EmgaugError(f"{manifest.path}: data is at {fs:g} Hz but the synthetic set was made at "
                              f"{win.sample_rate:g} Hz; pass the synthetic set made for this manifest")
        asked = int(round(window_s * fs)) if window_s is not None else win.window
        if max(win.angle_downsample, asked - asked % win.angle_downsample) != win.window:  # whole angle frames, as
            # WindowConfig.resolve cuts them
            raise EmgaugError(f"--window-s {window_s} disagrees with the synthetic set's {win.window / fs:g} s windows; "
                              "drop --window-s so real and synthetic windows match")
        stride = max(1, int(round(stride_s * fs))) if stride_s is not None else max(1, win.window // 2)
        return ResolvedWindow(win.window, stride, win.angle_downsample, 0, win.pad, fs)
    w = 1.0 if window_s is None else window_s
    cfg = WindowConfig(window_s=w, stride_s=w / 2 if stride_s is None else stride_s, angle_rate_hz=default_angle_rate(fs))
    return cfg.resolve(fs)


def refuse_withheld(manifest: Manifest, split: str, recordings: Sequence[Any] | None = None) -> None:
    """The guard every benchmark read of real EMG passes: the kinematics pool's EMG is withheld (only its angles
    exist for the experiment), so asking for that split, or for any rows that overlap it, is an error. The one
    sanctioned read for benchmarking is `read_withheld_windows` (RR-full)."""
    where = manifest.path or f"{manifest.protocol} manifest"
    if split == KINEMATICS_POOL:
        raise EmgaugError(f"{where}: refusing to read EMG of the '{KINEMATICS_POOL}' split: it is withheld (angles "
                          "only); RR/GR/MR never train on it. Its only sanctioned reads are the RR-full reference row "
                          "and `emgaug synthesize --oracle-real --split kinematics_pool`")
    pool = manifest.splits.get(KINEMATICS_POOL)
    if not pool or recordings is None:
        return
    hit = overlaps(pool, [r.filename for r in recordings], np.array([r.start for r in recordings], dtype=np.int64),
                   np.array([r.stop for r in recordings], dtype=np.int64))
    if hit.any():
        r = recordings[int(np.flatnonzero(hit)[0])]
        raise EmgaugError(f"{where}: refusing to read rows {r.start}:{r.stop} of {r.filename} for '{split}': they "
                          f"overlap the withheld EMG of '{KINEMATICS_POOL}'; re-run `emgaug split`")


def load_split_windows(manifest: Manifest, split: str, window: ResolvedWindow, max_windows: int | None = None,
                       seed: int = 0, progress: Callable[[int], Any] | None = None,
                       max_gb: float | None = None) -> LabelledWindows:
    """Read a manifest split as (N, C, T) raw-unit windows; `max_windows` keeps a seeded random subset (sorted).
    Refuses (before reading) when the arrays would exceed `max_gb` GiB, instead of exhausting memory, and refuses
    the kinematics pool's withheld EMG (`refuse_withheld`)."""
    recs = manifest.recordings(split) if split != KINEMATICS_POOL else None
    refuse_withheld(manifest, split, recs)
    return _read_windows(manifest, split, recs, window, max_windows, seed, progress, max_gb)


def read_withheld_windows(manifest: Manifest, window: ResolvedWindow, purpose: str, max_windows: int | None = None,
                          seed: int = 0, progress: Callable[[int], Any] | None = None,
                          max_gb: float | None = None) -> LabelledWindows:
    """The kinematics pool's REAL EMG, for a sanctioned, labelled purpose only (`WITHHELD_READS`: the RR-full upper
    reference). Windows carry meta split = kinematics_pool and withheld_read = purpose."""
    if purpose not in WITHHELD_READS:
        raise EmgaugError(f"reading the withheld EMG of '{KINEMATICS_POOL}' is only for {', '.join(WITHHELD_READS)}, "
                          f"not {purpose!r}")
    w = _read_windows(manifest, KINEMATICS_POOL, manifest.recordings(KINEMATICS_POOL), window, max_windows, seed,
                      progress, max_gb)
    w.meta["withheld_read"] = purpose
    return w


def _read_windows(manifest: Manifest, split: str, recs: list, window: ResolvedWindow, max_windows: int | None,
                  seed: int, progress: Callable[[int], Any] | None, max_gb: float | None) -> LabelledWindows:
    ds = WindowDataset(manifest.data_source, recs, window, norm=None, label_map=manifest.label_map())
    idx = np.arange(len(ds))
    if max_windows is not None and len(idx) > max_windows:
        idx = np.sort(np.random.default_rng(seed).choice(len(idx), max_windows, replace=False))
    need = len(idx) * ds.num_channels * window.window * 4 / 2**30
    if max_gb is not None and need > max_gb:
        per = ds.num_channels * window.window * 4 / 2**30
        raise EmgaugError(f"{manifest.path}: the {split} split has {len(idx)} windows ({need:.3g} GiB in memory, limit "
                          f"{max_gb:g} GiB); pass --max-{'test' if split == 'test' else 'train'}-windows "
                          f"{max(1, int(max_gb / per))} or raise --max-memory-gb")
    emg = np.empty((len(idx), ds.num_channels, window.window), dtype=np.float32)
    for k, i in enumerate(idx):
        emg[k] = ds.read_window(int(i))[0]
        if progress and (k + 1) % 64 == 0:
            progress(64)
    if progress:
        progress(len(idx) % 64)
    meta = pd.DataFrame([ds.window_meta(int(i)) for i in idx])
    meta["split"] = split
    source = None
    if manifest.path is not None and Path(manifest.path).is_file():  # the manifest fingerprints every data file
        from emgaug.provenance import file_sha256

        source = fingerprint("real", file_sha256(manifest.path), split, window.to_dict())
    return LabelledWindows(emg, ds.labels()[idx], meta, source=source)


CALIBRATION = "calibration"


def real_training_windows(manifest: Manifest, window: ResolvedWindow, max_windows: int | None = None, seed: int = 0,
                          progress: Callable[[int], Any] | None = None,
                          max_gb: float | None = None) -> tuple[LabelledWindows, dict[str, int]]:
    """The real windows RR and MR train on (RR-scarce when the manifest withholds EMG): the train split, plus the
    manifest's `clip` split (reference clips of the withheld recordings, `emgaug split --clip-s`) and its
    `calibration` split (the first seconds of each test user's recordings, for new-person experiments) when they are
    non-empty. Never the kinematics pool. `max_windows` caps each split separately (seeded). Returns (windows with
    meta["split"], counts per split)."""
    parts = [load_split_windows(manifest, "train", window, max_windows, seed=seed, progress=progress, max_gb=max_gb)]
    counts = {"train_split_windows": len(parts[0]), "clip_windows": 0, "calibration_windows": 0}
    for split in (CLIP, CALIBRATION):
        if manifest.splits.get(split):
            try:
                w = load_split_windows(manifest, split, window, max_windows, seed=seed, progress=progress, max_gb=max_gb)
            except EmgaugError as e:
                if split != CLIP or "no window of" not in str(e):
                    raise
                continue  # clips shorter than a window add nothing
            counts[f"{split}_windows"] = len(w)
            parts.append(w)
    return (LabelledWindows.concat(parts) if len(parts) > 1 else parts[0]), counts


# leakage ----------------------------------------------------------------------------------------
def _intervals_by_file(entries: Sequence[dict[str, Any]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """filename -> (starts sorted, running max of stops) for fast 'does [s, e) touch any interval' queries."""
    groups: dict[str, list[tuple[int, int]]] = {}
    for e in entries:
        groups.setdefault(str(e["filename"]), []).append((int(e["start"]), int(e["stop"])))
    out = {}
    for f, iv in groups.items():
        iv.sort()
        starts = np.array([a for a, _ in iv], dtype=np.int64)
        stops = np.maximum.accumulate(np.array([b for _, b in iv], dtype=np.int64))
        out[f] = (starts, stops)
    return out


def overlaps(entries: Sequence[dict[str, Any]], filenames: Sequence[str], starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """True where row range [starts[i], stops[i]) of filenames[i] shares at least one row with any entry's range."""
    table = _intervals_by_file(entries)
    hit = np.zeros(len(filenames), dtype=bool)
    fn = np.asarray(filenames, dtype=object)
    starts, stops = np.asarray(starts, dtype=np.int64), np.asarray(stops, dtype=np.int64)
    for f in pd.unique(fn):
        if f not in table:
            continue
        rows = np.flatnonzero(fn == f)
        s_iv, e_max = table[f]
        k = np.searchsorted(s_iv, stops[rows], side="left")  # intervals starting before the query's stop
        hit[rows] = (k > 0) & (e_max[np.maximum(k - 1, 0)] > starts[rows])
    return hit


@dataclass
class LeakageReport:
    """What the leakage check found; `problems` empty means the set may be used for GR/MR."""

    synthetic_path: str
    source_split: str | None
    allow_test_conditioning: bool
    windows: int
    windows_overlapping_test: int
    manifest_matches: bool | None
    problems: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def check_leakage(manifest: Manifest, labels: pd.DataFrame, metadata: dict[str, Any], synthetic_path: str) -> LeakageReport:
    """Flag synthetic windows conditioned on test angles: by metadata, by per-row split, or by row-range overlap."""
    allow = bool(metadata.get("allow_test_conditioning", False))
    source_split = metadata.get("source_split")
    hit = overlaps(manifest.splits.get("test", []), labels["filename"].astype(str).tolist(),
                   labels["start"].to_numpy(), labels["stop"].to_numpy())
    same = None  # was the set made from this very manifest? (by content hash when recorded, else by path)
    if metadata.get("manifest_sha256") and manifest.path is not None and Path(manifest.path).is_file():
        from emgaug.provenance import file_sha256

        same = metadata["manifest_sha256"] == file_sha256(manifest.path)
    elif metadata.get("manifest_path") and manifest.path is not None:
        same = Path(metadata["manifest_path"]).resolve() == Path(manifest.path).resolve()
    rep = LeakageReport(synthetic_path, source_split, allow, int(len(labels)), int(hit.sum()), same)
    if allow:
        rep.problems.append("its metadata says allow_test_conditioning=true")
    if source_split == "test":
        rep.problems.append("its metadata says it was conditioned on the test split")
    if "split" in labels and (labels["split"].astype(str) == "test").any():
        rep.problems.append(f"{int((labels['split'].astype(str) == 'test').sum())} window(s) are labelled split=test")
    if hit.any():
        first = labels.iloc[int(np.flatnonzero(hit)[0])]
        rep.problems.append(f"{int(hit.sum())} window(s) overlap test-split rows of {manifest.path} "
                            f"(first: {first['filename']}[{int(first['start'])}:{int(first['stop'])}])")
    return rep


def refuse_leaky(rep: LeakageReport) -> None:
    """One clear line when a synthetic set would put test information into GR/MR training."""
    if rep.problems:
        raise EmgaugError(f"{rep.synthetic_path}: refused for GR/MR, it was conditioned on test angles ("
                          + "; ".join(rep.problems) + "); synthesize from the train split, or pass --classifiers none "
                          "to compute similarity metrics only")


# synthetic --------------------------------------------------------------------------------------
class SyntheticSource:
    """A synthetic set on disk, read lazily: labels and metadata now (label columns only), EMG windows only for the
    rows that need them (`load`, guarded by `max_gb`), feature statistics streamed one batch at a time (`stream`).
    Stands in for a `SyntheticSet` in the benchmark (same `labels`, `metadata`, `path`), so a set far larger than
    memory can still train and test SVM / RandomForest through its cached features."""

    def __init__(self, path: str | Path, max_gb: float | None = None, batch_windows: int = 256):
        from emgaug.synthesis.parquet_io import read_synthetic_labels

        self.path = Path(path)
        self.labels, self.metadata, self._parts, self.fingerprint = read_synthetic_labels(path)
        C, T = self.metadata["emg_shape"]
        self.emg_shape = (int(C), int(T))
        self.max_gb = max_gb
        self.batch_windows = batch_windows

    def __len__(self) -> int:
        return len(self.labels)

    def gib(self, n: int) -> float:
        return n * self.emg_shape[0] * self.emg_shape[1] * 4 / 2**30

    def guard(self, n: int) -> None:
        """Refuse (one line, with the cap to pass) to hold `n` windows when they exceed `max_gb`, as the real splits do."""
        need = self.gib(n)
        if self.max_gb is not None and need > self.max_gb:
            raise EmgaugError(f"{self.path}: {n:,} synthetic windows would need {need:.3g} GiB in memory (limit "
                              f"{self.max_gb:g} GiB; SVM / RandomForest stream the set, the deep decoders and the "
                              f"similarity pairs hold their windows); pass --max-train-windows "
                              f"{max(1, int(self.max_gb / self.gib(1)))}, --max-test-windows, or raise --max-memory-gb")

    def load(self, rows: np.ndarray) -> np.ndarray:
        """EMG (len(rows), C, T) of the windows at positions `rows` (row_id order), one pass over the set."""
        from emgaug.synthesis.parquet_io import stream_synthetic_rows

        rows = np.asarray(rows, dtype=np.int64)
        self.guard(len(rows))
        out = np.empty((len(rows), *self.emg_shape), dtype=np.float32)
        filled = 0
        for pos, emg in stream_synthetic_rows(self.metadata, self._parts, self.labels["row_id"].to_numpy()[rows],
                                              self.batch_windows):
            out[pos] = emg
            filled += len(pos)
        if filled != len(rows):
            raise EmgaugError(f"{self.path}: {len(rows) - filled} wanted rows were not found in the part files; the set "
                              "changed while it was read, re-run the benchmark")
        return out

    def stream(self, rows: np.ndarray, kind: str) -> np.ndarray:
        """Feature statistics of the windows at positions `rows`, computed batch by batch while streaming the set."""
        from emgaug.benchmark.feature_cache import window_stats
        from emgaug.synthesis.parquet_io import stream_synthetic_rows

        rows = np.asarray(rows, dtype=np.int64)
        out: np.ndarray | None = None
        filled = 0
        for pos, emg in stream_synthetic_rows(self.metadata, self._parts, self.labels["row_id"].to_numpy()[rows],
                                              self.batch_windows):
            st = window_stats(emg, kind)
            if out is None:
                out = np.empty((len(rows), st.shape[1]), dtype=st.dtype)
            out[pos] = st
            filled += len(pos)
        if out is None or filled != len(rows):
            raise EmgaugError(f"{self.path}: {len(rows) - filled} wanted rows were not found in the part files; the set "
                              "changed while it was read, re-run the benchmark")
        return out


def synthetic_windows(synth: Any, manifest: Manifest, window: ResolvedWindow, num_channels: int,
                      max_windows: int | None = None, seed: int = 0) -> LabelledWindows:
    """A SyntheticSet (emg, labels, metadata), or a lazily read SyntheticSource, as labelled windows with the
    manifest's class indices."""
    path = getattr(synth, "path", None) or synth.metadata.get("path", "synthetic set")
    lazy = isinstance(synth, SyntheticSource)
    emg = None if lazy else np.asarray(synth.emg, dtype=np.float32)
    shape = (3, *synth.emg_shape) if lazy else emg.shape
    if len(shape) != 3 or shape[1] != num_channels or shape[2] != window.window:
        raise EmgaugError(f"{path}: synthetic windows are {tuple(shape[1:])} (C, T) but the real windows of "
                          f"{manifest.path} are ({num_channels}, {window.window}); synthesize with this manifest's checkpoint")
    lm = manifest.label_map()
    stages = synth.labels["stage"].astype(str)
    unknown = sorted(set(stages) - set(lm))
    if unknown:
        raise EmgaugError(f"{path}: stage(s) {', '.join(unknown[:5])} are not classes of {manifest.path}; "
                          "benchmark a synthetic set made for this manifest")
    labels = stages.map(lm).to_numpy(dtype=np.int64)
    idx = np.arange(len(synth.labels))
    if max_windows is not None and len(idx) > max_windows:
        idx = np.sort(np.random.default_rng(seed).choice(len(idx), max_windows, replace=False))
    meta = synth.labels.iloc[idx].reset_index(drop=True)
    if lazy:
        return LabelledWindows(None, labels[idx], meta, loader=synth.load, rows=idx,
                               source=fingerprint("synthetic", synth.fingerprint), streamer=synth.stream,
                               window_shape=synth.emg_shape)
    return LabelledWindows(emg[idx], labels[idx], meta)


def split_of_ranges(manifest: Manifest, filenames: Sequence[str], starts: np.ndarray, stops: np.ndarray) -> np.ndarray:
    """Which manifest split each row range falls in ('train', 'val', 'clip', 'kinematics_pool', 'calibration', 'test',
    or 'none'; later ones win on overlap, test last)."""
    out = np.full(len(filenames), "none", dtype=object)
    for split in ("train", "val", CLIP, KINEMATICS_POOL, CALIBRATION, "test"):
        hit = overlaps(manifest.splits.get(split, []), filenames, starts, stops)
        out[hit] = split
    return out


def paired_real_windows(manifest: Manifest, synth: LabelledWindows, max_pairs: int | None = None, seed: int = 0,
                        progress: Callable[[int], Any] | None = None) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Real EMG at each synthetic window's conditioning rows (same filename, start, stop), read from the source.

    Windows shorter than T (padded when synthesized) are skipped. Returns (real, index into `synth`, info) with
    info["paired_split_counts"] saying which manifest split the real windows come from.
    """
    src = manifest.data_source
    recs_by_file: dict[str, Any] = {}
    for r in src.recordings:
        recs_by_file.setdefault(r.filename, r)
    meta = synth.meta
    T = synth.window_shape[1]
    full = (meta["stop"].to_numpy() - meta["start"].to_numpy()) == T
    if "valid_samples" in meta:
        full &= meta["valid_samples"].to_numpy() >= T
    known = meta["filename"].astype(str).isin(recs_by_file).to_numpy()
    # windows conditioned on the kinematics pool have no real partner to read: its EMG is withheld
    withheld = overlaps(manifest.splits.get(KINEMATICS_POOL, []), meta["filename"].astype(str).tolist(),
                        meta["start"].to_numpy(), meta["stop"].to_numpy())
    idx = np.flatnonzero(full & known & ~withheld)
    if max_pairs is not None and len(idx) > max_pairs:
        idx = np.sort(np.random.default_rng(seed).choice(idx, max_pairs, replace=False))
    real = np.empty((len(idx), int(manifest.data_source.num_channels), T), dtype=np.float32)
    readers: dict[str, Any] = {}
    for k, i in enumerate(idx):
        row = meta.iloc[int(i)]
        fname = str(row["filename"])
        rd = readers.get(fname)
        if rd is None:
            rd = readers[fname] = src.reader(recs_by_file[fname])
        emg, _ = rd.read(int(row["start"]), int(row["stop"]))
        real[k] = emg.T
        if progress and (k + 1) % 64 == 0:
            progress(64)
    if progress:
        progress(len(idx) % 64)
    where = split_of_ranges(manifest, meta["filename"].astype(str).iloc[idx].tolist(),
                            meta["start"].to_numpy()[idx], meta["stop"].to_numpy()[idx])
    counts = {s: int((where == s).sum()) for s in ("train", "val", CLIP, CALIBRATION, "test", "none") if (where == s).any()}
    info = {"pairs": int(len(idx)), "skipped_padded": int((~full).sum()), "skipped_unknown_file": int((full & ~known).sum()),
            "skipped_withheld": int((full & known & withheld).sum()),
            "paired_split_counts": counts,
            "paired_against": "+".join(counts) if counts else "none"}
    return real, idx, info


def mix_count(n_real: int, ratio: float, n_synth: int) -> int:
    """Synthetic windows added to n_real real ones for MR: round(ratio * n_real), at most what exists."""
    if ratio < 0 or not math.isfinite(ratio):
        raise EmgaugError(f"--mix-ratio must be a finite number >= 0, got {ratio}")
    return min(n_synth, int(round(ratio * n_real)))
