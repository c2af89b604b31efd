"""IMU biceps source: both Trigno header layouts, IMU resampled onto the EMG clock, repetitions and RPE labels,
windows, splits and one-line errors, on tiny exports written here and (when present) the real files under
../shared/data/imu_biceps."""

from __future__ import annotations

import collections
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import real_data
from emgaug.data import imu_biceps
from emgaug.data.imu_biceps import IMUBicepsReader, IMUBicepsSource
from emgaug.data.source import detect_kind, open_source
from emgaug.data.splits import make_split
from emgaug.data.windows import WindowConfig, WindowDataset, compute_norm_stats, stack_windows
from emgaug.errors import EmgaugError

TITLES = ["ACC X (G)", "ACC Y (G)", "ACC Z (G)", "GYRO X (deg/s)", "GYRO Y (deg/s)", "GYRO Z (deg/s)", "EMG 1 (mV)"]
F_IMU, F_EMG = 250.0, 1000.0  # fixture rates: 4 EMG rows per IMU sample
N_IMU = 50  # -> 200 EMG rows; the last IMU sample is at t = 0.196 s, so 197 aligned rows
STARTS, PEAKS, RPES = [5, 20, 35, 48], [12, 27, 41], [3, 6, 9]


def ramp_imu(n_imu: int) -> np.ndarray:
    """Axis k at IMU sample i reads (k + 1) * i + 10 * k: a known ramp per axis."""
    return np.arange(n_imu)[:, None] * (np.arange(6) + 1.0) + 10.0 * np.arange(6)


