"""The common unit every dataset kind exposes: a labelled recording (or a labelled segment of a file)
with EMG and joint angles sampled on the same clock."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

IK_ZERO_TOL = 1e-6


@dataclass(frozen=True)
class Recording:
    """One labelled stretch of paired EMG + joint angles: rows [start, stop) of `path`."""

    kind: str
    path: str
    filename: str
    user: str
    session: str
    stage: str
    side: str
    start: int
    stop: int
    sample_rate: float
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def key(self) -> str:
        """Identifier unique within a dataset (a file may hold several segments)."""
        return f"{self.filename}[{self.start}:{self.stop}]"

    @property
    def num_rows(self) -> int:
        return self.stop - self.start

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class RecordingReader(Protocol):
    """Reads rows of one file; implementations open their file lazily and never pickle a handle."""

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        """Return (emg (n, C) float32, angles (n, J) float32) for rows [start, stop)."""
        ...


def ik_failure_mask(angles: np.ndarray) -> np.ndarray:
    """True for rows that are inverse-kinematics failures: any NaN, or all joint angles ~0."""
    nan = np.isnan(angles).any(axis=1)
    zero = np.nanmax(np.abs(np.where(np.isnan(angles), 0.0, angles)), axis=1) < IK_ZERO_TOL
    return nan | zero
