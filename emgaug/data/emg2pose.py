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
        second = int(np.flatnonzero(dup.to_numpy())[0])
        name = df["filename"].iloc[second]
        first = int(np.flatnonzero((df["filename"] == name).to_numpy())[0])
        raise EmgaugError(f"{path}: lines {first + 2} and {second + 2} both list filename {name!r}; each file must "
                          "appear once, drop one of the rows")
    return df


def resolve_file(root: Path, filename: str, line: int | None = None) -> Path:
    """The canonical path (symlinks resolved) of the HDF5 file a metadata `filename` names, with or without suffix.

    The file must lie inside the dataset folder: absolute names, `..` that climbs out, and symlinks pointing
    outside are refused with one line, so metadata.csv can never make emgaug read (or train on) other files."""
    where = f"{root / 'metadata.csv'}{f' line {line}' if line is not None else ''}"
    if any(ord(ch) < 32 for ch in filename):
        raise EmgaugError(f"{where}: filename {filename!r} holds control characters; fix the row")
    if Path(filename).is_absolute():
        raise EmgaugError(f"{where}: filename {filename!r} is an absolute path; metadata.csv may only name files "
                          "inside the dataset folder, relative to it")
    try:
        base = root.resolve(strict=True)
    except OSError as e:
        raise EmgaugError(f"{root}: dataset folder cannot be resolved ({e.strerror or e}); check the path") from e
    candidates = [root / filename] if Path(filename).suffix in SUFFIXES else []
    candidates += [root / f"{filename}{suf}" for suf in SUFFIXES]
    for cand in candidates:
        try:
            if not cand.is_file():
                continue
            real = cand.resolve(strict=True)
        except (OSError, RuntimeError) as e:  # symlink loops, names too long, permission denied
            raise EmgaugError(f"{where}: filename {filename!r} cannot be resolved ({e}); fix the row or the file") from e
        if not real.is_relative_to(base):
            raise EmgaugError(f"{where}: filename {filename!r} resolves to {real}, outside the dataset folder {base}; "
                              "metadata.csv may only name files inside it (symlinks are followed)")
        return real
    try:
        outside = not (root / filename).resolve().is_relative_to(base)
    except (OSError, RuntimeError):
        outside = False
    if outside:
        raise EmgaugError(f"{where}: filename {filename!r} points outside the dataset folder {base}; metadata.csv "
                          "may only name files inside it")
    raise EmgaugError(f"{root / filename}: HDF5 file listed in metadata.csv is missing; restore it or remove its row")


def inspect_file(path: Path) -> dict:
    """Read a file's attributes and shape without loading data; raise a clear error if it is not emg2pose."""
    try:
        with h5py.File(path, "r") as f:
            if GROUP not in f or not isinstance(f[GROUP], h5py.Group) or TIMESERIES not in f[GROUP] \
                    or not isinstance(f[GROUP][TIMESERIES], h5py.Dataset):
                raise EmgaugError(f"{path}: no '{GROUP}/{TIMESERIES}' dataset; this is not an emg2pose file")
            ds = f[GROUP][TIMESERIES]
            names = ds.dtype.names or ()
            for field in (TIME_FIELD, ANGLES_FIELD, EMG_FIELD):
                if field not in names:
                    raise EmgaugError(f"{path}: timeseries lacks field '{field}'; expected compound (time, joint_angles, emg)")
            for field, ndim in ((TIME_FIELD, 0), (ANGLES_FIELD, 1), (EMG_FIELD, 1)):
                ft = ds.dtype[field]
                if len(ft.shape) != ndim or not np.issubdtype(ft.base, np.number) or np.issubdtype(ft.base, np.complexfloating):
                    want = "a real number per row" if ndim == 0 else "a vector of real numbers per row"
                    raise EmgaugError(f"{path}: timeseries field '{field}' is {ft} but must be {want}; this is not an "
                                      "emg2pose file")
            if len(ds.shape) != 1:
                raise EmgaugError(f"{path}: timeseries has shape {ds.shape}, expected one row per sample; this is not "
                                  "an emg2pose file")
            attrs = {k: _attr(v) for k, v in f[GROUP].attrs.items()}
            n = int(ds.shape[0])
            num_channels = int(ds.dtype[EMG_FIELD].shape[0])
            num_joints = int(ds.dtype[ANGLES_FIELD].shape[0])
            head = ds.fields(TIME_FIELD)[: min(n, 2001)] if n > 1 else np.zeros(1)
    except EmgaugError:
        raise
    except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
        raise EmgaugError(f"{path}: cannot open as HDF5 ({_one_line(e)}); the file is corrupt or truncated, "
                          "re-download it") from e
    if n == 0:
        raise EmgaugError(f"{path}: timeseries is empty; remove the file from metadata.csv")
    if num_channels == 0:
        raise EmgaugError(f"{path}: the 'emg' field has no channels; this is not a usable emg2pose file")
    if "sample_rate" not in attrs:
        raise EmgaugError(f"{path}: group attribute 'sample_rate' missing; emg2pose files must state their rate")
    try:
        sr = float(np.asarray(attrs["sample_rate"]).reshape(-1)[0])
    except (TypeError, ValueError, IndexError):
        sr = float("nan")
    if not np.isfinite(sr) or sr <= 0:
        raise EmgaugError(f"{path}: group attribute sample_rate is {attrs['sample_rate']!r}; it must be a positive "
                          "number of samples per second, fix the attribute")
    if len(head) > 10:
        with np.errstate(divide="ignore", invalid="ignore"):
            measured = float(np.float64(1.0) / np.median(np.diff(np.asarray(head, dtype=np.float64))))
        if not np.isfinite(measured) or abs(measured - sr) > 0.05 * sr:
            raise EmgaugError(
                f"{path}: sample_rate attribute says {sr:g} Hz but timestamps give {measured:.1f} Hz; resample or fix the attribute"
            )
    return {"num_rows": n, "sample_rate": sr, "num_channels": num_channels, "num_joints": num_joints, "attrs": attrs}


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split())


