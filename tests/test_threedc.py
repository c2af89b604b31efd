"""3DC source: layout mapping, reader, zero-joint windows and errors, on synthetic text files and (when present) real data."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from emgaug.data.source import open_source
from emgaug.data.threedc import THREEDC_SAMPLE_RATE_HZ, ThreeDCReader, ThreeDCSource
from emgaug.data.windows import WindowConfig, WindowDataset, compute_norm_stats, stack_windows
from emgaug.errors import EmgaugError

THREEDC = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "3dc"


def emg_file(root: Path, participant: int, session: str, cycle: int, gesture: int, rows: int, channels: int = 3) -> Path:
    """Write one gesture file whose values encode (row, channel, gesture) so reads can be checked exactly."""
    folder = root / f"Participant{participant}" / session / "EMG"
    folder.mkdir(parents=True, exist_ok=True)
    data = np.arange(rows)[:, None] * 10 + np.arange(channels) + 1000 * gesture
    path = folder / f"3dc_EMG_gesture_{cycle}_{gesture}.txt"
    np.savetxt(path, data, fmt="%d", delimiter=",")
    return path


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    root = tmp_path / "3dc"
    for p in (1, 2):
        for session in ("train", "test"):
            for cycle in (0, 1):
                for g in (0, 1, 10):
                    emg_file(root, p, session, cycle, g, rows=300 + 10 * g + cycle)
    (root / "Participant1" / "train" / "EMG" / "notes.txt").write_text("not a gesture file\n")
    return root


def test_layout_maps_to_recordings(synth):
    src = open_source(synth)
    assert isinstance(src, ThreeDCSource) and not src.has_angles
    recs = src.recordings
    assert len(recs) == 2 * 2 * 2 * 3
    assert {r.user for r in recs} == {"P1", "P2"} and {r.session for r in recs} == {"train", "test"}
    assert sorted({r.stage for r in recs}) == ["g00", "g01", "g10"]
    assert len({r.key for r in recs}) == len(recs)
    r = next(r for r in recs if r.user == "P2" and r.session == "test" and r.stage == "g10" and r.extra["cycle"] == 1)
    assert r.filename == "Participant2/test/EMG/3dc_EMG_gesture_1_10.txt"
    assert (r.start, r.stop, r.side) == (0, 401, "right")
    assert (src.num_channels, src.num_joints, src.sample_rate) == (3, 0, THREEDC_SAMPLE_RATE_HZ)


def test_reader_returns_exact_rows_and_no_angles(synth):
    src = open_source(synth)
    rec = next(r for r in src.recordings if r.stage == "g01")
    emg, ang = src.reader(rec).read(5, 9)
    assert emg.dtype == np.float32 and ang.dtype == np.float32 and ang.shape == (4, 0)
    np.testing.assert_array_equal(emg, np.arange(5, 9)[:, None] * 10 + np.arange(3) + 1000)
    emg[:] = -1  # the per-process cache must not be touched by callers
    assert src.reader(rec).read(5, 6)[0][0, 0] == 1050
    clone = pickle.loads(pickle.dumps(src.reader(rec)))
    assert vars(clone) == {"path": rec.path}


def test_zero_joint_windows(synth):
    src = open_source(synth)
    recs = [r for r in src.recordings if r.user == "P1"]
    win = WindowConfig(window_s=0.1, stride_s=0.05, angle_rate_hz=50.0).resolve(src.sample_rate)
    norm = compute_norm_stats(src, recs)
    assert norm.angle_mean.shape == (0,)
    ds = WindowDataset(src, recs, win, norm=norm, train=True)
    item = ds[3]
    assert item["emg"].shape == (3, 100) and item["angles"].shape == (0, 5)
    emg, ang = stack_windows(ds, [0, 1])
    assert emg.shape == (2, 3, 100) and ang.shape == (2, 0, 5)
    assert sorted(ds.label_map) == ["g00", "g01", "g10"]


def test_listed_rows_match_parsed_rows_with_blank_lines_and_crlf(tmp_path):
    path = emg_file(tmp_path, 1, "train", 0, 0, rows=50)
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n") + b"\r\n\r\n")
    rec = ThreeDCSource(tmp_path).recordings[0]
    emg, _ = ThreeDCReader(rec.path).read(rec.start, rec.stop)
    assert rec.num_rows == len(emg) == 50 and emg[-1, 0] == 490


def test_sample_rate_argument(synth):
    src = ThreeDCSource(synth, sample_rate=2000.0)
    assert src.sample_rate == 2000.0 and src.describe()["sample_rate_source"] == "argument"
    with pytest.raises(EmgaugError, match="sample_rate"):
        ThreeDCSource(synth, sample_rate=0)


def test_ragged_row_is_an_error(tmp_path):
    path = emg_file(tmp_path, 1, "train", 0, 0, rows=20)
    lines = path.read_text().splitlines()
    lines[7] = lines[7].rsplit(",", 1)[0]  # a row with one value missing
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EmgaugError, match=f"{path.name}.*line 8") as err:
        ThreeDCReader(str(path)).read(0, 1)
    assert "\n" not in str(err.value)


def test_extra_column_and_text_are_errors(tmp_path):
    path = emg_file(tmp_path, 1, "train", 0, 0, rows=20)
    lines = path.read_text().splitlines()
    lines[3] += ",5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(EmgaugError, match=path.name):
        ThreeDCReader(str(path)).read(0, 1)
    path.write_text("1,2,3\n4,x,6\n")
    with pytest.raises(EmgaugError, match=f"{path.name}.*not comma-separated numbers"):
        ThreeDCReader(str(path)).read(0, 1)


def test_empty_file_is_an_error_when_listing(tmp_path):
    emg_file(tmp_path, 1, "train", 0, 0, rows=20)
    empty = tmp_path / "Participant1" / "train" / "EMG" / "3dc_EMG_gesture_0_1.txt"
    empty.write_text("")
    with pytest.raises(EmgaugError, match=f"{empty.name}.*empty"):
        _ = ThreeDCSource(tmp_path).recordings


def test_read_outside_file_is_an_error(tmp_path):
    path = emg_file(tmp_path, 1, "train", 0, 0, rows=20)
    with pytest.raises(EmgaugError, match="outside the file"):
        ThreeDCReader(str(path)).read(10, 30)


# ---------------------------------------------------------------- real 3DC files (skipped when absent)

@pytest.fixture(scope="module")
def real() -> ThreeDCSource:
    if not any(THREEDC.glob("Participant*/train/EMG")):
        pytest.skip(f"real 3DC files not found at {THREEDC}")
    return open_source(THREEDC)  # type: ignore[return-value]


def test_real_layout(real):
    df = real.metadata_frame()
    participants = len(list(THREEDC.glob("Participant*")))
    assert len(df) == participants * 2 * 4 * 11  # 2 blocks x 4 cycles x 11 gestures
    assert (df.groupby(["user", "session", "stage"]).size() == 4).all()
    assert sorted(df["stage"].unique()) == [f"g{g:02d}" for g in range(11)]
    assert df["key"].is_unique
    assert (real.num_channels, real.num_joints) == (10, 0)
    # no time column in the files; the documented 1 kHz must fit the ~5 s gestures
    assert 4.0 < df["stop"].median() / real.sample_rate < 6.0


def test_real_reader_matches_an_independent_parse(real):
    for rec in real.recordings[::100]:
        expected = np.loadtxt(rec.path, delimiter=",", dtype=np.float32)
        emg, ang = real.reader(rec).read(rec.start, rec.stop)
        assert emg.shape == expected.shape == (rec.num_rows, 10) and ang.shape == (rec.num_rows, 0)
        np.testing.assert_array_equal(emg, expected)


def test_real_window_dataset_shapes(real):
    recs = [r for r in real.recordings if r.user == "P1" and r.extra["cycle"] == 0][:5]
    win = WindowConfig(window_s=0.2, stride_s=0.1, angle_rate_hz=50.0).resolve(real.sample_rate)
    ds = WindowDataset(real, recs, win, norm=compute_norm_stats(real, recs))
    item = ds[len(ds) // 2]
    assert item["emg"].shape == (10, 200) and item["angles"].shape == (0, 10)
    assert abs(float(ds[0]["emg"].mean())) < 5
