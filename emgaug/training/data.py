"""Training data from a split manifest: the (optionally subsampled) train windows and a small, fixed set
of fully valid validation windows held in memory for per-epoch metrics."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import Subset

from emgaug.data.manifest import Manifest
from emgaug.data.windows import NormStats, ResolvedWindow, WindowDataset
from emgaug.errors import EmgaugError
from emgaug.training.validation import ValSet


@dataclass
class TrainData:
    dataset: WindowDataset
    subset: Subset
    indices: np.ndarray  # windows of `dataset` used for training

    @property
    def labels(self) -> np.ndarray:
        return self.dataset.labels()[self.indices]


def train_data(manifest: Manifest, window: ResolvedWindow, norm: NormStats, label_map: dict[str, int],
               seed: int, max_windows: int | None, user_map: dict[str, int] | None = None,
               reference: bool = False) -> TrainData:
    """Train windows (jitter on), subsampled without replacement to `max_windows` with a seeded draw.
    `reference`: each item also carries another window of its user (person-conditioned generators)."""
    ds = WindowDataset(manifest.data_source, manifest.recordings("train"), window, norm=norm, label_map=label_map,
                       train=True, seed=seed, user_map=user_map, reference=reference)
    n = len(ds)
    if max_windows is not None:
        if max_windows < 1:
            raise EmgaugError(f"--max-train-windows must be >= 1, got {max_windows}")
        if max_windows < n:
            idx = np.sort(np.random.default_rng(seed).choice(n, size=max_windows, replace=False))
        else:
            idx = np.arange(n)
    else:
        idx = np.arange(n)
    return TrainData(dataset=ds, subset=Subset(ds, idx.tolist()), indices=idx)


def val_set(manifest: Manifest, window: ResolvedWindow, norm: NormStats, label_map: dict[str, int],
            max_windows: int, user_map: dict[str, int] | None = None) -> ValSet | None:
    """Up to `max_windows` evenly spaced val windows without masked frames; None when the split has none.
    Users are named by their `user_map` index, and by a negative id (-1, -2, ...) when not in it (a new person
    whose style the validation takes from that person's other validation windows)."""
    recs = manifest.recordings("val") if "val" in manifest.splits else []
    if not recs or max_windows <= 0:
        return None
    try:
        ds = WindowDataset(manifest.data_source, recs, window, norm=norm, label_map=label_map, train=False)
    except EmgaugError:
        return None  # val recordings shorter than one window: train without validation
    labels = ds.labels()
    known = user_map or {}
    new_ids = {u: -(k + 1) for k, u in enumerate(sorted({r.user for r in recs} - set(known)))}
    users = np.array([known.get(r.user, new_ids.get(r.user, -1)) for r in ds.window_recordings()], dtype=np.int64)
    cand = np.unique(np.linspace(0, len(ds) - 1, num=min(len(ds), 4 * max_windows)).round().astype(int))
    emg, ang, lab, usr = [], [], [], []
    for i in cand:
        e, a, am, em = ds.read_window(int(i))
        if am.all() and em.all():
            emg.append(e), ang.append(a), lab.append(labels[i]), usr.append(users[i])
    if not emg:
        return None
    keep = np.unique(np.linspace(0, len(emg) - 1, num=min(len(emg), max_windows)).round().astype(int))
    return ValSet(emg=torch.from_numpy(np.stack([emg[k] for k in keep])),
                  angles=torch.from_numpy(np.stack([ang[k] for k in keep])),
                  labels=torch.from_numpy(np.asarray([lab[k] for k in keep], dtype=np.int64)),
                  users=torch.from_numpy(np.asarray([usr[k] for k in keep], dtype=np.int64)))
