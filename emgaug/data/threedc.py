"""3DC raw sEMG (Cote-Allard et al., 2019) as a dataset source; EMG only, no joint angles.

Layout: `Participant{p}/{train,test}/EMG/3dc_EMG_gesture_{cycle}_{class}.txt`, comma-separated integer
rows (T, C). Mapping onto `Recording` (one Recording = one whole file):
- user: "P{p}"; session: the recording block, "train" or "test"; stage: "g00".."g10" from the class;
- side: "right" (3DC records the right forearm); filename: the path relative to the root (unique);
- extra: cycle, gesture, num_channels (from the file), num_joints = 0.
The text files hold no timestamps, so the rate is `THREEDC_SAMPLE_RATE_HZ` unless `sample_rate=` is given.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from emgaug.data.recording import Recording, RecordingReader
from emgaug.data.source import DatasetSource
from emgaug.data.filecache import ParsedFileCache, stat_key
from emgaug.errors import EmgaugError

# The files carry no time column; the 3DC paper and its README state that the EMG is sampled at 1 kHz,
# and each gesture was held for ~5 s, which matches the ~5,000 rows per file (tests check that).
THREEDC_SAMPLE_RATE_HZ = 1000.0
SESSIONS = ("train", "test")
FILE_PATTERN = re.compile(r"^3dc_EMG_gesture_(\d+)_(\d+)\.txt$")
PARTICIPANT_PATTERN = re.compile(r"^Participant(\d+)$")
SIDE = "right"
_CACHE_BYTES = 256 * 2**20  # parsed float32 arrays kept per process

_cache = ParsedFileCache(_CACHE_BYTES)


def clear_cache() -> None:
    """Forget every parsed file and shape in this process."""
    _cache.clear()


def parse_emg_file(path: str) -> np.ndarray:
    """Parse one comma-separated EMG text file into float32 (T, C); reject ragged or non-numeric rows."""
    try:
        df = pd.read_csv(path, header=None, dtype=np.float64, skip_blank_lines=True)
    except pd.errors.EmptyDataError as e:
        raise EmgaugError(f"{path}: the file is empty; re-download it or remove it") from e
    except (pd.errors.ParserError, ValueError, UnicodeDecodeError) as e:
        msg = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
        raise EmgaugError(f"{path}: not comma-separated numbers ({msg}); re-download the file") from e
    except OSError as e:
        raise EmgaugError(f"{path}: cannot read ({e}); restore the file") from e
    emg = df.to_numpy(dtype=np.float32)
    if emg.ndim != 2 or emg.shape[0] == 0 or emg.shape[1] == 0:
        raise EmgaugError(f"{path}: no EMG rows; re-download the file or remove it")
    if not np.all(np.isfinite(emg)):
        bad = int(np.flatnonzero(~np.isfinite(emg).all(axis=1))[0]) + 1
        raise EmgaugError(f"{path}: line {bad} has a missing or non-finite value (ragged row?); re-download the file")
    return emg


def _load(path: str) -> np.ndarray:
    """Parsed EMG of `path`, once per process, in an LRU cache bounded by bytes."""
    key = stat_key(path)
    hit = _cache.get(key)
    if hit is not None:
        return hit
    emg = _cache.put(key, parse_emg_file(path))
    _cache.set_fact(key, emg.shape)
    return emg


def file_shape(path: str) -> tuple[int, int]:
    """(rows, channels) of a file: counted from its text without parsing numbers, cached per process."""
    key = stat_key(path)
    shape = _cache.fact(key)
    if shape is None:
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            raise EmgaugError(f"{path}: cannot read ({e.strerror}); restore the file") from e
        lines = [ln for ln in raw.splitlines() if ln.strip()]
        if not lines:
            raise EmgaugError(f"{path}: the file is empty; re-download it or remove it")
        shape = _cache.set_fact(key, (len(lines), lines[0].count(b",") + 1))
    return shape


class ThreeDCReader:
    """Rows of one 3DC text file; parsed on first read in each process. Angles are (n, 0): 3DC has none."""

    def __init__(self, path: str):
        self.path = str(path)

    def read(self, start: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
        emg = _load(self.path)
        if not 0 <= start <= stop <= len(emg):
            raise EmgaugError(f"{self.path}: rows {start}:{stop} lie outside the file's {len(emg)} rows; "
                              "the file changed since the split was made, re-run `emgaug split`")
        out = emg[start:stop].copy()
        return out, np.zeros((len(out), 0), dtype=np.float32)

    def __getstate__(self):
        return {"path": self.path}

    def __setstate__(self, state):
        self.path = state["path"]


class ThreeDCSource(DatasetSource):
    """Folder of 3DC participants; each gesture file is one recording, labelled by class and block."""

    kind = "3dc"
    has_angles = False

    def __init__(self, root: str | Path, sample_rate: float | None = None):
        super().__init__(root)
        if sample_rate is not None and not sample_rate > 0:
            raise EmgaugError(f"sample_rate must be positive, got {sample_rate}")
        self.rate_from_argument = sample_rate is not None
        self.rate = float(sample_rate) if sample_rate is not None else THREEDC_SAMPLE_RATE_HZ

    def _list_recordings(self) -> list[Recording]:
        recs = []
        participants = [(int(m.group(1)), d) for d in self.root.iterdir()
                        if d.is_dir() and (m := PARTICIPANT_PATTERN.match(d.name))]
        for p, pdir in sorted(participants):
            for session in SESSIONS:
                emg_dir = pdir / session / "EMG"
                if not emg_dir.is_dir():
                    continue
                files = [(int(m.group(1)), int(m.group(2)), f) for f in emg_dir.iterdir()
                         if (m := FILE_PATTERN.match(f.name))]
                for cycle, gesture, f in sorted(files):
                    rows, channels = file_shape(str(f))
                    recs.append(Recording(
                        kind=self.kind, path=str(f), filename=f.relative_to(self.root).as_posix(), user=f"P{p}",
                        session=session, stage=f"g{gesture:02d}", side=SIDE, start=0, stop=rows, sample_rate=self.rate,
                        extra={"cycle": cycle, "gesture": gesture, "num_channels": channels, "num_joints": 0},
                    ))
        return recs

    def reader(self, rec: Recording) -> RecordingReader:
        return ThreeDCReader(rec.path)

    def describe(self) -> dict:
        return {**super().describe(), "sample_rate": self.rate,
                "sample_rate_source": "argument" if self.rate_from_argument else "3DC documentation (files carry no rate)"}
