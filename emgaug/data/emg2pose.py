"""emg2pose format: one HDF5 file per (session, stage, hand) plus metadata.csv (see DESIGN.md).

Group `emg2pose`, dataset `timeseries` (compound: time f8, joint_angles f8 (20,), emg f4 (16,)), group
attributes filename, session, stage, user, side, sample_rate, num_channels, start, end.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pandas as pd

from emgaug.data.handles import open_h5
from emgaug.data.recording import Recording
from emgaug.errors import EmgaugError

GROUP = "emg2pose"
TIMESERIES = "timeseries"
EMG_FIELD = "emg"
ANGLES_FIELD = "joint_angles"
TIME_FIELD = "time"
REQUIRED_COLUMNS = ("user", "session", "stage", "side", "filename")
OPTIONAL_COLUMNS = ("moving_hand", "held_out_user", "held_out_stage", "split", "generalization")
REQUIRED_ATTRS = ("sample_rate",)
SUFFIXES = (".hdf5", ".h5")


def timeseries_dtype(num_joints: int = 20, num_channels: int = 16) -> np.dtype:
    return np.dtype([(TIME_FIELD, "<f8"), (ANGLES_FIELD, "<f8", (num_joints,)), (EMG_FIELD, "<f4", (num_channels,))])


def load_metadata(root: Path) -> pd.DataFrame:
    """Read and validate `root/metadata.csv`; every required column must be present and non-empty."""
    path = root / "metadata.csv"
    if not path.is_file():
        raise EmgaugError(f"{path}: metadata.csv not found; point --data at an emg2pose folder or run `emgaug simulate`")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as e:
        raise EmgaugError(f"{path}: cannot parse CSV ({e}); re-download or regenerate metadata.csv") from e
    missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
    if missing:
        raise EmgaugError(f"{path}: missing required column(s) {', '.join(missing)}; metadata.csv needs {', '.join(REQUIRED_COLUMNS)}")
    if df.empty:
        raise EmgaugError(f"{path}: no rows; the dataset folder holds no recordings")
    for col in REQUIRED_COLUMNS:
        blank = df[col].str.strip() == ""
        if blank.any():
            row = int(np.flatnonzero(blank.to_numpy())[0]) + 2
            raise EmgaugError(f"{path}: empty '{col}' on line {row}; fill it in or drop the row")
    dup = df["filename"].duplicated()
    if dup.any():
        raise EmgaugError(f"{path}: filename {df['filename'][dup].iloc[0]!r} is listed twice; each file must appear once")
    return df


def resolve_file(root: Path, filename: str) -> Path:
    """Find the HDF5 file for a metadata `filename` (with or without suffix)."""
    p = root / filename
    if p.suffix in SUFFIXES and p.is_file():
        return p
    for suf in SUFFIXES:
        q = root / f"{filename}{suf}"
        if q.is_file():
            return q
    raise EmgaugError(f"{root / filename}: HDF5 file listed in metadata.csv is missing; restore it or remove its row")


def inspect_file(path: Path) -> dict:
    """Read a file's attributes and shape without loading data; raise a clear error if it is not emg2pose."""
    try:
        with h5py.File(path, "r") as f:
            if GROUP not in f or TIMESERIES not in f[GROUP]:
                raise EmgaugError(f"{path}: no '{GROUP}/{TIMESERIES}' dataset; this is not an emg2pose file")
            ds = f[GROUP][TIMESERIES]
            names = ds.dtype.names or ()
            for field in (TIME_FIELD, ANGLES_FIELD, EMG_FIELD):
                if field not in names:
                    raise EmgaugError(f"{path}: timeseries lacks field '{field}'; expected compound (time, joint_angles, emg)")
            attrs = {k: _attr(v) for k, v in f[GROUP].attrs.items()}
            n = int(ds.shape[0])
            num_channels = int(ds.dtype[EMG_FIELD].shape[0])
            num_joints = int(ds.dtype[ANGLES_FIELD].shape[0])
            head = ds[: min(n, 2001)][TIME_FIELD] if n > 1 else np.zeros(1)
    except OSError as e:
        raise EmgaugError(f"{path}: cannot open as HDF5 ({e}); the file is corrupt or truncated, re-download it") from e
    if "sample_rate" not in attrs:
        raise EmgaugError(f"{path}: group attribute 'sample_rate' missing; emg2pose files must state their rate")
    sr = float(attrs["sample_rate"])
    if len(head) > 10:
        measured = 1.0 / float(np.median(np.diff(head)))
        if not np.isfinite(measured) or abs(measured - sr) > 0.05 * sr:
            raise EmgaugError(
                f"{path}: sample_rate attribute says {sr:g} Hz but timestamps give {measured:.1f} Hz; resample or fix the attribute"
            )
    if n == 0:
        raise EmgaugError(f"{path}: timeseries is empty; remove the file from metadata.csv")
    return {"num_rows": n, "sample_rate": sr, "num_channels": num_channels, "num_joints": num_joints, "attrs": attrs}


def _attr(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


class Emg2PoseReader:
    """Lazy reader of one emg2pose file: opens the HDF5 file in the calling process on first read."""

    def __init__(self, path: str):
        self.path = path

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            rows = open_h5(self.path)[GROUP][TIMESERIES][start:stop]
        except OSError as e:
            raise EmgaugError(f"{self.path}: read of rows {start}:{stop} failed ({e}); the file is corrupt, re-download it") from e
        return rows[EMG_FIELD].astype(np.float32, copy=False), rows[ANGLES_FIELD].astype(np.float32)

    def read_times(self, start: int, stop: int) -> np.ndarray:
        return open_h5(self.path)[GROUP][TIMESERIES].fields(TIME_FIELD)[start:stop]

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]


def list_recordings(root: Path, metadata: pd.DataFrame) -> list[Recording]:
    """One Recording per metadata row, with row counts and rates read from the files' headers."""
    recs = []
    for row in metadata.itertuples(index=False):
        r = row._asdict()
        path = resolve_file(root, r["filename"])
        info = inspect_file(path)
        extra = {k: r[k] for k in OPTIONAL_COLUMNS if k in r}
        extra.update(num_channels=info["num_channels"], num_joints=info["num_joints"])
        recs.append(
            Recording(
                kind="emg2pose", path=str(path), filename=r["filename"], user=str(r["user"]), session=str(r["session"]),
                stage=str(r["stage"]), side=str(r["side"]), start=0, stop=info["num_rows"],
                sample_rate=info["sample_rate"], extra=extra,
            )
        )
    return recs
