"""IMU-EMG biceps-curl recordings (Delsys Trigno; "IMU-EMG-RPE-Estimation", J. Thomas, University of Exeter, 2025)
as a dataset source: raw biceps EMG conditioned on a 6-axis wrist IMU.

Layout:
- `raw/<subject>_<load kg>_<set>.csv`, one file per set, a Trigno Discover export: 7 header lines (application,
  date/time, collection length, sensor names, sensor modes, column titles, per-column rates), then one row per
  EMG sample. The IMU columns (`ACC X/Y/Z` in g, `GYRO X/Y/Z` in deg/s, ~370.37 Hz) fill the first rows and are
  blank after the IMU stream ends; the EMG column(s) (`EMG 1` in mV, ~2148.15 Hz, ~5.8x more rows) run on. Both
  streams start at t = 0. Columns are found by their titles, so the re-saved layout of the `T417_*` files (an extra
  leading index column, header cells shifted by it, quotes allowed) reads like the original one. Rates come from
  the files' rate row.
- `rep_indexes_corrected.txt`: one line per set, `<set id>, [start indexes], [mid/peak indexes], <n>, <n>`, in IMU
  samples; repetition k spans starts[k] .. starts[k+1] (so there are n + 1 starts).
- `rpes.csv`: one column per set: set id, number of repetitions, then the rated perceived exertion (RPE, 1-10)
  after each repetition.

Alignment: the IMU is linearly interpolated onto the EMG clock (t = row / EMG rate, both from t = 0), and EMG rows
after the last IMU sample are dropped, so `reader.read(start, stop)` returns (emg (n, C), imu (n, 6)) on one clock
like every other reader. Repetition boundaries move to EMG rows as round(index * EMG rate / IMU rate).

Mapping onto `Recording` (`segment="repetition"`, the default: one Recording per repetition, rows from its start
to the next repetition's start; the rest before the first and after the last repetition is not listed):
- user: the subject code ("A321"); session: the set, "<load>kg_set<n>" with the load zero-padded ("05kg_set03"),
  since set numbers restart for every load; side: "unknown" (the files do not say which arm);
- stage, by `label`: "load" (default): the load class, "05kg" / "10kg" / "15kg"; "rpe_class": the repetition's
  effort class from its RPE (`RPE_CLASSES`: low 1-5, mid 6-7, high 8-10); "rpe": "rpe01" .. "rpe10";
- extra: set id, load_kg, set, repetition (1-based), repetitions, rpe, rpe_class, peak_row (the mid/peak index as
  an EMG row), imu_rate_hz, recorded_at (the header's date/time), num_channels, num_joints (6).
`segment="set"` lists one Recording per whole set instead (all its aligned rows, rest included), with
`repetition_rows` ([start, stop) EMG rows) and `rpes` in extra; its stage is the load class (label must be "load").
IMU values are real readings (0 is valid), so all-zero rows are not treated as failures.
"""

from __future__ import annotations

import csv
import itertools
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emgaug.data.filecache import ParsedFileCache, stat_key
from emgaug.data.recording import Recording, RecordingReader
from emgaug.data.source import DatasetSource
from emgaug.data.uci_lower_limb import numeric_columns
from emgaug.errors import EmgaugError

HEADER_LINES = 7
TITLE_LINE, RATE_LINE = 5, 6  # 0-based lines of the column titles and the per-column rates
IMU_AXES = ("ACC X", "ACC Y", "ACC Z", "GYRO X", "GYRO Y", "GYRO Z")  # title prefixes, in kinematics order
EMG_PREFIX = "EMG"
# Tolerance on the two streams ending together, and on the data covering the header's collection length: the
# real files agree to within one EMG sample; a file that falls short by more was cut or lost a sensor.
STREAM_TOLERANCE_S = 0.1
REP_FILE = "rep_indexes_corrected.txt"
RPE_FILE = "rpes.csv"
RAW_DIR = "raw"
FILE_PATTERN = re.compile(r"^([A-Za-z]+\d+)_(\d+)_(\d+)\.csv$")
REP_LINE = re.compile(r"^\s*([^,\s]+)\s*,\s*\[([^\]]*)\]\s*,\s*\[([^\]]*)\]\s*,\s*(\d+)\s*,\s*(\d+)\s*,?\s*$")
# Effort classes over the 1-10 RPE scale: low = up to moderate (1-5), mid = hard (6-7), high = very hard to
# maximal, about 2 or fewer repetitions in reserve (8-10). On the 52 sets these hold 176 / 269 / 173 repetitions.
RPE_CLASSES = (("low", 1, 5), ("mid", 6, 7), ("high", 8, 10))
LABELS = ("load", "rpe_class", "rpe")
SEGMENTS = ("repetition", "set")
SIDE = "unknown"
_CACHE_BYTES = 512 * 2**20  # aligned float32 arrays kept per process (the 52 sets take ~145 MB)