def _attr(v):
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    if isinstance(v, np.generic):
        return v.item()
    return v


def check_finite_emg(emg: np.ndarray, path: str, start: int) -> None:
    """Refuse EMG holding NaN or inf, naming the file, the channel and the rows (the first bad stretch)."""
    bad = ~np.isfinite(emg)
    if not bad.any():
        return
    rows, chans = np.nonzero(bad)
    ch = int(chans[np.argmin(rows)])
    col = bad[:, ch]
    a = int(np.argmax(col))
    run = np.flatnonzero(~col[a:])
    b = a + (int(run[0]) if len(run) else len(col) - a)
    raise EmgaugError(f"{path}: EMG channel {ch} holds NaN/inf in rows {start + a}:{start + b}; repair the recording "
                      "or remove the file's row from metadata.csv")


class Emg2PoseReader:
    """Lazy reader of one emg2pose file: opens the HDF5 file in the calling process on first read.

    EMG must be finite (NaN/inf is refused with the file, channel and rows); joint angles that are NaN or inf
    come back as NaN, i.e. masked like emg2pose's inverse-kinematics failures."""

    def __init__(self, path: str):
        self.path = path

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        try:
            rows = open_h5(self.path)[GROUP][TIMESERIES][start:stop]
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise EmgaugError(f"{self.path}: read of rows {start}:{stop} failed ({_one_line(e)}); the file is corrupt, "
                              "re-download it") from e
        with np.errstate(over="ignore", invalid="ignore"):  # float64 beyond float32's range becomes inf: caught below
            emg = rows[EMG_FIELD].astype(np.float32, copy=False)
            ang = rows[ANGLES_FIELD].astype(np.float32)
        check_finite_emg(emg, self.path, start)
        ang[~np.isfinite(ang)] = np.nan  # inf (or a float64 beyond float32) is an IK failure too: masked, never learned
        return emg, ang

    def read_times(self, start: int, stop: int) -> np.ndarray:
        try:
            return open_h5(self.path)[GROUP][TIMESERIES].fields(TIME_FIELD)[start:stop]
        except (OSError, KeyError, ValueError, TypeError, RuntimeError) as e:
            raise EmgaugError(f"{self.path}: read of rows {start}:{stop} failed ({_one_line(e)}); the file is corrupt, "
                              "re-download it") from e

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]


def list_recordings(root: Path, metadata: pd.DataFrame) -> list[Recording]:
    """One Recording per metadata row, with row counts and rates read from the files' headers."""
    recs = []
    seen: dict[Path, tuple[int, str]] = {}  # canonical file -> (metadata line, filename) of the row naming it
    for i, r in enumerate(metadata.to_dict("records")):
        line = i + 2  # header is line 1
        path = resolve_file(root, r["filename"], line)
        if path in seen:
            first_line, first_name = seen[path]
            raise EmgaugError(f"{root / 'metadata.csv'}: lines {first_line} ({first_name!r}) and {line} "
                              f"({r['filename']!r}) name the same file {path}; each file must appear once, drop one "
                              "of the rows")
        seen[path] = (line, r["filename"])
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
