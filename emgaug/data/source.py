"""Dataset sources: one interface over every dataset kind (emg2pose HDF5, Ninapro DB1 .mat, 3DC raw EMG,
UCI lower limb CSV, IMU biceps CSV).

A source lists labelled `Recording`s and hands out lazy per-recording readers; everything downstream
(splits, windows, training, benchmarks) only talks to this interface. The second array a reader returns is the
conditioning signal ("kinematics"); its kind is declared by the source (`kinematics_kind`): hand joint angles,
a knee angle, or IMU channels, and `zero_rows_are_failures` says whether all-zero rows of it are invalid.
"""

from __future__ import annotations

import importlib
import inspect
from abc import ABC, abstractmethod
from functools import cached_property
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from emgaug.data.recording import Recording, RecordingReader, ik_failure_mask
from emgaug.errors import EmgaugError

# kind -> "module:Class"; imported lazily so optional readers cost nothing at start-up
SOURCE_KINDS: dict[str, str] = {
    "emg2pose": "emgaug.data.source:Emg2PoseSource",
    "ninapro_db1": "emgaug.data.ninapro:NinaproDB1Source",
    "3dc": "emgaug.data.threedc:ThreeDCSource",
    "uci_lower_limb": "emgaug.data.uci_lower_limb:UCILowerLimbSource",
    "imu_biceps": "emgaug.data.imu_biceps:IMUBicepsSource",
}


class DatasetSource(ABC):
    """A dataset on disk, seen as a list of labelled recordings with lazy readers."""

    kind: ClassVar[str]
    has_angles: ClassVar[bool] = True
    # what the conditioning array is: "joint_angles" (hand/glove angles, a knee angle) or "imu" (accelerometer and
    # gyroscope channels resampled onto the EMG clock)
    kinematics_kind: ClassVar[str] = "joint_angles"
    # True where a row whose conditioning values are all ~0 is an inverse-kinematics failure (emg2pose's rule, also
    # kept for Ninapro's glove); False where 0 is a real value (a knee angle of 0 degrees, an IMU reading)
    zero_rows_are_failures: ClassVar[bool] = True
    # how reports name the conditioning signal ("joint angles", "knee angle", "IMU"); see `kinematics_label`
    kinematics_label: ClassVar[str] = "joint angles"

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise EmgaugError(f"{self.root}: dataset folder not found; pass an existing folder (or run `emgaug simulate`)")

    @cached_property
    def recordings(self) -> list[Recording]:
        recs = self._list_recordings()
        if not recs:
            raise EmgaugError(f"{self.root}: no recordings found for dataset kind '{self.kind}'")
        return recs

    @abstractmethod
    def _list_recordings(self) -> list[Recording]: ...

    @abstractmethod
    def reader(self, rec: Recording) -> RecordingReader:
        """A reader for `rec`'s file; cheap to create, opens the file lazily in the calling process."""

    @cached_property
    def sample_rate(self) -> float:
        rates = {r.sample_rate for r in self.recordings}
        if len(rates) != 1:
            first = {}
            for r in self.recordings:
                first.setdefault(r.sample_rate, r.path)
            detail = ", ".join(f"{sr:g} Hz in {p}" for sr, p in first.items())
            raise EmgaugError(f"{self.root}: recordings have different sample rates ({detail}); resample them to one rate")
        return rates.pop()

    @cached_property
    def num_channels(self) -> int:
        return self._uniform("num_channels")

    @cached_property
    def num_joints(self) -> int:
        return self._uniform("num_joints")

    @property
    def channel_names(self) -> list[str]:
        """EMG channel names; sources whose files name their channels override this."""
        return [f"emg{i}" for i in range(self.num_channels)]

    @property
    def kinematics_names(self) -> list[str]:
        """Names of the conditioning channels (joints or IMU axes); sources whose files name them override this."""
        return [f"joint{i}" for i in range(self.num_joints)]

    def kinematics_failure_mask(self, kinematics: np.ndarray) -> np.ndarray:
        """True for rows (n, J) -> (n,) that must be masked, never learned. Where this source's `zero_rows_are_failures`
        holds: emg2pose's inverse-kinematics rule (any NaN, or all values ~0); otherwise only non-finite rows."""
        if self.zero_rows_are_failures:
            return ik_failure_mask(kinematics)
        return ~np.isfinite(kinematics).all(axis=1)

    def _uniform(self, key: str) -> int:
        vals = {int(r.extra[key]) for r in self.recordings}
        if len(vals) != 1:
            raise EmgaugError(f"{self.root}: recordings disagree on {key} ({sorted(vals)}); use files with one layout")
        return vals.pop()

    def metadata_frame(self) -> pd.DataFrame:
        """One row per recording: labels, row range, and any protocol columns the source provides."""
        rows = []
        for r in self.recordings:
            d = {"key": r.key, "filename": r.filename, "user": r.user, "session": r.session, "stage": r.stage,
                 "side": r.side, "start": r.start, "stop": r.stop, "sample_rate": r.sample_rate}
            d.update({k: v for k, v in r.extra.items() if k not in ("num_channels", "num_joints")})
            rows.append(d)
        return pd.DataFrame(rows)

    def describe(self) -> dict:
        return {"kind": self.kind, "root": str(self.root), "kinematics_kind": self.kinematics_kind,
                "kinematics_label": self.kinematics_label}

    def by_key(self) -> dict[str, Recording]:
        return {r.key: r for r in self.recordings}