_cache = ParsedFileCache(_CACHE_BYTES)


def clear_cache() -> None:
    """Forget every parsed file in this process."""
    _cache.clear()


def rpe_class(rpe: int) -> str:
    for name, lo, hi in RPE_CLASSES:
        if lo <= rpe <= hi:
            return name
    raise EmgaugError(f"RPE {rpe} is outside 1-10; fix {RPE_FILE}")


@dataclass(frozen=True)
class SetFile:
    """What listing needs from one set's file."""

    num_rows: int  # aligned rows (EMG rows up to the last IMU sample)
    imu_rows: int
    emg_rows: int
    imu_rate: float
    emg_rate: float
    channel_names: tuple[str, ...]
    imu_names: tuple[str, ...]
    recorded_at: str


def _header(path: str) -> list[list[str]]:
    try:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            lines = list(itertools.islice(fh, HEADER_LINES))
    except UnicodeDecodeError as e:
        raise EmgaugError(f"{path}: not a text file ({e.reason}); re-export the set from Trigno Discover") from e
    except OSError as e:
        raise EmgaugError(f"{path}: cannot read ({e.strerror or e}); restore the file") from e
    if not lines:
        raise EmgaugError(f"{path}: the file is empty; re-export the set or remove the file")
    if len(lines) < HEADER_LINES:
        raise EmgaugError(f"{path}: only {len(lines)} of the {HEADER_LINES} header lines of a Trigno export and no data "
                          "(the file is truncated); re-export the set or remove the file")
    return [[c.strip().strip('"').strip() for c in row] for row in csv.reader(lines)]


def _header_value(header: list[list[str]], label: str) -> str | None:
    """The first non-empty cell after a cell starting with `label` (e.g. 'Date/Time:'), or None."""
    for row in header:
        for i, c in enumerate(row):
            if c.startswith(label):
                return next((v for v in row[i + 1:] if v), None)
    return None


def _columns(path: str, header: list[list[str]]) -> tuple[list[int], list[int], list[str], list[str], float, float]:
    """Positions, titles and rates of the IMU and EMG columns, found by their titles."""
    titles, rates = header[TITLE_LINE], header[RATE_LINE]
    upper = [t.upper() for t in titles]
    imu_pos, missing = [], []
    for axis in IMU_AXES:
        pos = next((i for i, t in enumerate(upper) if t.startswith(axis)), None)
        if pos is None:
            missing.append(axis)
        else:
            imu_pos.append(pos)
    if missing:
        raise EmgaugError(f"{path}: no IMU column {', '.join(missing)} in the titles line ({', '.join(titles)[:160]}); "
                          "a set needs the wrist sensor's ACC X/Y/Z and GYRO X/Y/Z, re-export it with the IMU channels")
    emg_pos = [i for i, t in enumerate(upper) if t.startswith(EMG_PREFIX)]
    if not emg_pos:
        raise EmgaugError(f"{path}: no EMG column in the titles line ({', '.join(titles)[:160]}); "
                          "re-export the set with the EMG channel")

    def rate(positions: list[int], what: str) -> float:
        vals = set()
        for p in positions:
            cell = rates[p] if p < len(rates) else ""
            m = re.fullmatch(r"([0-9]*\.?[0-9]+)\s*Hz", cell, flags=re.IGNORECASE)
            if m is None or not float(m.group(1)) > 0:
                raise EmgaugError(f"{path}: the rate of column '{titles[p]}' is {cell!r}, not '<number> Hz' "
                                  f"(header line {RATE_LINE + 1}); re-export the set")
            vals.add(float(m.group(1)))
        if len(vals) != 1:
            raise EmgaugError(f"{path}: the {what} columns state different rates ({sorted(vals)} Hz); re-export the set")
        return vals.pop()

    return (imu_pos, emg_pos, [titles[p] for p in imu_pos], [titles[p] for p in emg_pos],
            rate(imu_pos, "IMU"), rate(emg_pos, "EMG"))


