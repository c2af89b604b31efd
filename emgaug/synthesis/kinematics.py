"""Kinematics-only angle sources for synthesis: emg2pose HDF5 files (a file or a folder of them) or a Parquet
table of joint angles, e.g. gestures the generator never saw. They present the `DatasetSource` interface
(EMG reads as zeros and is never used) so they are windowed exactly like real recordings.

The conditioning kind and its zero-row rule come from the checkpoint (`open_kinematics(kinematics_kind=...,
zero_rows_are_failures=...)`): all-zero rows are masked as inverse-kinematics failures only where the generator's
training data treated them so (hand joint angles); a knee angle of 0 degrees or an IMU reading of 0 is kept.

Parquet layout (one row per time sample, rows in time order within a sequence):
  stage (str, required)        gesture label of the sequence
  sample_rate (float, required) Hz, constant within a sequence; must equal the checkpoint's rate
  joint_angles (list<float>[J]) or angle_0 .. angle_{J-1} (float columns): joint angles in the training data's units
  sequence (str, optional)     sequence id (default: the file stem); one id = one contiguous recording
  user, session, side (str, optional) labels copied to the synthetic set (default "unknown")
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from emgaug.data.emg2pose import ANGLES_FIELD, GROUP, SUFFIXES, TIMESERIES, inspect_file
from emgaug.data.handles import open_h5
from emgaug.data.recording import Recording
from emgaug.data.source import DEFAULT_KINEMATICS_KIND, DatasetSource, kinematics_label
from emgaug.errors import EmgaugError

NAN_SCAN_ROWS = 1 << 20
_ANGLE_COL = re.compile(r"^angle_(\d+)$")


class KinematicsSource(DatasetSource):
    """Recordings that carry kinematics only; reads return zero EMG of the checkpoint's channel count. The kind
    and zero-row rule are the checkpoint's (instance attributes shadow the class defaults)."""

    kind = "kinematics"

    def __init__(self, root: Path, recordings: list[Recording], readers: dict[str, object],
                 kinematics_kind: str = "joint_angles", zero_rows_are_failures: bool = True):
        self.root = Path(root)  # a file or a folder: no folder check, unlike dataset sources
        self._recs = recordings
        self._readers = readers
        self.kinematics_kind = str(kinematics_kind)
        self.zero_rows_are_failures = bool(zero_rows_are_failures)

    def _list_recordings(self) -> list[Recording]:
        return self._recs

    def reader(self, rec: Recording):
        return self._readers[rec.path]


class ArrayAnglesReader:
    """Angles held in memory (from Parquet), EMG as zeros."""

    def __init__(self, angles: np.ndarray, num_channels: int):
        self.angles = angles
        self.num_channels = num_channels

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        ang = self.angles[start:stop]
        return np.zeros((len(ang), self.num_channels), dtype=np.float32), ang


class H5AnglesReader:
    """Reads only the joint_angles field of an emg2pose file (lazily opened), EMG as zeros."""

    def __init__(self, path: str, num_channels: int):
        self.path = path
        self.num_channels = num_channels

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        ang = open_h5(self.path)[GROUP][TIMESERIES].fields(ANGLES_FIELD)[start:stop].astype(np.float32)
        return np.zeros((len(ang), self.num_channels), dtype=np.float32), ang

    def __getstate__(self):
        return {"path": self.path, "num_channels": self.num_channels}

    def __setstate__(self, state):
        self.__dict__.update(state)


def set_kinematics(meta: dict[str, Any]) -> dict[str, Any]:
    """The conditioning declaration of a synthetic set from its metadata: kind, names, report label, zero-row rule
    and frame rate. Sets written before kinds were declared hold hand joint angles (joint0.. by the set's angle
    shape) at the window's angle frame rate."""
    kind = meta.get("kinematics_kind") or DEFAULT_KINEMATICS_KIND
    shape = meta.get("angle_shape") or [0, 0]
    names = meta.get("kinematics_names") or [f"joint{i}" for i in range(int(shape[0]))]
    win = meta.get("window") or {}
    rate = meta.get("kinematics_rate_hz")
    if rate is None and win.get("angle_downsample"):
        rate = float(win["sample_rate"]) / int(win["angle_downsample"])
    zero = meta.get("kinematics_zero_rows_are_failures")
    return {"kinematics_kind": str(kind), "kinematics_names": [str(n) for n in names],
            "kinematics_label": kinematics_label(kind, meta.get("kinematics_label")),
            "kinematics_zero_rows_are_failures": bool(kind == "joint_angles") if zero is None else bool(zero),
            "kinematics_rate_hz": None if rate is None else float(rate)}


