"""A torch Dataset over a synthetic set that behaves like the real-data `WindowDataset` (same item dict,
same optional normalisation), so classifiers and metrics treat synthetic and real windows alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from emgaug.data.windows import NormStats, ResolvedWindow
from emgaug.synthesis.parquet_io import SyntheticSet, read_synthetic


class SyntheticWindowDataset(Dataset):
    """Synthetic windows held in memory (for sets larger than RAM stream with `iter_synthetic`).

    Item: emg float32 (C, T); angles float32 (J, Ta); angle_mask bool (Ta,); emg_mask bool (T,);
    label int64 (stage index in `label_map`, -1 if absent); index int64. With `norm`, EMG and angles are
    normalised exactly as WindowDataset does (masked angle frames are 0), else raw units.
    """

    def __init__(self, data: str | Path | SyntheticSet, norm: NormStats | None = None,
                 label_map: dict[str, int] | None = None):
        self.set = data if isinstance(data, SyntheticSet) else read_synthetic(data)
        meta = self.set.metadata
        self.norm = norm
        default_map = meta.get("label_map") or {s: i for i, s in enumerate(sorted(self.set.labels["stage"].unique()))}
        self.label_map = dict(label_map) if label_map is not None else {str(k): int(v) for k, v in default_map.items()}
        self.window = ResolvedWindow.from_dict(meta["window"])
        self._labels = np.array([self.label_map.get(s, -1) for s in self.set.labels["stage"]], dtype=np.int64)
        self._emg_mask = self.set.emg_mask

    @property
    def metadata(self) -> dict[str, Any]:
        return self.set.metadata

    @property
    def num_channels(self) -> int:
        return int(self.set.emg.shape[1])

    @property
    def num_joints(self) -> int:
        return int(self.set.angles.shape[1])

    def __len__(self) -> int:
        return len(self.set)

    def labels(self) -> np.ndarray:
        """Stage label of every window (int64, -1 for stages outside `label_map`)."""
        return self._labels

    def window_meta(self, i: int) -> dict[str, Any]:
        row = self.set.labels.iloc[int(i)]
        return {k: (row[k].item() if hasattr(row[k], "item") else row[k])
                for k in ("filename", "user", "session", "stage", "side", "start", "stop", "sample_rate", "sample_index")}

    def read_window(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(emg (C, T), angles (J, Ta), angle_mask (Ta,), emg_mask (T,)), normalised when `norm` is set."""
        emg, ang, amask = self.set.emg[i], self.set.angles[i], self.set.angle_mask[i]
        if self.norm is not None:
            emg = (emg - self.norm.emg_mean[:, None]) / self.norm.emg_std[:, None]
            ang = np.where(amask[None, :], (ang - self.norm.angle_mean[:, None]) / self.norm.angle_std[:, None], 0.0)
        return (np.ascontiguousarray(emg, dtype=np.float32), np.ascontiguousarray(ang, dtype=np.float32),
                amask.copy(), self._emg_mask[i].copy())

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        emg, ang, amask, emask = self.read_window(int(i))
        return {
            "emg": torch.from_numpy(emg),
            "angles": torch.from_numpy(ang),
            "angle_mask": torch.from_numpy(amask),
            "emg_mask": torch.from_numpy(emask),
            "label": torch.tensor(self._labels[int(i)], dtype=torch.int64),
            "index": torch.tensor(int(i), dtype=torch.int64),
        }