def write_set(path: Path, n_imu: int = N_IMU, f_imu: float = F_IMU, f_emg: float = F_EMG, t417: bool = False,
              imu: np.ndarray | None = None, emg_rows: int | None = None, length_s: float | None = None,
              titles: list[str] | None = None, rates: list[str] | None = None) -> Path:
    """A Trigno Discover export; `t417=True` writes the re-saved layout (leading index column, quoted titles)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    imu = ramp_imu(n_imu) if imu is None else imu
    n_emg = int(round(n_imu * f_emg / f_imu)) if emg_rows is None else emg_rows
    length_s = max(n_emg / f_emg, len(imu) / f_imu) if length_s is None else length_s
    titles = titles or TITLES
    rates = rates or [f"{f_imu:.10g} Hz"] * 6 + [f"{f_emg:.10g} Hz"]
    header = [["Application:", "Trigno Discover (1.6.5)"], ["Date/Time:", "29/01/2025 10:22:21"],
              ["Collection Length (seconds):", f"{length_s:g}"], ["wrist (81457)"] + [""] * 5 + ["bicep (81139)"],
              ["sensor mode: 609"] + [""] * 5 + ["sensor mode: 40"], titles, rates]
    rows = []
    for r in range(max(len(imu), n_emg)):
        cells = [f"{v:.7g}" for v in imu[r]] if r < len(imu) else [""] * 6
        rows.append(cells + [f"{r / 1000:.4f}" if r < n_emg else ""])
    if t417:
        width = len(titles)
        first = [""] + header[0] + [f"Unnamed: {i}" for i in range(2, width)]
        lines = [",".join(first)]
        for i, h in enumerate(header[1:]):
            cells = [f'"{c}"' if h is titles else c for c in h] + [""] * (width - len(h))
            lines.append(f"{i}," + ",".join(cells))
        lines += [f"{i + 6}," + ",".join(c if c else " " for c in row) for i, row in enumerate(rows)]
    else:
        lines = [", ".join(h) for h in header] + [", ".join(c if c else "" for c in row) for row in rows]
    path.write_text("\r\n".join(lines) + "\r\n")
    return path


def write_index_files(root: Path, sets: dict[str, tuple[list[int], list[int], list[int]]]) -> None:
    lines = [f"{sid}, [{', '.join(map(str, s))}], [{', '.join(map(str, p))}], {len(p)}, {len(p)} "
             for sid, (s, p, _) in sets.items()]
    (root / "rep_indexes_corrected.txt").write_text("\n".join(lines) + "\n")
    depth = max(len(r) for _, _, r in sets.values())
    cols = [[sid, str(len(r))] + [str(v) for v in r] + [""] * (depth - len(r)) for sid, (_, _, r) in sets.items()]
    (root / "rpes.csv").write_text("\n".join(",".join(row) + "," for row in zip(*cols)) + "\n")


SETS = {"A001_5_1": {}, "A001_10_1": {}, "B002_5_1": {}, "C003_15_2": {"t417": True}, "D004_10_1": {}}


@pytest.fixture(autouse=True)
def _fresh_cache():
    imu_biceps.clear_cache()
    yield
    imu_biceps.clear_cache()


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    """4 subjects, 5 sets (one in the T417 layout), 3 repetitions each rated 3, 6 and 9."""
    root = tmp_path / "imu"
    for sid, kw in SETS.items():
        write_set(root / "raw" / f"{sid}.csv", **kw)
    entries = {sid: (STARTS, PEAKS, RPES) for sid in SETS}
    entries["Z999_5_1"] = ([1, 5, 9], [3, 7], [4, 5, 6])  # contradictory entry of a set without a file: ignored
    write_index_files(root, entries)
    return root


def test_layout_maps_to_repetitions(synth):
    assert detect_kind(synth) == "imu_biceps"
    src = open_source(synth)
    assert isinstance(src, IMUBicepsSource)
    recs = src.recordings
    assert len(recs) == 5 * 3
    assert {r.user for r in recs} == {"A001", "B002", "C003", "D004"}
    assert {r.session for r in recs if r.user == "A001"} == {"05kg_set01", "10kg_set01"}
    assert {r.stage for r in recs} == {"05kg", "10kg", "15kg"}
    c = [r for r in recs if r.user == "C003"]
    assert [(r.start, r.stop) for r in c] == [(20, 80), (80, 140), (140, 192)]  # IMU index * 4
    assert [(r.extra["repetition"], r.extra["rpe"], r.extra["rpe_class"], r.extra["peak_row"]) for r in c] == \
        [(1, 3, "low", 48), (2, 6, "mid", 108), (3, 9, "high", 164)]
    assert c[0].filename == "raw/C003_15_2.csv" and c[0].extra["load_kg"] == 15 and c[0].extra["set"] == 2
    assert (src.num_channels, src.num_joints, src.sample_rate) == (1, 6, F_EMG)
    assert src.kinematics_kind == "imu" and not src.zero_rows_are_failures
    assert src.kinematics_names == TITLES[:6] and src.channel_names == TITLES[6:]
    d = src.describe()
    assert (d["kinematics_kind"], d["imu_rate_hz"], d["label"], d["segment"]) == ("imu", F_IMU, "load", "repetition")


def test_imu_ramp_lands_on_the_right_emg_rows_in_both_layouts(synth):
    src = open_source(synth)
    by_file = {r.filename: r for r in src.recordings}
    std, t417 = (IMUBicepsReader(by_file[f"raw/{s}.csv"].path) for s in ("A001_5_1", "C003_15_2"))
    info = imu_biceps.set_info(by_file["raw/A001_5_1.csv"].path)
    assert (info.imu_rows, info.emg_rows, info.num_rows) == (50, 200, 197)  # EMG after the last IMU sample dropped
    emg, imu = std.read(0, 197)
    rows = np.arange(197)
    expected = (rows / 4.0)[:, None] * (np.arange(6) + 1.0) + 10.0 * np.arange(6)  # IMU index = EMG row / 4
    assert emg.shape == (197, 1) and imu.shape == (197, 6) and imu.dtype == np.float32
    np.testing.assert_allclose(imu, expected, rtol=1e-6)
    np.testing.assert_allclose(emg[:, 0], rows / 1000.0, atol=1e-6)
    e2, i2 = t417.read(0, 197)
    np.testing.assert_array_equal(e2, emg)
    np.testing.assert_array_equal(i2, imu)
    with pytest.raises(EmgaugError, match="outside the set's 197 aligned rows"):
        std.read(0, 198)
    assert vars(pickle.loads(pickle.dumps(std))) == {"path": std.path}


def test_real_trigno_rates_align_on_a_non_integer_ratio(tmp_path):
    root = tmp_path / "imu"
    f_imu, f_emg = 370.3704, 2148.1481
    write_set(root / "raw" / "A001_5_1.csv", n_imu=100, f_imu=f_imu, f_emg=f_emg)
    write_index_files(root, {"A001_5_1": ([10, 50, 90], [30, 70], [5, 8])})
    src = open_source(root)
    assert [(r.start, r.stop) for r in src.recordings] == [(58, 290), (290, 522)]  # round(index * 5.8)
    n = imu_biceps.set_info(src.recordings[0].path).num_rows
    assert n == int(99 * f_emg / f_imu) + 1 == 575
    _, imu = IMUBicepsReader(src.recordings[0].path).read(0, n)
    np.testing.assert_allclose(imu[:, 0], np.arange(n) * f_imu / f_emg, atol=1e-4)
    assert imu[290, 0] == pytest.approx(50.0, abs=1e-3)  # the repetition boundary row holds IMU sample 50


def test_label_and_segment_options(synth):
    cls = IMUBicepsSource(synth, label="rpe_class")
    assert [r.stage for r in cls.recordings[:3]] == ["low", "mid", "high"]
    assert {r.stage for r in IMUBicepsSource(synth, label="rpe").recordings} == {"rpe03", "rpe06", "rpe09"}
    sets = IMUBicepsSource(synth, segment="set").recordings
    assert len(sets) == 5 and all((r.start, r.stop) == (0, 197) for r in sets)
    assert sets[0].extra["repetition_rows"] == [[20, 80], [80, 140], [140, 192]] and sets[0].extra["rpes"] == RPES
    with pytest.raises(EmgaugError, match="use segment=repetition"):
        IMUBicepsSource(synth, label="rpe_class", segment="set")
    with pytest.raises(EmgaugError, match="unknown label 'effort'"):
        IMUBicepsSource(synth, label="effort")
    # options round-trip through a manifest's source description
    m = make_split(cls, "cross-subject", seed=0)
    assert m.source["label"] == "rpe_class" and m.data_source.label == "rpe_class"


def test_zero_imu_rows_are_real_values(tmp_path):
    root = tmp_path / "imu"
    imu = ramp_imu(N_IMU)
    imu[:25] = 0.0  # a sensor at rest reading exactly 0 on every axis
    write_set(root / "raw" / "A001_5_1.csv", imu=imu)
    write_index_files(root, {"A001_5_1": ([0, 24, 48], [10, 30], [2, 3])})
    src = open_source(root)
    rec = src.recordings[0]
    ds = WindowDataset(src, [rec], WindowConfig(window_s=0.05, stride_s=0.05, angle_rate_hz=200.0).resolve(F_EMG))
    item = ds[0]
    assert item["angle_mask"].all() and float(item["angles"].abs().max()) == 0.0
    norm = compute_norm_stats(src, [rec])
    _, aligned = src.reader(rec).read(rec.start, rec.stop)
    np.testing.assert_allclose(norm.angle_mean, aligned.mean(0), rtol=1e-5)


def test_splits_and_windows_on_fixtures(synth):
    src = IMUBicepsSource(synth, label="rpe_class")
    cs = make_split(src, "cross-subject", seed=0)
    assert not {e["user"] for e in cs.splits["train"]} & {e["user"] for e in cs.splits["test"]}
    sess = make_split(src, "cross-session", seed=0)
    assert {(e["user"], e["session"]) for e in sess.splits["test"]} == {("A001", "10kg_set01")}
    win = WindowConfig(window_s=0.04, stride_s=0.02, angle_rate_hz=100.0).resolve(src.sample_rate)
    recs = cs.recordings("train")
    ds = WindowDataset(src, recs, win, norm=compute_norm_stats(src, recs), label_map=cs.label_map())
    emg, imu = stack_windows(ds)
    assert emg.shape[1:] == (1, 40) and imu.shape[1:] == (6, 4) and np.isfinite(imu).all()
    assert set(ds.labels().tolist()) == {cs.label_map()[s] for s in ("low", "mid", "high")}


def _bad_root(tmp_path: Path, writer) -> tuple[Path, Path]:
    root = tmp_path / "imu"
    write_set(root / "raw" / "A001_5_1.csv")
    bad = root / "raw" / "B002_5_1.csv"
    writer(bad)
    write_index_files(root, {"A001_5_1": (STARTS, PEAKS, RPES), "B002_5_1": (STARTS, PEAKS, RPES)})
    return root, bad


def _edit(lines_fn):
    """A writer that writes a good set, then rewrites its lines with `lines_fn`."""
    def writer(path: Path) -> None:
        write_set(path)
        path.write_text("\r\n".join(lines_fn(path.read_text().splitlines())) + "\r\n")
    return writer


def _set_cell(line_no: int, col: int, value: str):
    def fn(lines):
        cells = lines[line_no - 1].split(",")
        cells[col] = value
        lines[line_no - 1] = ",".join(cells)
        return lines
    return fn


BAD = {
    "empty": (lambda p: p.write_text(""), "the file is empty"),
    "truncated header": (_edit(lambda ls: ls[:3]), "only 3 of the 7 header lines"),
    "header only": (_edit(lambda ls: ls[:7]), "no data rows"),
    "truncated in the IMU block": (_edit(lambda ls: ls[:40] + [",".join(ls[40].split(",")[:2])]),
                                   "line 41 has 2 of 6 IMU values"),
    "truncated, both streams": (lambda p: write_set(p, length_s=0.5), "covers 0.20 s of the 0.50 s collection length"),
    "missing IMU columns": (lambda p: write_set(p, titles=TITLES[:5] + ["GYRO Q (deg/s)", "EMG 1 (mV)"]),
                            "no IMU column GYRO Z"),
    "unequal stream lengths": (lambda p: write_set(p, n_imu=100, emg_rows=200),
                               "IMU stream covers 0.40 s but the EMG stream 0.20 s"),
    "non-numeric cell": (_edit(_set_cell(20, 1, " abc")), "line 20, column 'ACC Y \\(G\\)': 'abc' is not a number"),
    "IMU gap": (_edit(_set_cell(30, 0, " ")), "line 30 has 5 of 6 IMU values"),
    "IMU resumes": (lambda p: write_set(p, imu=np.vstack([ramp_imu(20), np.full((5, 6), np.nan), ramp_imu(25)])),
                    "IMU stream stops at line 28 and starts again at line 33"),
    "bad rate": (lambda p: write_set(p, rates=["fast"] * 7), "rate of column 'ACC X \\(G\\)' is 'fast'"),
    "extra field": (_edit(lambda ls: ls + ["1,2,3,4,5,6,7,8"]), "malformed data rows"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_files_give_one_line(tmp_path, case):
    writer, match = BAD[case]
    root, bad = _bad_root(tmp_path, writer)
    with pytest.raises(EmgaugError, match=match) as e:
        _ = open_source(root).recordings
    assert "\n" not in str(e.value) and str(bad) in str(e.value)


def test_index_file_problems_name_the_set(tmp_path):
    root = tmp_path / "imu"
    write_set(root / "raw" / "A001_5_1.csv")
    write_index_files(root, {"B002_5_1": (STARTS, PEAKS, RPES)})
    with pytest.raises(EmgaugError, match="no line for set A001_5_1"):
        _ = open_source(root).recordings
    write_index_files(root, {"A001_5_1": (STARTS, PEAKS, [3, 6])})
    with pytest.raises(EmgaugError, match=r"rpes.csv: set A001_5_1 has 2 RPEs but .* 3 repetitions"):
        _ = open_source(root).recordings
    write_index_files(root, {"A001_5_1": ([5, 20, 35, 60], PEAKS, RPES)})
    with pytest.raises(EmgaugError, match="IMU sample 60, beyond the 50 samples"):
        _ = open_source(root).recordings
    (root / "rep_indexes_corrected.txt").write_text("A001_5_1, [5, 20], [12], 1, 2\n")
    with pytest.raises(EmgaugError, match=r"line 1 \(A001_5_1\): 2 starts, 1 peaks and counts 1, 2 disagree") as e:
        _ = open_source(root).recordings
    assert "\n" not in str(e.value)
    (root / "rep_indexes_corrected.txt").unlink()
    with pytest.raises(EmgaugError, match="repetition index file not found"):
        _ = open_source(root, "imu_biceps").recordings


# ---- real files ----

@pytest.fixture(scope="module")
def real():
    return IMUBicepsSource(real_data("imu_biceps"), label="rpe_class")


def test_real_layout_repetitions_and_labels(real):
    recs = real.recordings
    sets = {r.filename: r for r in recs}
    assert len(sets) == 52
    assert collections.Counter(r.user for r in sets.values()) == {"A321": 34, "P714": 8, "G998": 4, "T417": 3, "T456": 3}
    assert len(recs) == 618
    assert collections.Counter(r.stage for r in recs) == {"low": 176, "mid": 269, "high": 173}
    assert all(r.start <= r.extra["peak_row"] < r.stop for r in recs)
    assert 1.0 < min(r.num_rows for r in recs) / real.sample_rate  # every repetition holds a 1 s window
    assert (real.num_channels, real.num_joints) == (1, 6) and real.sample_rate == pytest.approx(2148.1481)
    for path in {r.path for r in recs}:
        info = imu_biceps.set_info(path)
        assert 0 <= info.emg_rows - info.num_rows <= 6  # only the EMG past the IMU's end is dropped
        assert abs(info.emg_rows / info.emg_rate - info.imu_rows / info.imu_rate) < 0.01


def test_real_t417_layout_reads_like_the_others(real):
    for sid in ("T417_15_2", "A321_10_1"):
        rec = next(r for r in real.recordings if r.extra["set_id"] == sid)
        emg, imu = real.reader(rec).read(0, imu_biceps.set_info(rec.path).num_rows)
        acc = np.linalg.norm(imu[:, :3], axis=1)
        assert 0.8 < float(np.median(acc)) < 1.3, sid  # ~1 g of gravity on the accelerometer, in g
        assert emg.min() < 0 < emg.max() and float(np.abs(emg).max()) < 20, sid  # raw signed EMG in mV
    first = open(next(r for r in real.recordings if r.extra["set_id"] == "T417_15_2").path).readline()
    assert first.startswith(",Application:")  # the re-saved layout really is the odd one


def test_real_splits_and_windows(real):
    cs = make_split(real, "cross-subject", seed=0)
    assert not {e["user"] for e in cs.splits["train"]} & {e["user"] for e in cs.splits["test"]}
    sess = make_split(real, "cross-session", seed=0)
    assert sess.counts["test"]["sessions"] == 5
    recs = cs.recordings("test")[:20]
    win = WindowConfig(window_s=1.0, stride_s=0.5).resolve(real.sample_rate)
    ds = WindowDataset(real, recs, win, norm=compute_norm_stats(real, recs), label_map=cs.label_map())
    item = ds[len(ds) // 2]
    assert item["emg"].shape == (1, win.window) and item["angles"].shape == (6, win.angle_frames)
    assert item["angle_mask"].all()
