"""Ninapro DB1 source: segment table, reader and errors, on a synthetic .mat and (when present) the real files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import scipy.io

from emgaug.data import ninapro
from emgaug.data.ninapro import DB1_SAMPLE_RATE_HZ, NinaproDB1Source, NinaproReader, session_name
from emgaug.data.source import open_source
from emgaug.data.windows import WindowConfig, WindowDataset, compute_norm_stats
from emgaug.errors import EmgaugError

DB1 = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "ninapro_db1"

# synthetic protocol: (restimulus, rerepetition, rows) runs, rest between movements
RUNS = [(0, 0, 7), (1, 1, 12), (0, 0, 5), (1, 2, 10), (0, 0, 6), (2, 1, 11), (0, 0, 4), (2, 2, 13), (0, 0, 3),
        (3, 1, 9), (0, 0, 5), (3, 2, 14), (0, 0, 8)]


def synthetic_arrays(runs=RUNS, channels: int = 4, joints: int = 5) -> dict[str, np.ndarray]:
    stim = np.concatenate([np.full(n, s) for s, _, n in runs]).astype(np.uint8)[:, None]
    rep = np.concatenate([np.full(n, r) for _, r, n in runs]).astype(np.uint8)[:, None]
    t = np.arange(len(stim), dtype=np.float64)[:, None]
    return {
        "emg": t + 1000.0 * np.arange(channels),  # value encodes (row, channel): reads are checkable
        "glove": -(t + 100.0 * np.arange(joints)),
        "restimulus": stim, "rerepetition": rep,
        "stimulus": stim, "repetition": rep, "subject": np.array([[5]]), "exercise": np.array([[1]]),
    }


def write_mat(folder: Path, name: str = "S5_A1_E1.mat", **arrays) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    scipy.io.savemat(path, arrays or synthetic_arrays())
    return path


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    write_mat(tmp_path / "db1")
    return tmp_path / "db1"


def expected_movement_runs(runs=RUNS):
    out, row = [], 0
    for s, r, n in runs:
        if s:
            out.append((row, row + n, s, r))
        row += n
    return out


def test_synthetic_segments_follow_labels(synth):
    src = open_source(synth)
    assert isinstance(src, NinaproDB1Source)
    got = [(r.start, r.stop, r.extra["movement"], r.extra["repetition"]) for r in src.recordings]
    assert got == expected_movement_runs()
    assert [r.stage for r in src.recordings] == ["m01", "m01", "m02", "m02", "m03", "m03"]
    assert {r.user for r in src.recordings} == {"S5"} and {r.side for r in src.recordings} == {"right"}
    assert {r.session for r in src.recordings} == {"reps01-02"}
    assert len({r.key for r in src.recordings}) == len(src.recordings)
    assert (src.num_channels, src.num_joints, src.sample_rate) == (4, 5, DB1_SAMPLE_RATE_HZ)


def test_reader_returns_exact_rows_as_float32_copies(synth):
    src = open_source(synth)
    rec = src.recordings[2]
    emg, ang = src.reader(rec).read(rec.start, rec.stop)
    assert emg.dtype == np.float32 and ang.dtype == np.float32
    assert emg.shape == (rec.num_rows, 4) and ang.shape == (rec.num_rows, 5)
    np.testing.assert_array_equal(emg[:, 0], np.arange(rec.start, rec.stop))
    np.testing.assert_array_equal(emg[:, 3], np.arange(rec.start, rec.stop) + 3000)
    np.testing.assert_array_equal(ang[:, 1], -(np.arange(rec.start, rec.stop) + 100))
    emg[:] = 0  # callers may scribble on what they get; the cached file must not change
    again, _ = src.reader(rec).read(rec.start, rec.stop)
    assert again[0, 0] == rec.start


def test_reader_pickles_as_a_path_only(synth):
    src = open_source(synth)
    reader = src.reader(src.recordings[0])
    reader.read(0, 5)
    clone = pickle.loads(pickle.dumps(reader))
    assert vars(clone) == {"path": reader.path}
    np.testing.assert_array_equal(clone.read(3, 9)[0], reader.read(3, 9)[0])


def test_rest_and_session_options(synth):
    src = NinaproDB1Source(synth, include_rest=True, reps_per_session=1, sample_rate=50.0)
    recs = src.recordings
    assert [r.start for r in recs] == list(np.cumsum([0] + [n for *_, n in RUNS])[:-1])
    assert recs[-1].stop == sum(n for *_, n in RUNS)  # rest included: segments tile the whole file
    rest = [r for r in recs if r.stage == "rest"]
    assert len(rest) == 7
    # leading rest joins repetition 1; every other rest joins the repetition before it
    assert [r.session for r in rest] == ["rep01", "rep01", "rep02", "rep01", "rep02", "rep01", "rep02"]
    assert src.sample_rate == 50.0 and src.describe()["sample_rate_source"] == "argument"


def test_back_to_back_repetitions_and_late_start(tmp_path):
    runs = [(0, 0, 5), (1, 3, 6), (1, 4, 7), (0, 0, 4), (2, 3, 5)]  # no rest between reps 3 and 4; starts at rep 3
    write_mat(tmp_path, **synthetic_arrays(runs=runs))
    recs = NinaproDB1Source(tmp_path, include_rest=True, reps_per_session=1).recordings
    assert [(r.start, r.stop, r.stage, r.session) for r in recs] == [
        (0, 5, "rest", "rep03"), (5, 11, "m01", "rep03"), (11, 18, "m01", "rep04"), (18, 22, "rest", "rep04"),
        (22, 27, "m02", "rep03")]


def test_session_names():
    assert [session_name(r, 2) for r in (1, 2, 3, 10)] == ["reps01-02", "reps01-02", "reps03-04", "reps09-10"]
    assert [session_name(r, 3) for r in (1, 4, 7, 10)] == ["reps01-03", "reps04-06", "reps07-09", "reps10-12"]
    assert session_name(7, 1) == "rep07"


def test_rate_stated_in_file_is_used(tmp_path):
    write_mat(tmp_path, **synthetic_arrays(), frequency=np.array([[2000.0]]))
    src = NinaproDB1Source(tmp_path)
    assert src.sample_rate == 2000.0 and src.describe()["sample_rate_source"] == "file"


def test_a_few_nan_glove_rows_become_masked_frames(tmp_path):
    arrays = synthetic_arrays()
    arrays["glove"][7:9] = np.nan  # rows 7, 8: the first movement segment starts at row 7
    write_mat(tmp_path, **arrays)
    src = NinaproDB1Source(tmp_path)
    rec = src.recordings[0]
    win = WindowConfig(window_s=0.04, stride_s=0.04, angle_rate_hz=50.0).resolve(src.sample_rate)  # 4 rows, 2 frames
    ds = WindowDataset(src, [rec], win)
    item = ds[0]
    assert item["angle_mask"].tolist() == [False, True]
    assert np.isfinite(item["angles"].numpy()).all()


def test_all_nan_glove_is_an_error(tmp_path):
    arrays = synthetic_arrays()
    arrays["glove"][:] = np.nan
    path = write_mat(tmp_path, **arrays)
    with pytest.raises(EmgaugError, match=f"{path.name}.*glove.*NaN"):
        _ = NinaproDB1Source(tmp_path).recordings


def test_corrupt_file_is_an_error(tmp_path):
    path = tmp_path / "S2_A1_E1.mat"
    path.write_bytes(b"MATLAB 5.0 MAT-file" + bytes(range(256)) * 8)
    with pytest.raises(EmgaugError, match=f"{path.name}.*corrupt") as err:
        _ = NinaproDB1Source(tmp_path).recordings
    assert "\n" not in str(err.value)


def test_truncated_file_is_an_error(tmp_path):
    good = write_mat(tmp_path / "src")
    bad = tmp_path / "S6_A1_E1.mat"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(EmgaugError, match=bad.name):
        NinaproReader(str(bad)).read(0, 1)


def test_missing_key_is_an_error(tmp_path):
    arrays = synthetic_arrays()
    del arrays["rerepetition"]
    path = write_mat(tmp_path, **arrays)
    with pytest.raises(EmgaugError, match=f"{path.name}.*missing.*rerepetition"):
        _ = NinaproDB1Source(tmp_path).recordings


def test_emg_glove_length_mismatch_is_an_error(tmp_path):
    arrays = synthetic_arrays()
    arrays["glove"] = arrays["glove"][:-3]
    path = write_mat(tmp_path, **arrays)
    with pytest.raises(EmgaugError, match=f"{path.name}.*row counts differ.*glove"):
        _ = NinaproDB1Source(tmp_path).recordings


def test_movement_without_repetition_is_an_error(tmp_path):
    arrays = synthetic_arrays()
    arrays["rerepetition"][10] = 0
    write_mat(tmp_path, **arrays)
    with pytest.raises(EmgaugError, match="row 10.*rerepetition 0"):
        _ = NinaproDB1Source(tmp_path).recordings


def test_read_outside_file_is_an_error(synth):
    reader = NinaproReader(str(next(synth.glob("*.mat"))))
    with pytest.raises(EmgaugError, match="outside the file"):
        reader.read(100, 10_000)


def test_rewritten_file_is_reloaded(tmp_path):
    path = write_mat(tmp_path)
    first = NinaproReader(str(path)).read(0, 3)[0][:, 0].tolist()
    arrays = synthetic_arrays(runs=RUNS + [(4, 1, 20)])
    arrays["emg"] += 0.5
    scipy.io.savemat(path, arrays)
    assert NinaproReader(str(path)).read(0, 3)[0][:, 0].tolist() == [v + 0.5 for v in first]
    assert NinaproDB1Source(tmp_path).recordings[-1].stage == "m04"


# ---------------------------------------------------------------- real DB1 files (skipped when absent)

@pytest.fixture(scope="module")
def db1() -> NinaproDB1Source:
    if not any(DB1.glob("S*_A1_E1.mat")):
        pytest.skip(f"real Ninapro DB1 files not found at {DB1}")
    return open_source(DB1)  # type: ignore[return-value]


def test_real_segments_match_the_file_labels(db1):
    by_file: dict[str, list] = {}
    for r in db1.recordings:
        by_file.setdefault(r.path, []).append(r)
    assert len(by_file) == len(list(DB1.glob("S*_A1_E1.mat")))
    for path, recs in list(by_file.items())[:3]:  # independent check against the raw labels of three subjects
        mat = scipy.io.loadmat(path, variable_names=["restimulus", "rerepetition", "emg"])
        stim, rep = mat["restimulus"].ravel(), mat["rerepetition"].ravel()
        assert sorted((r.extra["movement"], r.extra["repetition"]) for r in recs) == [
            (m, k) for m in range(1, 13) for k in range(1, 11)]
        for r in recs:
            seg = stim[r.start:r.stop]
            assert (seg == r.extra["movement"]).all() and (seg > 0).all()
            assert (rep[r.start:r.stop] == r.extra["repetition"]).all()
            assert r.stage == f"m{r.extra['movement']:02d}"
            assert r.start == 0 or (stim[r.start - 1], rep[r.start - 1]) != (seg[0], rep[r.start])  # maximal run
            assert r.stop == len(stim) or stim[r.stop] != seg[0] or rep[r.stop] != rep[r.start]
        assert sum(r.num_rows for r in recs) == int((stim > 0).sum())  # every movement row is in a segment
        assert recs[0].extra["num_channels"] == mat["emg"].shape[1]


def test_real_sessions_rate_and_layout(db1):
    df = db1.metadata_frame()
    assert df["key"].is_unique
    assert sorted(df["session"].unique()) == ["reps01-02", "reps03-04", "reps05-06", "reps07-08", "reps09-10"]
    assert (df.groupby(["user", "session"]).size() == 24).all()
    assert (db1.num_channels, db1.num_joints) == (10, 22)
    # the files state no rate; the documented 100 Hz must agree with the prompted 5 s movements in the data
    mat = scipy.io.loadmat(db1.recordings[0].path, variable_names=["stimulus"])
    s = mat["stimulus"].ravel()
    edges = np.flatnonzero(np.diff(s)) + 1
    runs = np.diff(np.r_[0, edges, len(s)])[s[np.r_[0, edges]] > 0]
    assert abs(np.median(runs) / 5.0 - db1.sample_rate) < 0.1 * db1.sample_rate


def test_real_window_dataset_shapes(db1):
    recs = [r for r in db1.recordings if r.user == "S1"][:4]
    win = WindowConfig(window_s=0.2, stride_s=0.1, angle_rate_hz=50.0).resolve(db1.sample_rate)
    ds = WindowDataset(db1, recs, win, norm=compute_norm_stats(db1, recs))
    item = ds[len(ds) - 1]
    assert item["emg"].shape == (10, 20) and item["angles"].shape == (22, 10)
    assert item["angle_mask"].all() and item["label"].item() in ds.label_map.values()
    assert abs(float(ds[0]["emg"].mean())) < 5  # normalised


def test_listing_is_cached_in_process(db1):
    import time

    ninapro.clear_cache()
    ninapro.NinaproDB1Source(DB1).recordings  # noqa: B018  # fills this process's cache
    t = time.perf_counter()
    again = NinaproDB1Source(DB1).recordings
    assert time.perf_counter() - t < 0.5
    assert [r.key for r in again] == [r.key for r in db1.recordings]
