"""UCI lower-limb source: layout, flexion-positive knee angle, duplicate exclusion, windows, splits and errors, on
tiny CSV files written here and (when present) the real files under ../shared/data/uci_lower_limb."""

from __future__ import annotations

import logging
import pickle
from pathlib import Path

import numpy as np
import pytest

from conftest import real_data
from emgaug.data import uci_lower_limb
from emgaug.data.source import detect_kind, open_source
from emgaug.data.splits import make_split
from emgaug.data.uci_lower_limb import ANGLE_COLUMN, UCI_SAMPLE_RATE_HZ, UCILowerLimbSource
from emgaug.data.windows import WindowConfig, WindowDataset, compute_norm_stats, stack_windows
from emgaug.errors import EmgaugError

CHANNELS = ("Recto Femoral", "Biceps Femoral", "Vasto Medial", "EMG Semitendinoso")
HEADER = ",".join(CHANNELS + (ANGLE_COLUMN,))


def knee_angle(rows: int, sign: float = 1.0, period: int = 500) -> np.ndarray:
    """Flexion cycles from ~2 to ~60 degrees (times `sign`): the large excursion is flexion."""
    t = np.arange(rows)
    return np.round(sign * (31.0 - 29.0 * np.cos(2 * np.pi * t / period)), 1)


def write_uci(path: Path, rows: int = 3000, sign: float = 1.0, seed: int = 0, newline: str = "\n",
              angle: np.ndarray | None = None) -> Path:
    """A UCI-style CSV whose EMG values encode (seed, row, channel), so reads are checkable exactly."""
    path.parent.mkdir(parents=True, exist_ok=True)
    emg = np.round(1e-4 * (np.arange(rows)[:, None] % 997) + 1e-2 * np.arange(4) + seed, 4)
    ang = knee_angle(rows, sign) if angle is None else angle
    lines = [HEADER] + [",".join(f"{v:g}" for v in e) + f",{a:g}" for e, a in zip(emg, ang)]
    path.write_bytes((newline.join(lines) + newline).encode())
    return path


@pytest.fixture(autouse=True)
def _fresh_cache():
    uci_lower_limb.clear_cache()
    yield
    uci_lower_limb.clear_cache()


@pytest.fixture
def synth(tmp_path: Path) -> Path:
    """3 healthy + 3 pathology subjects x 3 tasks; 2N's sitting and standing repeat 1N's (as in the source)."""
    root = tmp_path / "uci"
    for g, letter in (("normal", "N"), ("abnormal", "A")):
        for k in (1, 2, 3):
            for j, task in enumerate(("gait", "sitting", "standing")):
                seed = (10 if letter == "A" else 0) + 3 * k + j
                sign = -1.0 if (k + j) % 3 == 0 else 1.0  # about a third of the files run negative
                write_uci(root / g / f"{k}{letter}{task}.csv", rows=2500 + 100 * j + 10 * k, sign=sign, seed=seed)
    src = root / "normal"
    (src / "2Nsitting.csv").write_bytes((src / "1Nsitting.csv").read_bytes())  # byte-identical
    # the same samples re-saved with CRLF line ends: a content duplicate that is not byte-identical
    (src / "2Nstanding.csv").write_bytes((src / "1Nstanding.csv").read_bytes().replace(b"\n", b"\r\n"))
    (src / "notes.txt").write_text("not a recording\n")
    return root


