"""Ninapro DB1 (exercise 1) as a dataset source: one MATLAB file per subject, `S{n}_A1_E1.mat`.

Mapping onto `Recording` (one Recording = one contiguous (movement, repetition) run of a file):
- user: "S{n}" from the file name; side: "right" (DB1 records the right hand only);
- stage: "m01".."m12" from `restimulus` (the relabelled movement; 0 = rest, excluded unless
  `include_rest=True`, then rest runs become stage "rest");
- session: a repetition group from `rerepetition`, `reps_per_session` repetitions each:
  "reps01-02", "reps03-04", ... (or "rep01", ... when `reps_per_session=1`); group labels are nominal,
  so every subject gets the same session names. A rest run belongs to the repetition before it
  (the leading rest of a file to the first repetition);
- emg: `emg` (T, C); joint angles: `glove` (T, J) raw CyberGlove values; C and J come from the arrays.
The files hold no timestamps or rate field, so the rate is `DB1_SAMPLE_RATE_HZ` unless the file holds one
of `RATE_KEYS` or the caller passes `sample_rate=`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emgaug.data.recording import Recording, RecordingReader
from emgaug.data.source import DatasetSource
from emgaug.data.filecache import ParsedFileCache, stat_key
from emgaug.errors import EmgaugError

# DB1's .mat files carry no sampling-rate field or timestamps; Atzori et al. (2014) document that DB1's
# Otto Bock electrodes and the glove are both delivered at 100 Hz. The prompted 5 s movements span ~500 rows,
# which agrees (tests/test_ninapro.py checks that).
DB1_SAMPLE_RATE_HZ = 100.0
RATE_KEYS = ("frequency", "fs", "sample_rate", "samplerate")  # used if a (re-exported) file states its rate
REQUIRED_KEYS = ("emg", "glove", "restimulus", "rerepetition")
FILE_GLOB = "S*_A1_E1.mat"
FILE_PATTERN = re.compile(r"^S(\d+)_A1_E1\.mat$")
REST_STAGE = "rest"
SIDE = "right"
# Loaded arrays kept per process, by bytes: ~13 MB of float32 per DB1 file, so all 27 subjects of an exercise fit.
# (A cache smaller than the number of files in a split thrashes: shuffled windows reload a .mat on nearly every read.)
_CACHE_BYTES = 512 * 2**20


@dataclass(frozen=True)
class FileTable:
    """What listing needs from one file: its shape, stated rate (if any) and its label runs."""

    num_rows: int
    num_channels: int
    num_joints: int
    file_rate: float | None
    runs: np.ndarray  # (R, 4) int64: start, stop, restimulus, rerepetition of each contiguous label run


_cache = ParsedFileCache(_CACHE_BYTES)


def clear_cache() -> None:
    """Forget every loaded file and segment table in this process."""
    _cache.clear()


def _load_mat(path: str) -> dict[str, np.ndarray]:
    import scipy.io

    try:
        mat = scipy.io.loadmat(path, variable_names=list(REQUIRED_KEYS + RATE_KEYS))
    except NotImplementedError as e:  # MATLAB v7.3 files are HDF5
        raise EmgaugError(f"{path}: MATLAB v7.3 file ({e}); re-save it in MATLAB with save(..., '-v7')") from e
    except Exception as e:  # noqa: BLE001 - any parse failure means the file is unusable
        raise EmgaugError(f"{path}: cannot read as a MATLAB file ({type(e).__name__}: {e}); the file is corrupt, re-download it") from e
    missing = [k for k in REQUIRED_KEYS if k not in mat]
    if missing:
        raise EmgaugError(f"{path}: missing variable(s) {', '.join(missing)}; a Ninapro DB1 file needs {', '.join(REQUIRED_KEYS)}")
    return mat


def _validate(path: str, mat: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float | None]:
    """Check shapes and values; return emg, glove (float32), restimulus, rerepetition (int64) and any stated rate."""
    emg, glove = np.asarray(mat["emg"]), np.asarray(mat["glove"])
    if emg.ndim != 2 or glove.ndim != 2:
        raise EmgaugError(f"{path}: 'emg' {emg.shape} and 'glove' {glove.shape} must be 2-D (rows, channels); re-export the file")
    labels = {}
    for k in ("restimulus", "rerepetition"):
        v = np.asarray(mat[k])
        if v.ndim > 2 or (v.ndim == 2 and 1 not in v.shape):
            raise EmgaugError(f"{path}: '{k}' has shape {v.shape}, expected one label per row; re-export the file")
        labels[k] = v.reshape(-1)
    n = len(emg)
    lengths = {"emg": n, "glove": len(glove), **{k: len(v) for k, v in labels.items()}}
    if len(set(lengths.values())) != 1:
        detail = ", ".join(f"{k} {v}" for k, v in lengths.items())
        raise EmgaugError(f"{path}: row counts differ ({detail}); the file is truncated or mixed up, re-download it")
    if n == 0:
        raise EmgaugError(f"{path}: the file holds no rows; remove it from the dataset folder")
    for k, v in labels.items():
        if not np.issubdtype(v.dtype, np.number) or not np.all(np.isfinite(v)) or np.any(v < 0) or np.any(v != np.round(v)):
            raise EmgaugError(f"{path}: '{k}' must hold non-negative integer labels; re-export the file")
    stim, rep = labels["restimulus"].astype(np.int64), labels["rerepetition"].astype(np.int64)
    unrepeated = np.flatnonzero((stim > 0) & (rep == 0))
    if len(unrepeated):
        raise EmgaugError(f"{path}: row {int(unrepeated[0])} has a movement (restimulus > 0) but rerepetition 0; "
                          "use the relabelled restimulus/rerepetition pair from the same release")
    emg32, glove32 = emg.astype(np.float32), glove.astype(np.float32)
    if not np.all(np.isfinite(emg32)):
        raise EmgaugError(f"{path}: 'emg' holds {int((~np.isfinite(emg32)).sum())} NaN/inf values; re-download the file")
    if np.isnan(glove32).all():
        raise EmgaugError(f"{path}: every 'glove' value is NaN, so the file has no joint angles; re-download it or leave it out")
    return emg32, glove32, stim, rep, _stated_rate(path, mat)


def _stated_rate(path: str, mat: dict[str, np.ndarray]) -> float | None:
    for k in RATE_KEYS:
        if k in mat:
            v = np.asarray(mat[k], dtype=np.float64).reshape(-1)
            if v.size != 1 or not np.isfinite(v[0]) or v[0] <= 0:
                raise EmgaugError(f"{path}: '{k}' should be one positive sampling rate in Hz, got {v.tolist()[:4]}; fix or drop it")
            return float(v[0])
    return None


def label_runs(stim: np.ndarray, rep: np.ndarray) -> np.ndarray:
    """Contiguous runs of constant (restimulus, rerepetition): (R, 4) start, stop, stimulus, repetition."""
    n = len(stim)
    change = np.flatnonzero((np.diff(stim) != 0) | (np.diff(rep) != 0)) + 1
    starts = np.r_[0, change].astype(np.int64)
    stops = np.r_[change, n].astype(np.int64)
    return np.stack([starts, stops, stim[starts], rep[starts]], axis=1)


def _load(path: str) -> tuple[np.ndarray, np.ndarray]:
    """(emg, glove) float32 of `path`, loaded once per process and kept in an LRU cache bounded by bytes."""
    key = stat_key(path)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    _parse_file(path, key)
    return _cache.get(key)


def _file_table(path: str) -> FileTable:
    """The label-run table of `path`, computed once per process (and again only if the file changes)."""
    key = stat_key(path)
    table = _cache.fact(key)
    return table if table is not None else _parse_file(path, key)


def _parse_file(path: str, key: tuple[str, int, int]) -> FileTable:
    """Load and validate `path`; cache its arrays (LRU) and its label-run table under its stat `key`."""
    emg, glove, stim, rep, rate = _validate(path, _load_mat(path))
    table = FileTable(num_rows=len(emg), num_channels=emg.shape[1], num_joints=glove.shape[1], file_rate=rate,
                      runs=label_runs(stim, rep))
    _cache.set_fact(key, table)
    _cache.put(key, (emg, glove))
    return table


class NinaproReader:
    """Rows of one DB1 file; the .mat is parsed on first read in each process, and never pickled."""

    def __init__(self, path: str):
        self.path = str(path)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        emg, glove = _load(self.path)
        if not 0 <= start <= stop <= len(emg):
            raise EmgaugError(f"{self.path}: rows {start}:{stop} lie outside the file's {len(emg)} rows; "
                              "the file changed since the split was made, re-run `emgaug split`")
        return emg[start:stop].copy(), glove[start:stop].copy()

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]


def session_name(repetition: int, reps_per_session: int) -> str:
    """Repetition group label: "reps01-02" for repetitions 1-2 with 2 per group, "rep03" with 1 per group."""
    if reps_per_session == 1:
        return f"rep{repetition:02d}"
    lo = (repetition - 1) // reps_per_session * reps_per_session + 1
    return f"reps{lo:02d}-{lo + reps_per_session - 1:02d}"


def stage_name(movement: int) -> str:
    return REST_STAGE if movement == 0 else f"m{movement:02d}"


def subject_number(path: Path) -> int:
    m = FILE_PATTERN.match(path.name)
    if m is None:
        raise EmgaugError(f"{path}: not a DB1 exercise-1 file name; expected S<subject>_A1_E1.mat")
    return int(m.group(1))


class NinaproDB1Source(DatasetSource):
    """Folder of Ninapro DB1 `S{n}_A1_E1.mat` files, cut into (movement, repetition) recordings."""

    kind = "ninapro_db1"
    has_angles = True

    def __init__(self, root: str | Path, include_rest: bool = False, reps_per_session: int = 2,
                 sample_rate: float | None = None):
        super().__init__(root)
        if reps_per_session < 1:
            raise EmgaugError(f"reps_per_session must be >= 1, got {reps_per_session}")
        if sample_rate is not None and not sample_rate > 0:
            raise EmgaugError(f"sample_rate must be positive, got {sample_rate}")
        self.include_rest = include_rest
        self.reps_per_session = reps_per_session
        self.rate_override = sample_rate

    def files(self) -> list[Path]:
        return sorted(self.root.glob(FILE_GLOB), key=subject_number)

    def _list_recordings(self) -> list[Recording]:
        recs: list[Recording] = []
        for path in self.files():
            recs.extend(self._file_recordings(path))
        return recs

    def _file_recordings(self, path: Path) -> list[Recording]:
        table = _file_table(str(path))
        rate = self.rate_override or table.file_rate or DB1_SAMPLE_RATE_HZ
        user = f"S{subject_number(path)}"
        extra_common = {"num_channels": table.num_channels, "num_joints": table.num_joints}
        recs = []
        last_rep = next((int(r[3]) for r in table.runs if r[2] > 0), 1)  # leading rest joins the first repetition
        for start, stop, stim, rep in table.runs.tolist():
            if stim > 0:
                last_rep = rep
            elif not self.include_rest:
                continue
            recs.append(Recording(
                kind=self.kind, path=str(path), filename=path.name, user=user,
                session=session_name(last_rep, self.reps_per_session), stage=stage_name(stim), side=SIDE,
                start=start, stop=stop, sample_rate=rate,
                extra={"movement": stim, "repetition": last_rep, **extra_common},
            ))
        return recs

    def reader(self, rec: Recording) -> RecordingReader:
        return NinaproReader(rec.path)

    def describe(self) -> dict:
        return {**super().describe(), "include_rest": self.include_rest, "reps_per_session": self.reps_per_session,
                "sample_rate": self.sample_rate, "sample_rate_source": self._rate_source()}

    def _rate_source(self) -> str:
        if self.rate_override:
            return "argument"
        if any(_file_table(str(p)).file_rate for p in self.files()):
            return "file"
        return "DB1 documentation (files carry no rate)"