def _stream_rows(path: str, present: np.ndarray, what: str, first_line: int) -> int:
    """Rows of a stream whose cells (n, k) are `present`: must be one block from row 0 with no partly blank row."""
    all_, any_ = present.all(axis=1), present.any(axis=1)
    partial = np.flatnonzero(any_ & ~all_)
    if len(partial):
        i = int(partial[0])
        raise EmgaugError(f"{path}: line {first_line + i} has {int(present[i].sum())} of {present.shape[1]} {what} values "
                          "(a truncated or damaged row); re-export the set")
    n = int(np.argmin(all_)) if not all_.all() else len(all_)
    again = np.flatnonzero(all_[n:])
    if len(again):
        raise EmgaugError(f"{path}: the {what} stream stops at line {first_line + n} and starts again at line "
                          f"{first_line + n + int(again[0])}; a stream must be one block from t = 0, re-export the set")
    return n


def parse_set_file(path: str) -> tuple[np.ndarray, np.ndarray, SetFile]:
    """Parse one Trigno export: (emg (n, C) float32, imu (n, 6) float32 on the EMG clock, facts). One-line errors for
    empty, truncated, non-numeric and misaligned files and for files without IMU or EMG columns."""
    header = _header(path)
    imu_pos, emg_pos, imu_names, emg_names, f_imu, f_emg = _columns(path, header)
    first_line = HEADER_LINES + 1
    try:
        df = pd.read_csv(path, skiprows=HEADER_LINES, header=None, skipinitialspace=True, encoding="utf-8-sig")
    except pd.errors.EmptyDataError as e:
        raise EmgaugError(f"{path}: the header has no data rows after it (the file is truncated); re-export the set") from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise EmgaugError(f"{path}: malformed data rows ({msg}); re-export the set") from e
    except OSError as e:
        raise EmgaugError(f"{path}: cannot read ({e.strerror or e}); restore the file") from e
    width = len(header[TITLE_LINE])
    if df.shape[1] != width:
        raise EmgaugError(f"{path}: data rows have {df.shape[1]} fields but the titles line {width}; "
                          "the file mixes layouts, re-export the set")
    imu = numeric_columns(path, df, imu_pos, imu_names, first_line)
    emg = numeric_columns(path, df, emg_pos, emg_names, first_line)
    n_imu = _stream_rows(path, ~np.isnan(imu), "IMU", first_line)
    n_emg = _stream_rows(path, ~np.isnan(emg), "EMG", first_line)
    if n_imu == 0:
        raise EmgaugError(f"{path}: the IMU columns are blank (no wrist-sensor samples); leave this set out")
    if n_emg == 0:
        raise EmgaugError(f"{path}: the EMG column is blank (no EMG samples); leave this set out")
    imu, emg = imu[:n_imu], emg[:n_emg]
    for name, block in (("IMU", imu), ("EMG", emg)):
        if not np.all(np.isfinite(block)):
            i = int(np.flatnonzero(~np.isfinite(block).all(axis=1))[0])
            raise EmgaugError(f"{path}: line {first_line + i} holds an infinite {name} value; re-export the set")
    d_imu, d_emg = n_imu / f_imu, n_emg / f_emg
    if abs(d_imu - d_emg) > STREAM_TOLERANCE_S:
        raise EmgaugError(f"{path}: the IMU stream covers {d_imu:.2f} s but the EMG stream {d_emg:.2f} s (they should end "
                          "together); the export is truncated or a sensor dropped out, re-export the set or leave it out")
    length = _header_value(header, "Collection Length")
    try:
        length_s = float(length) if length is not None else None
    except ValueError:
        length_s = None
    if length_s is not None and max(d_imu, d_emg) < length_s - STREAM_TOLERANCE_S:
        raise EmgaugError(f"{path}: the data covers {max(d_imu, d_emg):.2f} s of the {length_s:.2f} s collection length "
                          "its header states (the file is truncated); re-export or re-copy the set")
    t_imu = np.arange(n_imu) / f_imu
    n = min(n_emg, int(np.floor(t_imu[-1] * f_emg + 1e-6)) + 1)  # EMG rows at or before the last IMU sample
    t_emg = np.arange(n) / f_emg
    imu_e = np.stack([np.interp(t_emg, t_imu, imu[:, k]) for k in range(imu.shape[1])], axis=1)
    info = SetFile(num_rows=n, imu_rows=n_imu, emg_rows=n_emg, imu_rate=f_imu, emg_rate=f_emg,
                   channel_names=tuple(emg_names), imu_names=tuple(imu_names),
                   recorded_at=_header_value(header, "Date/Time") or "")
    return emg[:n].astype(np.float32), imu_e.astype(np.float32), info