def test_layout_maps_to_recordings(synth):
    assert detect_kind(synth) == "uci_lower_limb"
    src = open_source(synth)
    assert isinstance(src, UCILowerLimbSource)
    recs = src.recordings
    assert len(recs) == 6 * 3 - 2
    assert {r.user for r in recs} == {"N01", "N02", "N03", "A01", "A02", "A03"}
    assert {r.stage for r in recs} == {"gait", "sitting", "standing"} and {r.session for r in recs} == {"s1"}
    assert {r.extra["group"] for r in recs if r.user.startswith("N")} == {"healthy"}
    assert {r.extra["group"] for r in recs if r.user.startswith("A")} == {"pathology"}
    r = next(r for r in recs if r.user == "A03" and r.stage == "standing")
    assert (r.filename, r.start, r.stop, r.sample_rate) == ("abnormal/3Astanding.csv", 0, 2730, UCI_SAMPLE_RATE_HZ)
    assert len({r.key for r in recs}) == len(recs)
    assert (src.num_channels, src.num_joints) == (4, 1)
    assert src.channel_names == list(CHANNELS) and src.kinematics_names == [ANGLE_COLUMN]
    assert src.kinematics_kind == "joint_angles" and not src.zero_rows_are_failures
    d = src.describe()
    assert d["kinematics_kind"] == "joint_angles" and d["channel_names"] == list(CHANNELS)
    assert [e["file"] for e in d["excluded"]] == ["normal/2Nsitting.csv", "normal/2Nstanding.csv"]


def test_duplicates_are_found_by_content_and_the_kept_file_is_named(synth, caplog):
    with caplog.at_level(logging.WARNING, logger="emgaug.data.uci_lower_limb"):
        src = open_source(synth, "uci_lower_limb")
        kept = {r.filename for r in src.recordings}
    assert {"normal/1Nsitting.csv", "normal/1Nstanding.csv", "normal/2Ngait.csv"} <= kept
    assert not {"normal/2Nsitting.csv", "normal/2Nstanding.csv"} & kept
    assert [(e["file"], e["kept"]) for e in src.excluded] == [("normal/2Nsitting.csv", "normal/1Nsitting.csv"),
                                                              ("normal/2Nstanding.csv", "normal/1Nstanding.csv")]
    logged = [m for m in caplog.messages if "excluded" in m]
    assert len(logged) == 2 and "2Nstanding.csv" in logged[1] and "1Nstanding.csv (kept)" in logged[1]
    # the first in order (healthy, subject number, task) is kept, whichever group the copy sits in
    (synth / "abnormal" / "3Agait.csv").write_bytes((synth / "normal" / "3Ngait.csv").read_bytes())
    again = UCILowerLimbSource(synth)
    assert ("abnormal/3Agait.csv", "normal/3Ngait.csv") in [(e["file"], e["kept"]) for e in again.excluded]


def test_angle_is_flexion_positive_per_file(tmp_path):
    root = tmp_path / "uci"
    raw = knee_angle(3000, sign=-1.0)  # written negative
    write_uci(root / "normal" / "1Ngait.csv", angle=raw)
    write_uci(root / "normal" / "2Ngait.csv", sign=1.0, seed=1)
    src = open_source(root)
    neg, pos = src.recordings
    _, a_neg = src.reader(neg).read(0, neg.stop)
    _, a_pos = src.reader(pos).read(0, pos.stop)
    assert a_neg.shape == (3000, 1) and a_neg.dtype == np.float32
    np.testing.assert_allclose(a_neg[:, 0], -raw, atol=1e-5)  # flipped, values otherwise untouched
    np.testing.assert_allclose(a_pos[:, 0], knee_angle(3000), atol=1e-5)  # already positive: kept
    assert a_neg.max() > 55 and a_neg.min() > 0 and (neg.extra["angle_sign"], pos.extra["angle_sign"]) == (-1, 1)
    # the raw sign on request
    raw_src = UCILowerLimbSource(root, flexion_positive=False)
    np.testing.assert_allclose(raw_src.reader(raw_src.recordings[0]).read(0, 3000)[1][:, 0], raw, atol=1e-5)
    # the rule: flip only when the 5th percentile lies further from 0 than the 95th (offsets are kept)
    assert uci_lower_limb.flexion_sign(np.array([-5.0] * 10 + [50.0] * 90)) == 1
    assert uci_lower_limb.flexion_sign(np.array([5.0] * 10 + [-50.0] * 90)) == -1
    assert uci_lower_limb.flexion_sign(np.array([-8.0] * 50 + [3.0] * 50)) == -1


