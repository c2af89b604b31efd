"""UCI "EMG dataset in Lower Limb" as a dataset source: raw leg EMG paired with a knee goniometer angle.

Layout: `normal/<k>N<task>.csv` (healthy subjects) and `abnormal/<k>A<task>.csv` (subjects with a knee
pathology), one file per (subject, task), tasks `gait`, `sitting` (knee extension while seated) and `standing`
(knee flexion while standing). Each CSV has one header row naming its columns (4 raw EMG channels in mV:
"Recto Femoral", "Biceps Femoral", "Vasto Medial", "EMG Semitendinoso"; and "Flexo-Extension", the knee angle
in degrees) and then one row per sample; there is no time column.

Mapping onto `Recording` (one Recording = one whole file):
- user: "N01", "A03", ...: the group letter and the subject number, so ids are unique across the two groups
  (subject 1 of the healthy group and subject 1 of the pathology group are different people);
  extra["group"] = "healthy" or "pathology";
- stage: the task from the file name; session: "s1" for every file (each person has one file per task, so the
  data has no session structure: split it cross-subject or sample-wise);
- side: "unknown" (the files do not say which leg was recorded); filename: the path relative to the root;
- EMG: every column other than the angle, in file order; their names are kept (`source.channel_names`);
- kinematics: the knee angle as the single joint (`kinematics_kind` "joint_angles", name "Flexo-Extension").
  The goniometer's sign differs between files (about a third run negative), so each file's angle is multiplied
  by +1 or -1 to make FLEXION POSITIVE: the knee's large excursion in all three tasks is flexion (to ~60 degrees
  in gait, ~90-120 when seated or standing), so the sign is flipped when the file's 5th percentile lies further
  from 0 than its 95th (|p5| > |p95|), and kept otherwise (ties included). Offsets are not removed: an extended
  knee may read a few degrees either side of 0. `flexion_positive=False` keeps the raw sign. A knee angle of
  exactly 0 is a real value, so all-zero rows are not treated as inverse-kinematics failures.
- duplicates: the source ships some recordings twice (`normal/2Nsitting.csv` holds the same samples as
  `normal/1Nsitting.csv`, and `2Nstanding` as `1Nstanding`). Files are visited in order (healthy before
  pathology, then subject number, then task); a file whose parsed samples hash (SHA-256) to those of an earlier
  file is excluded, the earlier one kept, and the reason logged and listed in `source.excluded` and `describe()`.
The files carry no rate, so the rate is `UCI_SAMPLE_RATE_HZ` unless `sample_rate=` is given.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emgaug.data.filecache import ParsedFileCache, stat_key
from emgaug.data.recording import Recording, RecordingReader
from emgaug.data.source import DatasetSource
from emgaug.errors import EmgaugError

logger = logging.getLogger(__name__)

# The CSV files have no time column. The dataset's description (../shared/data/README.md, after the UCI page) gives
# 1000 Hz; the walking files' stride periods, 1.1-1.9 s at that rate, agree (tests/test_uci_lower_limb.py checks it).
UCI_SAMPLE_RATE_HZ = 1000.0
ANGLE_COLUMN = "Flexo-Extension"
SESSION = "s1"
SIDE = "unknown"
# (folder, group letter in the file name, group label), in the order duplicates are resolved (first one kept)
GROUPS = (("normal", "N", "healthy"), ("abnormal", "A", "pathology"))
FILE_PATTERN = re.compile(r"^(\d+)([A-Za-z])([A-Za-z]+)\.csv$")
_CACHE_BYTES = 256 * 2**20  # parsed float32 arrays kept per process (the 48 files take ~11 MB)

_cache = ParsedFileCache(_CACHE_BYTES)


@dataclass(frozen=True)
class UCIFile:
    """What listing needs from one file."""

    num_rows: int
    channel_names: tuple[str, ...]
    angle_sign: int  # +1 or -1: multiplying the raw angle by it makes flexion positive
    content_sha256: str  # of the parsed samples, so copies that differ only in formatting still match


def clear_cache() -> None:
    """Forget every parsed file in this process."""
    _cache.clear()


def numeric_columns(path: str, df: pd.DataFrame, columns: list[Any], names: list[str], first_line: int) -> np.ndarray:
    """`columns` of `df` as float64 (n, k), or a one-line error naming the line and column of the first cell that is
    not a number. Blank cells become NaN (callers decide what a blank means). Data row i is line `first_line + i`."""
    out = np.empty((len(df), len(columns)), dtype=np.float64)
    for j, (col, name) in enumerate(zip(columns, names)):
        s = df[col]
        if s.dtype.kind in "fiu":
            out[:, j] = s.to_numpy(dtype=np.float64)
            continue
        vals = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
        text = s.astype(str).str.strip()
        bad = np.flatnonzero(np.isnan(vals) & s.notna().to_numpy() & (text != "").to_numpy() & (text.str.lower() != "nan").to_numpy())
        if len(bad):
            i = int(bad[0])
            raise EmgaugError(f"{path}: line {first_line + i}, column '{name}': {text.iloc[i][:30]!r} is not a number; "
                              "fix the cell or re-download the file")
        out[:, j] = vals
    return out


def parse_uci_csv(path: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...], str]:
    """Parse one file: (emg (n, C) float32, raw knee angle (n, 1) float32, EMG channel names, SHA-256 of the samples).
    Rejects empty, headerless, ragged, truncated and non-numeric files with one line naming the file and the fix."""
    try:
        df = pd.read_csv(path, skipinitialspace=True)
    except pd.errors.EmptyDataError as e:
        raise EmgaugError(f"{path}: the file is empty; re-download it or remove it") from e
    except (pd.errors.ParserError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise EmgaugError(f"{path}: not a comma-separated table ({msg}); re-download the file") from e
    except OSError as e:
        raise EmgaugError(f"{path}: cannot read ({e.strerror or e}); restore the file") from e
    if not isinstance(df.index, pd.RangeIndex):  # pandas silently turns a surplus leading field into an index
        raise EmgaugError(f"{path}: the data rows have more fields than the header row names; re-download the file")
    names = [str(c).strip().strip('"') for c in df.columns]
    if ANGLE_COLUMN not in names:
        raise EmgaugError(f"{path}: no '{ANGLE_COLUMN}' column in the header ({', '.join(names)[:120]}); a UCI lower-limb "
                          f"file has the EMG channels and '{ANGLE_COLUMN}', re-download it")
    if len(set(names)) != len(names) or any(n == "" or n.startswith("Unnamed:") for n in names):
        raise EmgaugError(f"{path}: the header row ({', '.join(names)[:120]}) has blank or repeated column names; "
                          "re-download the file")
    emg_idx = [i for i, n in enumerate(names) if n != ANGLE_COLUMN]
    if not emg_idx:
        raise EmgaugError(f"{path}: no EMG column beside '{ANGLE_COLUMN}'; re-download the file")
    if len(df) == 0:
        raise EmgaugError(f"{path}: the file has a header but no samples; re-download it or remove it")
    values = numeric_columns(path, df, list(df.columns), names, first_line=2)
    missing = np.isnan(values)
    if missing.any():
        i, j = (int(v[0]) for v in np.nonzero(missing))
        last = " (the last line: the file is truncated)" if i == len(df) - 1 else ""
        raise EmgaugError(f"{path}: line {i + 2} has no value in column '{names[j]}'{last}; re-download the file")
    if not np.all(np.isfinite(values)):
        i = int(np.flatnonzero(~np.isfinite(values).all(axis=1))[0])
        raise EmgaugError(f"{path}: line {i + 2} holds an infinite value; re-download the file")
    digest = hashlib.sha256(np.ascontiguousarray(values).tobytes() + repr(values.shape).encode()).hexdigest()
    angle_col = names.index(ANGLE_COLUMN)
    return (values[:, emg_idx].astype(np.float32), values[:, [angle_col]].astype(np.float32),
            tuple(names[i] for i in emg_idx), digest)


def flexion_sign(angle: np.ndarray) -> int:
    """+1 or -1 such that sign * angle has its large excursion positive: -1 when |5th pct| > |95th pct| of the angle."""
    p5, p95 = np.percentile(np.asarray(angle, dtype=np.float64).reshape(-1), [5.0, 95.0])
    return -1 if -p5 > p95 else 1


def _parse(path: str, key: tuple[str, int, int]) -> UCIFile:
    emg, angle, names, digest = parse_uci_csv(path)
    info = UCIFile(num_rows=len(emg), channel_names=names, angle_sign=flexion_sign(angle), content_sha256=digest)
    _cache.set_fact(key, info)
    _cache.put(key, (emg, angle))
    return info


def file_info(path: str) -> UCIFile:
    """Shape, channel names, angle sign and content hash of `path`, parsed once per process (again if it changes)."""
    key = stat_key(path)
    info = _cache.fact(key)
    return info if info is not None else _parse(path, key)


def _load(path: str) -> tuple[np.ndarray, np.ndarray, UCIFile]:
    key = stat_key(path)
    hit = _cache.get(key)
    info = _cache.fact(key)
    if hit is None or info is None:
        info = _parse(path, key)
        hit = _cache.get(key)
    return hit[0], hit[1], info


class UCIReader:
    """Rows of one UCI file: (emg (n, C), knee angle (n, 1), flexion positive unless `flexion_positive` is False).
    The CSV is parsed on first read in each process; the reader pickles as its path and option only."""

    def __init__(self, path: str, flexion_positive: bool = True):
        self.path = str(path)
        self.flexion_positive = bool(flexion_positive)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        emg, angle, info = _load(self.path)
        if not 0 <= start <= stop <= len(emg):
            raise EmgaugError(f"{self.path}: rows {start}:{stop} lie outside the file's {len(emg)} rows; "
                              "the file changed since the split was made, re-run `emgaug split`")
        sign = info.angle_sign if self.flexion_positive else 1
        return emg[start:stop].copy(), angle[start:stop] * np.float32(sign)

    def __getstate__(self):
        return {"path": self.path, "flexion_positive": self.flexion_positive}

    def __setstate__(self, state):
        self.__dict__.update(state)


class UCILowerLimbSource(DatasetSource):
    """Folder with `normal/` and `abnormal/` UCI lower-limb CSV files; each non-duplicate file is one recording."""

    kind = "uci_lower_limb"
    has_angles = True
    kinematics_kind = "joint_angles"
    zero_rows_are_failures = False  # 0 degrees is a real knee angle
    kinematics_label = "knee angle"

    def __init__(self, root: str | Path, sample_rate: float | None = None, flexion_positive: bool = True):
        super().__init__(root)
        if sample_rate is not None and not sample_rate > 0:
            raise EmgaugError(f"sample_rate must be positive, got {sample_rate}")
        self.rate_from_argument = sample_rate is not None
        self.rate = float(sample_rate) if sample_rate is not None else UCI_SAMPLE_RATE_HZ
        self.flexion_positive = bool(flexion_positive)
        self._excluded: list[dict[str, str]] = []

    def files(self) -> list[tuple[str, int, str, Path]]:
        """(group label, subject number, task, path) of every data file, in the order duplicates are resolved."""
        out = []
        for g, (folder, letter, _label) in enumerate(GROUPS):
            d = self.root / folder
            if not d.is_dir():
                continue
            for f in d.iterdir():
                m = FILE_PATTERN.match(f.name)
                if m is None or not f.is_file():
                    continue
                if m.group(2).upper() != letter:
                    raise EmgaugError(f"{f}: the group letter '{m.group(2)}' does not match the folder {folder}/ "
                                      f"(expected <k>{letter}<task>.csv); move the file to its group's folder")
                out.append((g, int(m.group(1)), m.group(3).lower(), f))
        out.sort(key=lambda t: t[:3])
        return [(GROUPS[g][2], num, task, f) for g, num, task, f in out]

    def _list_recordings(self) -> list[Recording]:
        recs: list[Recording] = []
        kept_by_hash: dict[str, str] = {}
        excluded: list[dict[str, str]] = []
        names: tuple[str, ...] | None = None
        first = ""
        for label, num, task, f in self.files():
            info = file_info(str(f))
            rel = f.relative_to(self.root).as_posix()
            if info.content_sha256 in kept_by_hash:
                kept = kept_by_hash[info.content_sha256]
                reason = f"same samples as {kept} (kept): the source dataset ships this recording twice"
                excluded.append({"file": rel, "kept": kept, "reason": reason})
                logger.warning("%s: excluded %s: %s", self.root, rel, reason)
                continue
            kept_by_hash[info.content_sha256] = rel
            if names is None:
                names, first = info.channel_names, rel
            elif info.channel_names != names:
                raise EmgaugError(f"{f}: EMG columns ({', '.join(info.channel_names)}) differ from {first} "
                                  f"({', '.join(names)}); use files with one column layout")
            group_letter = next(letter for _, letter, lab in GROUPS if lab == label)
            recs.append(Recording(
                kind=self.kind, path=str(f), filename=rel, user=f"{group_letter}{num:02d}", session=SESSION, stage=task,
                side=SIDE, start=0, stop=info.num_rows, sample_rate=self.rate,
                extra={"group": label, "subject": num, "angle_sign": info.angle_sign if self.flexion_positive else 1,
                       "num_channels": len(info.channel_names), "num_joints": 1},
            ))
        self._excluded = excluded
        return recs

    @property
    def excluded(self) -> list[dict[str, str]]:
        """Files left out of the recordings: file, the file kept instead, and the reason."""
        _ = self.recordings
        return [dict(e) for e in self._excluded]

    @property
    def channel_names(self) -> list[str]:
        return list(file_info(self.recordings[0].path).channel_names)

    @property
    def kinematics_names(self) -> list[str]:
        return [ANGLE_COLUMN]

    def reader(self, rec: Recording) -> RecordingReader:
        return UCIReader(rec.path, self.flexion_positive)

    def describe(self) -> dict:
        return {**super().describe(), "sample_rate": self.rate,
                "sample_rate_source": "argument" if self.rate_from_argument else "UCI documentation (files carry no rate)",
                "flexion_positive": self.flexion_positive, "channel_names": self.channel_names,
                "kinematics_names": self.kinematics_names, "excluded": self.excluded}