def _parse(path: str, key: tuple[str, int, int]) -> SetFile:
    emg, imu, info = parse_set_file(path)
    _cache.set_fact(key, info)
    _cache.put(key, (emg, imu))
    return info


def set_info(path: str) -> SetFile:
    """Facts of one set's file, parsed once per process (again if the file changes)."""
    key = stat_key(path)
    info = _cache.fact(key)
    return info if info is not None else _parse(path, key)


def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    key = stat_key(path)
    hit = _cache.get(key)
    if hit is None:
        _parse(path, key)
        hit = _cache.get(key)
    return hit


class IMUBicepsReader:
    """Aligned rows of one set: (emg (n, C), imu (n, 6)) on the EMG clock; parsed on first read in each process."""

    def __init__(self, path: str):
        self.path = str(path)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        emg, imu = _load(self.path)
        if not 0 <= start <= stop <= len(emg):
            raise EmgaugError(f"{self.path}: rows {start}:{stop} lie outside the set's {len(emg)} aligned rows; "
                              "the file changed since the split was made, re-run `emgaug split`")
        return emg[start:stop].copy(), imu[start:stop].copy()

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]


def _ints(text: str) -> list[int] | None:
    try:
        return [int(c) for c in (c.strip() for c in text.split(",")) if c]
    except ValueError:
        return None