def test_reader_returns_exact_rows_and_pickles_as_path(synth):
    src = open_source(synth)
    rec = next(r for r in src.recordings if r.user == "N03" and r.stage == "gait")
    emg, ang = src.reader(rec).read(10, 14)
    expected = np.round(1e-4 * np.arange(10, 14)[:, None] + 1e-2 * np.arange(4) + 9, 4)
    np.testing.assert_allclose(emg, expected, atol=1e-5)
    assert emg.dtype == np.float32 and ang.shape == (4, 1)
    emg[:] = -1  # the per-process cache must not change
    assert src.reader(rec).read(10, 11)[0][0, 0] == pytest.approx(9.001, abs=1e-5)
    clone = pickle.loads(pickle.dumps(src.reader(rec)))
    assert vars(clone) == {"path": rec.path, "flexion_positive": True}
    with pytest.raises(EmgaugError, match="outside the file"):
        src.reader(rec).read(0, rec.stop + 1)


def test_zero_degree_rows_are_real_values_not_ik_failures(tmp_path):
    """A knee angle of exactly 0 is valid: windows keep it, and normalisation statistics count it."""
    root = tmp_path / "uci"
    angle = knee_angle(2000)
    angle[:1000] = 0.0  # a fully extended knee for a second
    write_uci(root / "normal" / "1Nsitting.csv", rows=2000, angle=angle)
    src = open_source(root)
    recs = src.recordings
    assert not src.kinematics_failure_mask(np.zeros((3, 1), np.float32)).any()
    norm = compute_norm_stats(src, recs)
    np.testing.assert_allclose(norm.angle_mean, [angle.mean()], rtol=1e-5)
    ds = WindowDataset(src, recs, WindowConfig(window_s=0.5, stride_s=0.5).resolve(src.sample_rate))
    item = ds[0]
    assert item["angle_mask"].all() and float(item["angles"].abs().max()) == 0.0


def test_splits_and_windows_on_fixtures(synth):
    src = open_source(synth)
    cs = make_split(src, "cross-subject", seed=0)
    users = {s: {e["user"] for e in cs.splits[s]} for s in ("train", "val", "test")}
    assert not users["train"] & users["test"] and all(users.values())
    sw = make_split(src, "sample-wise", seed=0, block_s=0.5, gap_s=0.25)
    assert sum(c["rows"] for c in sw.counts.values()) < sum(r.num_rows for r in src.recordings)
    with pytest.raises(EmgaugError, match="at least 2 sessions"):
        make_split(src, "cross-session")  # one file per person and task: nothing to split by session
    win = WindowConfig(window_s=0.5, stride_s=0.25, angle_rate_hz=50.0).resolve(src.sample_rate)
    recs = [r for r in src.recordings if r.user in users["train"]]
    ds = WindowDataset(src, recs, win, norm=compute_norm_stats(src, recs), label_map=cs.label_map())
    emg, ang = stack_windows(ds, range(0, len(ds), 7))
    assert emg.shape[1:] == (4, 500) and ang.shape[1:] == (1, 25) and np.isfinite(emg).all()
    assert set(ds.labels().tolist()) == {0, 1, 2}


def _bad(tmp_path: Path, text: str | bytes, name: str = "1Ngait.csv") -> Path:
    root = tmp_path / "uci"
    write_uci(root / "normal" / "2Ngait.csv", seed=2)
    p = root / "normal" / name
    p.write_bytes(text if isinstance(text, bytes) else text.encode())
    return root


GOOD_ROWS = "0.001,0.002,0.003,0.004,10\n0.002,0.003,0.004,0.005,11\n"


