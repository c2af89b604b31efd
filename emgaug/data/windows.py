"""Windowed torch Dataset over recordings: windows are read from disk on demand, so memory does not grow
with dataset size. Angles are optionally block-averaged to a low frame rate (they are smooth), IK-failure
rows are masked, and normalisation statistics come from the training split only."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from emgaug.data.recording import Recording
from emgaug.data.source import DatasetSource
from emgaug.errors import EmgaugError


@dataclass(frozen=True)
class WindowConfig:
    """Window geometry in seconds (portable across sample rates); `resolve` turns it into samples."""

    window_s: float = 1.0
    stride_s: float = 0.5
    angle_rate_hz: float = 50.0  # frame rate of the angle sequence fed to generators
    jitter_s: float = 0.0  # random shift of each training window, within its recording
    pad: bool = False  # keep recordings shorter than a window, zero-padded (and masked)

    def resolve(self, sample_rate: float) -> ResolvedWindow:
        ds = max(1, int(round(sample_rate / self.angle_rate_hz)))
        window = int(round(self.window_s * sample_rate))
        window = max(ds, window - window % ds)  # whole angle frames per window
        stride = max(1, int(round(self.stride_s * sample_rate)))
        return ResolvedWindow(window=window, stride=stride, angle_downsample=ds,
                              jitter=int(round(self.jitter_s * sample_rate)), pad=self.pad, sample_rate=float(sample_rate))


@dataclass(frozen=True)
class ResolvedWindow:
    """Window geometry in samples for one sample rate; `window` is a multiple of `angle_downsample`."""

    window: int
    stride: int
    angle_downsample: int
    jitter: int
    pad: bool
    sample_rate: float

    @property
    def angle_frames(self) -> int:
        return self.window // self.angle_downsample

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ResolvedWindow:
        return cls(**{k: d[k] for k in ("window", "stride", "angle_downsample", "jitter", "pad", "sample_rate")})


_NORM_ARRAYS = ("emg_mean", "emg_std", "angle_mean", "angle_std")


@dataclass
class NormStats:
    """Per-channel mean/std of EMG and joint angles (IK failures excluded), from the training split.
    `rectified`: the training EMG is non-negative (envelopes), so it was scaled, not centred."""

    emg_mean: np.ndarray
    emg_std: np.ndarray
    angle_mean: np.ndarray
    angle_std: np.ndarray
    rectified: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {k: np.asarray(getattr(self, k), dtype=np.float64).tolist() for k in _NORM_ARRAYS}
        out["rectified"] = bool(self.rectified)
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> NormStats:
        return cls(**{k: np.asarray(d[k], dtype=np.float32) for k in _NORM_ARRAYS}, rectified=bool(d.get("rectified", False)))

    def normalize_emg(self, emg: np.ndarray) -> np.ndarray:
        """(n, C) or (..., C, T) aware: channels are the last axis of (n, C)."""
        return (emg - self.emg_mean) / self.emg_std

    def denormalize_emg_ct(self, emg_ct: np.ndarray) -> np.ndarray:
        """Undo normalisation of channel-first EMG (..., C, T)."""
        return emg_ct * self.emg_std[:, None] + self.emg_mean[:, None]


def compute_norm_stats(source: DatasetSource, recordings: Sequence[Recording], chunk_rows: int = 200_000,
                       max_rows_per_recording: int | None = None) -> NormStats:
    """Streamed float64 sums over `recordings` (the training split): memory is one chunk at a time.

    Signed (raw) EMG is z-scored per channel. Non-negative EMG (already rectified envelopes, e.g. Ninapro DB1's
    RMS channels) is only scaled (mean 0, std = RMS): subtracting its mean would turn amplitude, the very thing
    it encodes, into a signed wiggle. Several processes may each sum a share of the recordings (`norm_sums`),
    combine the sums (SUM, and MIN for `emg_min`) and finish with `norm_from_sums`.
    """
    if not recordings:
        raise EmgaugError("cannot compute normalisation statistics: the training split is empty; re-run `emgaug split`")
    return norm_from_sums(norm_sums(source, recordings, chunk_rows, max_rows_per_recording))


def norm_sums(source: DatasetSource, recordings: Sequence[Recording], chunk_rows: int = 200_000,
              max_rows_per_recording: int | None = None) -> dict[str, np.ndarray]:
    """The float64 sufficient statistics of `compute_norm_stats` over `recordings` (any share of the split):
    counts and sums (combine by adding) and `emg_min` (combine by the minimum)."""
    C, J = source.num_channels, source.num_joints
    e_n = 0
    e_min = np.inf
    e_s, e_ss = np.zeros(C), np.zeros(C)
    a_n = 0
    a_s, a_ss = np.zeros(J), np.zeros(J)
    for rec in recordings:
        reader = source.reader(rec)
        stop = rec.stop if max_rows_per_recording is None else min(rec.stop, rec.start + max_rows_per_recording)
        for s in range(rec.start, stop, chunk_rows):
            emg, ang = reader.read(s, min(stop, s + chunk_rows))
            emg = emg.astype(np.float64)
            e_min = min(e_min, float(emg.min(initial=np.inf)))
            e_n += len(emg)
            e_s += emg.sum(0)
            e_ss += (emg * emg).sum(0)
            if J:
                good = ~source.kinematics_failure_mask(ang)  # the source decides whether all-zero rows are failures
                a = ang[good].astype(np.float64)
                a_n += len(a)
                a_s += a.sum(0)
                a_ss += (a * a).sum(0)
    return {"emg_n": np.array([float(e_n)]), "emg_sum": e_s, "emg_sumsq": e_ss, "emg_min": np.array([e_min]),
            "angle_n": np.array([float(a_n)]), "angle_sum": a_s, "angle_sumsq": a_ss}


def norm_from_sums(sums: dict[str, np.ndarray]) -> NormStats:
    """NormStats from `norm_sums` output (one process's, or several processes' combined)."""
    e_n, a_n = float(sums["emg_n"][0]), float(sums["angle_n"][0])
    e_s, e_ss, e_min = sums["emg_sum"], sums["emg_sumsq"], float(sums["emg_min"][0])
    a_s, a_ss = sums["angle_sum"], sums["angle_sumsq"]
    C, J = len(e_s), len(a_s)
    if e_n == 0:
        raise EmgaugError("cannot compute normalisation statistics: the training recordings hold no rows")
    e_mean = e_s / e_n
    if e_min >= 0:  # rectified envelopes: scale only
        e_mean = np.zeros(C)
    e_std = np.sqrt(np.maximum(e_ss / e_n - e_mean**2, 0.0))
    if J and a_n == 0:
        raise EmgaugError("every joint-angle row of the training split is an IK failure (NaN or all zero); check the angle data")
    a_mean = a_s / max(a_n, 1)
    a_std = np.sqrt(np.maximum(a_ss / max(a_n, 1) - a_mean**2, 0.0))
    eps = 1e-6
    return NormStats(
        emg_mean=e_mean.astype(np.float32), emg_std=np.maximum(e_std, eps * max(1.0, float(e_std.max()))).astype(np.float32),
        angle_mean=a_mean.astype(np.float32), angle_std=np.maximum(a_std, eps * max(1.0, float(a_std.max(initial=0)))).astype(np.float32),
        rectified=bool(e_min >= 0),
    )


def window_starts(rec: Recording, win: ResolvedWindow) -> np.ndarray:
    """Start rows of the windows cut from `rec` (one padded window for a short recording when pad=True)."""
    n = rec.num_rows
    if n >= win.window:
        return rec.start + np.arange(0, n - win.window + 1, win.stride, dtype=np.int64)
    return np.array([rec.start], dtype=np.int64) if win.pad and n > 0 else np.zeros(0, dtype=np.int64)


class WindowDataset(Dataset):
    """Windows of paired EMG and joint angles, read lazily from the source's files.

    Item: emg float32 (C, T); angles float32 (J, T // angle_downsample) block-averaged over valid rows;
    angle_mask bool (T // angle_downsample,) true where the frame has valid (non-IK-failure) angles;
    emg_mask bool (T,) false on padding; label int64 (index of the stage in `label_map`); index int64;
    user int64 (index in `user_map`, -1 when the user is not in it or no map is given).
    With `reference=True` (training person-conditioned generators) each item also carries another window of
    the same user, drawn per (seed, epoch, index): ref_emg, ref_angles, ref_angle_mask.
    """

    def __init__(self, source: DatasetSource, recordings: Sequence[Recording], window: ResolvedWindow,
                 norm: NormStats | None = None, label_map: dict[str, int] | None = None, train: bool = False,
                 seed: int = 0, user_map: dict[str, int] | None = None, reference: bool = False):
        if not recordings:
            raise EmgaugError("the split holds no recordings; re-run `emgaug split` with different options")
        if abs(source.sample_rate - window.sample_rate) > 1e-6:
            raise EmgaugError(f"{source.root}: data is at {source.sample_rate:g} Hz but the window was resolved for "
                              f"{window.sample_rate:g} Hz; use the checkpoint/config made for this dataset")
        self.source = source
        self.recordings = list(recordings)
        self.window = window
        self.norm = norm
        self.label_map = label_map if label_map is not None else {s: i for i, s in enumerate(sorted({r.stage for r in recordings}))}
        self.train = train
        self.seed = seed
        self.epoch = 0
        starts = [window_starts(r, window) for r in self.recordings]
        self._rec_idx = np.concatenate([np.full(len(s), i, dtype=np.int32) for i, s in enumerate(starts)])
        self._starts = np.concatenate(starts)
        if len(self._starts) == 0:
            raise EmgaugError(
                f"no window of {window.window} samples fits in the {len(self.recordings)} recording(s) of this split "
                f"(a window is {window.window / window.sample_rate:g} s, the longest recording "
                f"{max(r.num_rows for r in self.recordings) / window.sample_rate:g} s); use a shorter --window-s"
            )
        self.user_map = user_map
        rec_user = np.array([(user_map or {}).get(r.user, -1) for r in self.recordings], dtype=np.int64)
        self._user = rec_user[self._rec_idx]
        self.reference = reference
        # windows of each user, for drawing reference windows of the same person
        self._by_user = {u: np.flatnonzero(self._user == u) for u in np.unique(self._user)} if reference else {}
        self._readers: dict[str, Any] = {}

    @property
    def num_channels(self) -> int:
        return self.source.num_channels

    @property
    def num_joints(self) -> int:
        return self.source.num_joints

    def __len__(self) -> int:
        return len(self._starts)

    def set_epoch(self, epoch: int) -> None:
        """Jitter draws depend on (seed, epoch, index), so resumed runs see the same windows."""
        self.epoch = epoch

    def _reader(self, rec: Recording):
        r = self._readers.get(rec.path)
        if r is None:
            r = self._readers[rec.path] = self.source.reader(rec)
        return r

    def window_meta(self, i: int) -> dict[str, Any]:
        rec = self.recordings[int(self._rec_idx[i])]
        start = int(self._start_of(i))
        return {"filename": rec.filename, "user": rec.user, "session": rec.session, "stage": rec.stage, "side": rec.side,
                "start": start, "stop": start + self.window.window, "sample_rate": rec.sample_rate}

    def labels(self) -> np.ndarray:
        """Stage label of every window, without reading any data."""
        stage_idx = np.array([self.label_map.get(r.stage, -1) for r in self.recordings], dtype=np.int64)
        return stage_idx[self._rec_idx]

    def window_recordings(self) -> list[Recording]:
        return [self.recordings[int(i)] for i in self._rec_idx]

    def _start_of(self, i: int) -> int:
        start = int(self._starts[i])
        if self.train and self.window.jitter > 0:
            rec = self.recordings[int(self._rec_idx[i])]
            rng = np.random.default_rng((self.seed, self.epoch, i))
            lo = max(rec.start, start - self.window.jitter)
            hi = min(rec.stop - self.window.window, start + self.window.jitter)
            if hi > lo:
                start = int(rng.integers(lo, hi + 1))
        return start

    def read_window(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Raw-window read: (emg (C, T), angles (J, Ta), angle_mask (Ta,), emg_mask (T,)), normalised if norm is set."""
        rec = self.recordings[int(self._rec_idx[i])]
        start = self._start_of(i)
        W, ds = self.window.window, self.window.angle_downsample
        stop = min(rec.stop, start + W)
        emg, ang = self._reader(rec).read(start, stop)
        n = len(emg)
        emg_mask = np.zeros(W, dtype=bool)
        emg_mask[:n] = True
        bad = self.source.kinematics_failure_mask(ang) if ang.shape[1] else np.zeros(n, dtype=bool)
        if self.norm is not None:
            emg = self.norm.normalize_emg(emg)
            if ang.shape[1]:
                ang = (ang - self.norm.angle_mean) / self.norm.angle_std
        if n < W:
            emg = np.concatenate([emg, np.zeros((W - n, emg.shape[1]), emg.dtype)])
            ang = np.concatenate([ang, np.zeros((W - n, ang.shape[1]), ang.dtype)])
            bad = np.concatenate([bad, np.ones(W - n, dtype=bool)])
        good = ~bad
        ang = np.where(good[:, None], ang, 0.0)
        Ta = W // ds
        cnt = good.reshape(Ta, ds).sum(1)
        ang_frames = ang.reshape(Ta, ds, -1).sum(1) / np.maximum(cnt, 1)[:, None]
        return (np.ascontiguousarray(emg.T, dtype=np.float32), np.ascontiguousarray(ang_frames.T, dtype=np.float32),
                cnt > 0, emg_mask)

    def users(self) -> np.ndarray:
        """User index (in `user_map`) of every window, -1 where unknown, without reading any data."""
        return self._user.copy()

    def reference_index(self, i: int) -> int:
        """Another window of window i's user (a different one whenever the user has several), seeded per epoch."""
        pool = self._by_user.get(int(self._user[i]))
        if pool is None or len(pool) < 2:
            return i
        rng = np.random.default_rng((self.seed, self.epoch, i, 1))
        j = int(pool[rng.integers(len(pool) - 1)])
        return j if j != i else int(pool[-1])

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        emg, ang, amask, emask = self.read_window(i)
        rec = self.recordings[int(self._rec_idx[i])]
        item = {
            "emg": torch.from_numpy(emg),
            "angles": torch.from_numpy(ang),
            "angle_mask": torch.from_numpy(amask),
            "emg_mask": torch.from_numpy(emask),
            "label": torch.tensor(self.label_map.get(rec.stage, -1), dtype=torch.int64),
            "index": torch.tensor(i, dtype=torch.int64),
            "user": torch.tensor(int(self._user[i]), dtype=torch.int64),
        }
        if self.reference:
            r_emg, r_ang, r_amask, _ = self.read_window(self.reference_index(i))
            item.update(ref_emg=torch.from_numpy(r_emg), ref_angles=torch.from_numpy(r_ang),
                        ref_angle_mask=torch.from_numpy(r_amask))
        return item

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_readers"] = {}  # readers re-open their files lazily in each worker
        return state


def stack_windows(ds: WindowDataset, indices: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Read windows into arrays (emg (N, C, T), angles (N, J, Ta)) for in-memory consumers (metrics, classifiers)."""
    idx = range(len(ds)) if indices is None else indices
    n = len(idx)
    emg = np.empty((n, ds.num_channels, ds.window.window), dtype=np.float32)
    ang = np.empty((n, ds.num_joints, ds.window.angle_frames), dtype=np.float32)
    for k, i in enumerate(idx):
        e, a, _, _ = ds.read_window(int(i))
        emg[k], ang[k] = e, a
    return emg, ang


def default_angle_rate(sample_rate: float) -> float:
    """50 Hz frames for fast signals; the native rate when data is already slow (e.g. 100 Hz Ninapro)."""
    return min(50.0, sample_rate / max(1, math.floor(sample_rate / 50.0)))