class Emg2PoseSource(DatasetSource):
    """emg2pose folder: metadata.csv + one HDF5 file per (session, stage, hand)."""

    kind = "emg2pose"

    def _list_recordings(self) -> list[Recording]:
        from emgaug.data.emg2pose import list_recordings, load_metadata

        return list_recordings(self.root, load_metadata(self.root))

    def reader(self, rec: Recording) -> RecordingReader:
        from emgaug.data.emg2pose import Emg2PoseReader

        return Emg2PoseReader(rec.path)


# report names of the conditioning kinds, for artefacts that declare a kind but no label (and "kinematics" for others)
KINEMATICS_LABELS: dict[str, str] = {"joint_angles": "joint angles", "imu": "IMU"}
DEFAULT_KINEMATICS_KIND = "joint_angles"  # what artefacts written before kinds were declared hold


def kinematics_label(kind: str | None, label: str | None = None) -> str:
    """How tables and reports name a conditioning signal: its declared `label` when given (a source's
    `kinematics_label`, e.g. "knee angle"), else the name of its `kind` ("joint angles", "IMU"), else the generic
    "kinematics"."""
    if label:
        return str(label)
    return KINEMATICS_LABELS.get(str(kind), "kinematics") if kind else "kinematics"


def source_class(kind: str) -> type[DatasetSource]:
    """The DatasetSource class of a dataset kind (imported on first use)."""
    if kind not in SOURCE_KINDS:
        raise EmgaugError(f"unknown dataset kind '{kind}'; choose one of {', '.join(SOURCE_KINDS)}")
    module, cls_name = SOURCE_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), cls_name)


def detect_kind(root: Path) -> str:
    """Guess a folder's dataset kind from its contents."""
    if (root / "metadata.csv").is_file():
        return "emg2pose"
    if any(root.glob("S*_A1_E1.mat")):
        return "ninapro_db1"
    if any(root.glob("Participant*/train/EMG")):
        return "3dc"
    if any(root.glob("normal/*N*.csv")) or any(root.glob("abnormal/*A*.csv")):
        return "uci_lower_limb"
    if any(root.glob("raw/*_*_*.csv")):
        return "imu_biceps"
    raise EmgaugError(
        f"{root}: cannot tell the dataset kind (no metadata.csv, S*_A1_E1.mat, Participant*/, normal/ or abnormal/ "
        "*.csv, raw/*_*_*.csv); pass --kind or check the path"
    )


def open_source(root: str | Path, kind: str = "auto", strict: bool = False, **options) -> DatasetSource:
    """Open the dataset at `root` as a source of the given kind ('auto' detects it).

    `options` are passed to the kind's constructor where it takes them (e.g. Ninapro's reps_per_session). With
    `strict` (options a user typed, e.g. `--source-option`) an option the kind does not take is an error naming
    the valid ones; otherwise other keys (such as those `describe()` adds for provenance) are ignored, so a
    manifest's source dict can be passed back as it was saved.
    """
    root = Path(root)
    if not root.is_dir():
        raise EmgaugError(f"{root}: dataset folder not found; pass an existing folder (or run `emgaug simulate`)")
    if kind == "auto":
        kind = detect_kind(root)
    cls = source_class(kind)
    accepted = set(inspect.signature(cls.__init__).parameters) - {"self", "root"}
    unknown = sorted(set(options) - accepted)
    if strict and unknown:
        raise EmgaugError(f"dataset kind '{kind}' takes no option {', '.join(unknown)}; valid options: "
                          f"{', '.join(sorted(accepted)) or 'none'}")
    return cls(root, **{k: v for k, v in options.items() if k in accepted and v is not None})