# The two index files describe more sets than `raw/` holds (and a few of those extra entries disagree with
# themselves), so each entry is checked only when its set is used: a bad entry maps to its problem (a string).
def read_rep_indexes(path: Path) -> dict[str, tuple[list[int], list[int]] | str]:
    """Set id -> (repetition start indexes incl. the final end, mid/peak indexes) in IMU samples, or a problem."""
    if not path.is_file():
        raise EmgaugError(f"{path}: repetition index file not found; put {REP_FILE} beside {RAW_DIR}/")
    out: dict[str, tuple[list[int], list[int]] | str] = {}
    for no, line in enumerate(path.read_text(errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        m = REP_LINE.match(line)
        if m is None:
            raise EmgaugError(f"{path}: line {no} is not '<set id>, [starts], [peaks], <n>, <n>'; fix the line")
        sid, starts, mids = m.group(1), _ints(m.group(2)), _ints(m.group(3))
        where = f"line {no} ({sid})"
        if sid in out:
            out[sid] = f"{where}: the set is listed twice; keep one line per set"
        elif starts is None or mids is None:
            out[sid] = f"{where}: the indexes must be whole numbers"
        elif m.group(4) != m.group(5) or len(starts) != int(m.group(4)) + 1 or len(mids) != len(starts) - 1:
            out[sid] = (f"{where}: {len(starts)} starts, {len(mids)} peaks and counts {m.group(4)}, {m.group(5)} "
                        "disagree (n repetitions need n + 1 starts and n peaks)")
        elif starts[0] < 0 or any(b <= a for a, b in zip(starts, starts[1:])):
            out[sid] = f"{where}: the start indexes must increase from >= 0"
        else:
            out[sid] = (starts, mids)
    return out


def read_rpes(path: Path) -> dict[str, list[int] | str]:
    """Set id -> RPE (1-10) after each repetition, from the column-per-set `rpes.csv`, or a problem."""
    if not path.is_file():
        raise EmgaugError(f"{path}: RPE file not found; put {RPE_FILE} beside {RAW_DIR}/")
    try:
        df = pd.read_csv(path, header=None, dtype=str, skipinitialspace=True)
    except pd.errors.EmptyDataError as e:
        raise EmgaugError(f"{path}: the file is empty; restore {RPE_FILE}") from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        raise EmgaugError(f"{path}: not a comma-separated table ({str(e).strip().splitlines()[-1]}); restore {RPE_FILE}") from e
    out: dict[str, list[int] | str] = {}
    for j in range(df.shape[1]):
        col = [("" if pd.isna(v) else str(v).strip()) for v in df.iloc[:, j]]
        if not any(col) or not col[0]:
            continue  # a trailing comma makes an empty column
        sid, where = col[0], f"column {j + 1} ({col[0]})"
        try:
            n = int(col[1]) if len(col) > 1 else -1
            vals = [int(float(v)) for v in col[2:] if v]
        except ValueError:
            out[sid] = f"{where}: the count and the RPEs must be numbers"
            continue
        if sid in out:
            out[sid] = f"{where}: the set has two columns; keep one"
        elif n != len(vals) or any(not 1 <= v <= 10 for v in vals) or "" in col[2:2 + n]:
            out[sid] = f"{where}: row 2 says {n} repetitions but {len(vals)} RPEs follow (each 1-10, no gaps)"
        else:
            out[sid] = vals
    return out


class IMUBicepsSource(DatasetSource):
    """Folder with `raw/<subject>_<load>_<set>.csv`, `rep_indexes_corrected.txt` and `rpes.csv`."""

    kind = "imu_biceps"
    has_angles = True  # the conditioning signal is the IMU
    kinematics_kind = "imu"
    zero_rows_are_failures = False  # an IMU reading of 0 is a real value
    kinematics_label = "IMU"

    def __init__(self, root: str | Path, label: str = "load", segment: str = "repetition"):
        super().__init__(root)
        if label not in LABELS:
            raise EmgaugError(f"unknown label '{label}' for imu_biceps; choose one of {', '.join(LABELS)}")
        if segment not in SEGMENTS:
            raise EmgaugError(f"unknown segment '{segment}' for imu_biceps; choose one of {', '.join(SEGMENTS)}")
        if segment == "set" and label != "load":
            raise EmgaugError(f"label={label} labels repetitions; use segment=repetition with it (a set has many RPEs)")
        self.label = label
        self.segment = segment

    def files(self) -> list[tuple[str, int, int, Path]]:
        """(subject, load kg, set, path) of every set file, sorted."""
        d = self.root / RAW_DIR
        out = []
        if d.is_dir():
            for f in d.iterdir():
                m = FILE_PATTERN.match(f.name)
                if m is not None and f.is_file():
                    out.append((m.group(1), int(m.group(2)), int(m.group(3)), f))
        return sorted(out)

    @cached_property
    def _rep_table(self) -> dict[str, tuple[list[int], list[int]] | str]:
        return read_rep_indexes(self.root / REP_FILE)

    @cached_property
    def _rpe_table(self) -> dict[str, list[int] | str]:
        return read_rpes(self.root / RPE_FILE)

    def set_rpes(self, sid: str) -> list[int]:
        """The RPE after each repetition of set `sid`, or a one-line error naming the RPE file and the fix."""
        where = self.root / RPE_FILE
        rpes = self._rpe_table.get(sid)
        if rpes is None:
            raise EmgaugError(f"{where}: no column for set {sid}; add its RPEs or remove {RAW_DIR}/{sid}.csv")
        if isinstance(rpes, str):
            raise EmgaugError(f"{where}: {rpes}; fix the column")
        return rpes

    def _stage(self, load: int, rpe: int | None) -> str:
        if self.label == "load":
            return f"{load:02d}kg"
        return rpe_class(rpe) if self.label == "rpe_class" else f"rpe{rpe:02d}"

    def _list_recordings(self) -> list[Recording]:
        recs: list[Recording] = []
        names: tuple[tuple[str, ...], tuple[str, ...]] | None = None
        first = ""
        for subject, load, set_no, f in self.files():
            sid = f.stem
            info = set_info(str(f))
            if names is None:
                names, first = (info.channel_names, info.imu_names), f.name
            elif (info.channel_names, info.imu_names) != names:
                raise EmgaugError(f"{f}: columns ({', '.join(info.imu_names + info.channel_names)}) differ from {first}'s; "
                                  "use sets exported with one channel layout")
            rows = self._repetition_rows(sid, info)
            rpes = self.set_rpes(sid)
            if len(rpes) != len(rows):
                raise EmgaugError(f"{self.root / RPE_FILE}: set {sid} has {len(rpes)} RPEs but {REP_FILE} {len(rows)} "
                                  "repetitions; make them agree")
            common = dict(kind=self.kind, path=str(f), filename=f.relative_to(self.root).as_posix(), user=subject,
                          session=f"{load:02d}kg_set{set_no:02d}", side=SIDE, sample_rate=info.emg_rate)
            extra: dict[str, Any] = {"set_id": sid, "load_kg": load, "set": set_no, "repetitions": len(rows),
                                     "imu_rate_hz": info.imu_rate, "recorded_at": info.recorded_at,
                                     "num_channels": len(info.channel_names), "num_joints": len(info.imu_names)}
            if self.segment == "set":
                recs.append(Recording(**common, stage=self._stage(load, None), start=0, stop=info.num_rows,
                                      extra={**extra, "repetition_rows": [[a, b] for a, b, _ in rows], "rpes": list(rpes)}))
                continue
            for k, ((a, b, peak), rpe) in enumerate(zip(rows, rpes)):
                recs.append(Recording(**common, stage=self._stage(load, rpe), start=a, stop=b,
                                      extra={**extra, "repetition": k + 1, "rpe": rpe, "rpe_class": rpe_class(rpe),
                                             "peak_row": peak}))
        return recs

    def _repetition_rows(self, sid: str, info: SetFile) -> list[tuple[int, int, int]]:
        """(start, stop, peak) EMG rows of each repetition of set `sid`."""
        reps = self._rep_table.get(sid)
        if reps is None:
            raise EmgaugError(f"{self.root / REP_FILE}: no line for set {sid}; add its repetition indexes or remove "
                              f"{RAW_DIR}/{sid}.csv")
        if isinstance(reps, str):
            raise EmgaugError(f"{self.root / REP_FILE}: {reps}; fix the line")
        starts, mids = reps
        if starts[-1] > info.imu_rows:
            raise EmgaugError(f"{self.root / REP_FILE}: set {sid} ends its last repetition at IMU sample {starts[-1]}, "
                              f"beyond the {info.imu_rows} samples of its IMU stream; fix the line or the file")
        scale = info.emg_rate / info.imu_rate
        row = [min(info.num_rows, int(round(i * scale))) for i in starts]
        empty = [k for k in range(len(mids)) if row[k + 1] <= row[k]]
        if empty:
            raise EmgaugError(f"{self.root / REP_FILE}: repetition {empty[0] + 1} of set {sid} starts after the set's "
                              f"{info.num_rows} aligned rows end; fix the line or the file")
        return [(row[k], row[k + 1], min(info.num_rows - 1, int(round(mids[k] * scale)))) for k in range(len(mids))]

    @property
    def channel_names(self) -> list[str]:
        return list(set_info(self.recordings[0].path).channel_names)

    @property
    def kinematics_names(self) -> list[str]:
        return list(set_info(self.recordings[0].path).imu_names)

    def reader(self, rec: Recording) -> RecordingReader:
        return IMUBicepsReader(rec.path)

    def describe(self) -> dict:
        imu_rates = sorted({float(r.extra["imu_rate_hz"]) for r in self.recordings})
        return {**super().describe(), "label": self.label, "segment": self.segment, "sample_rate": self.sample_rate,
                "sample_rate_source": "file", "imu_rate_hz": imu_rates[0] if len(imu_rates) == 1 else imu_rates,
                "channel_names": self.channel_names, "kinematics_names": self.kinematics_names,
                "rpe_classes": {name: [lo, hi] for name, lo, hi in RPE_CLASSES}}