def open_kinematics(path: str | Path, *, num_channels: int, num_joints: int, sample_rate: float,
                    kinematics_kind: str = "joint_angles", zero_rows_are_failures: bool = True) -> KinematicsSource:
    """Open a kinematics-only input, checking joint count, sample rate and NaNs against the checkpoint; rows are
    masked by the checkpoint's zero-row rule (`zero_rows_are_failures`, see the module docstring)."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
        if not files:
            raise EmgaugError(f"{path}: folder holds no emg2pose .hdf5/.h5 files; pass a file, or a folder of them")
        recs, readers = _from_h5_files(files, num_channels, num_joints, sample_rate)
    elif path.is_file() and path.suffix in SUFFIXES:
        recs, readers = _from_h5_files([path], num_channels, num_joints, sample_rate)
    elif path.is_file() and path.suffix == ".parquet":
        recs, readers = _from_parquet(path, num_channels, num_joints, sample_rate)
    elif path.exists():
        raise EmgaugError(f"{path}: kinematics must be an emg2pose .hdf5/.h5 file, a folder of them, or a .parquet table")
    else:
        raise EmgaugError(f"{path}: kinematics file not found; pass an existing emg2pose HDF5 file/folder or Parquet table")
    return KinematicsSource(path, recs, readers, kinematics_kind=kinematics_kind,
                            zero_rows_are_failures=zero_rows_are_failures)


def _check_rate(path: Path | str, rate: float, sample_rate: float) -> None:
    if abs(rate - sample_rate) > 1e-6 * sample_rate:
        raise EmgaugError(f"{path}: angles are at {rate:g} Hz but the checkpoint was trained at {sample_rate:g} Hz; "
                          "resample the angles to the checkpoint's rate")


def _check_joints(path: Path | str, joints: int, num_joints: int) -> None:
    if joints != num_joints:
        raise EmgaugError(f"{path}: {joints} joint angles per row but the checkpoint expects {num_joints}; "
                          "use angles with the training data's joint layout")


def _from_h5_files(files: list[Path], C: int, J: int, sr: float) -> tuple[list[Recording], dict[str, object]]:
    recs, readers = [], {}
    for f in files:
        info = inspect_file(f)
        _check_rate(f, info["sample_rate"], sr)
        _check_joints(f, info["num_joints"], J)
        ds = open_h5(str(f))[GROUP][TIMESERIES]
        for s in range(0, info["num_rows"], NAN_SCAN_ROWS):
            if np.isnan(ds.fields(ANGLES_FIELD)[s:s + NAN_SCAN_ROWS]).any():
                raise EmgaugError(f"{f}: joint angles contain NaN; fill or drop those rows (IK failures are written as zeros)")
        a = info["attrs"]
        recs.append(Recording(
            kind="kinematics", path=str(f), filename=str(a.get("filename", f.stem)), user=str(a.get("user", "unknown")),
            session=str(a.get("session", "unknown")), stage=str(a.get("stage", f.stem)), side=str(a.get("side", "unknown")),
            start=0, stop=info["num_rows"], sample_rate=info["sample_rate"], extra={"num_channels": C, "num_joints": J},
        ))
        readers[str(f)] = H5AnglesReader(str(f), C)
    return recs, readers


def _parquet_angles(path: Path, df: pd.DataFrame, J: int) -> np.ndarray:
    if "joint_angles" in df.columns:
        lens = df["joint_angles"].map(len)
        if (lens != lens.iloc[0]).any():
            raise EmgaugError(f"{path}: joint_angles lists have different lengths; every row needs the same joints")
        _check_joints(path, int(lens.iloc[0]), J)
        return np.stack(df["joint_angles"].to_numpy()).astype(np.float32)
    idx = sorted((int(m.group(1)), c) for c in df.columns if (m := _ANGLE_COL.match(str(c))))
    if not idx:
        raise EmgaugError(f"{path}: no joint angle columns; give a list column 'joint_angles' or columns angle_0..angle_{J - 1}")
    if [i for i, _ in idx] != list(range(len(idx))):
        raise EmgaugError(f"{path}: angle columns must be angle_0..angle_<J-1> without gaps")
    _check_joints(path, len(idx), J)
    return df[[c for _, c in idx]].to_numpy(dtype=np.float32)


def _from_parquet(path: Path, C: int, J: int, sr: float) -> tuple[list[Recording], dict[str, object]]:
    try:
        df = pq.read_table(path).to_pandas()
    except Exception as e:  # noqa: BLE001 - any unreadable file gets the same one-line message
        raise EmgaugError(f"{path}: cannot read as Parquet ({e}); write it with pandas.DataFrame.to_parquet") from e
    for col in ("stage", "sample_rate"):
        if col not in df.columns:
            raise EmgaugError(f"{path}: missing required column '{col}' (see docs/synthetic_schema.md, kinematics input)")
    if df.empty:
        raise EmgaugError(f"{path}: no rows; the kinematics table is empty")
    angles = _parquet_angles(path, df, J)
    seq = df["sequence"].astype(str) if "sequence" in df.columns else pd.Series(path.stem, index=df.index)
    recs, readers = [], {}
    for name in dict.fromkeys(seq.tolist()):
        rows = np.flatnonzero((seq == name).to_numpy())
        if rows[-1] - rows[0] + 1 != len(rows):
            raise EmgaugError(f"{path}: rows of sequence {name!r} are not contiguous; sort the table by sequence, then time")
        part = df.iloc[rows]
        labels = {}
        for col in ("stage", "sample_rate", "user", "session", "side"):
            vals = part[col].unique() if col in part.columns else np.array(["unknown"])
            if len(vals) != 1:
                raise EmgaugError(f"{path}: sequence {name!r} has several values of '{col}'; one sequence = one label set")
            labels[col] = vals[0]
        _check_rate(f"{path} (sequence {name!r})", float(labels["sample_rate"]), sr)
        a = np.ascontiguousarray(angles[rows])
        if np.isnan(a).any():
            raise EmgaugError(f"{path}: joint angles of sequence {name!r} contain NaN; fill or drop those rows")
        key = f"{path}#{name}"
        recs.append(Recording(kind="kinematics", path=key, filename=str(name), user=str(labels["user"]),
                              session=str(labels["session"]), stage=str(labels["stage"]), side=str(labels["side"]),
                              start=0, stop=len(rows), sample_rate=float(labels["sample_rate"]),
                              extra={"num_channels": C, "num_joints": J}))
        readers[key] = ArrayAnglesReader(a, C)
    return recs, readers