@pytest.mark.parametrize("text, match", [
    ("", "the file is empty"),
    (HEADER + "\n", "header but no samples"),
    (HEADER + "\n" + GOOD_ROWS + "0.003,0.004,0.0", "line 4 has no value in column 'EMG Semitendinoso' .*truncated"),
    (HEADER + "\n" + GOOD_ROWS + "0.003,abc,0.005,0.006,12\n", "line 4, column 'Biceps Femoral': 'abc' is not a number"),
    ("a,b,c,d,e\n" + GOOD_ROWS, "no 'Flexo-Extension' column"),
    (HEADER + "\n" + GOOD_ROWS + "1,2,3,4,5,6\n", "not a comma-separated table"),
    (HEADER + "\n" + "1,2,3,4,5,6\n1,2,3,4,5,6\n", "more fields than the header"),
    (HEADER + "\n" + "0.1,0.2,inf,0.3,4\n", "infinite"),
])
def test_bad_files_give_one_line(tmp_path, text, match):
    root = _bad(tmp_path, text)
    with pytest.raises(EmgaugError, match=match) as e:
        _ = open_source(root).recordings
    msg = str(e.value)
    assert "\n" not in msg and "1Ngait.csv" in msg


def test_group_letter_must_match_folder(tmp_path):
    root = _bad(tmp_path, HEADER + "\n" + GOOD_ROWS, name="1Agait.csv")
    with pytest.raises(EmgaugError, match="does not match the folder normal/"):
        _ = open_source(root).recordings


# ---- real files ----

@pytest.fixture(scope="module")
def real():
    return UCILowerLimbSource(real_data("uci_lower_limb"))


def test_real_layout_and_exclusions(real):
    recs = real.recordings
    assert len({r.user for r in recs}) == 16 and len(recs) == 16 * 3 - 2
    assert [(e["file"], e["kept"]) for e in real.excluded] == [("normal/2Nsitting.csv", "normal/1Nsitting.csv"),
                                                               ("normal/2Nstanding.csv", "normal/1Nstanding.csv")]
    assert sorted(r.stage for r in recs if r.user == "N02") == ["gait"]
    assert real.channel_names == list(CHANNELS) and (real.num_channels, real.num_joints) == (4, 1)
    seconds = sum(r.num_rows for r in recs) / real.sample_rate
    assert 900 < seconds < 960  # ~15.6 minutes after the two duplicates
    assert {r.extra["angle_sign"] for r in recs} == {-1, 1}  # both signs occur in the source


def test_real_angles_are_flexion_positive_and_raw_emg(real):
    for rec in real.recordings:
        emg, ang = real.reader(rec).read(rec.start, rec.stop)
        p5, p95 = np.percentile(ang[:, 0], [5, 95])
        assert p95 > 20 and p95 > -p5, rec.filename  # the large excursion (flexion) is positive
        assert emg.min() < 0 < emg.max(), rec.filename  # raw, signed EMG (not envelopes)


def test_real_stride_period_fits_the_documented_rate(real):
    """Walking at the documented 1000 Hz gives strides of 1.1-1.9 s (at 2 kHz they would be implausibly short)."""
    periods = []
    for rec in (r for r in real.recordings if r.stage == "gait"):
        a = real.reader(rec).read(rec.start, rec.stop)[1][::10, 0].astype(np.float64)  # 100 Hz
        a -= a.mean()
        ac = np.correlate(a, a, "full")[len(a) - 1:]
        periods.append((40 + int(np.argmax(ac[40:300]))) / 100.0 * 1000.0 / real.sample_rate)
    assert 0.9 < float(np.median(periods)) < 1.7


def test_real_splits_and_windows(real):
    cs = make_split(real, "cross-subject", seed=0)
    assert not {e["user"] for e in cs.splits["train"]} & {e["user"] for e in cs.splits["test"]}
    sw = make_split(real, "sample-wise", seed=0, block_s=2.0, gap_s=1.0)
    assert sw.counts["test"]["rows"] > 0
    recs = cs.recordings("test")
    win = WindowConfig(window_s=1.0, stride_s=0.5).resolve(real.sample_rate)
    ds = WindowDataset(real, recs, win, norm=compute_norm_stats(real, recs), label_map=cs.label_map())
    item = ds[len(ds) // 2]
    assert item["emg"].shape == (4, 1000) and item["angles"].shape == (1, 50) and item["angle_mask"].all()
