"""Windowed Dataset: window geometry, train-only normalisation, deterministic jitter, padding."""

from __future__ import annotations

import numpy as np
import pytest

from emgaug.data.manifest import load_manifest
from emgaug.data.recording import ik_failure_mask
from emgaug.data.windows import NormStats, WindowConfig, WindowDataset, compute_norm_stats, stack_windows
from emgaug.errors import EmgaugError


@pytest.fixture(scope="module")
def manifest(sim_manifest):
    return load_manifest(sim_manifest)


def test_window_config_resolves_to_whole_angle_frames():
    w = WindowConfig(window_s=1.0, stride_s=0.5, angle_rate_hz=50).resolve(2000.0)
    assert (w.window, w.stride, w.angle_downsample, w.angle_frames) == (2000, 1000, 40, 50)
    w = WindowConfig(window_s=0.33, angle_rate_hz=50).resolve(100.0)  # Ninapro rate
    assert w.angle_downsample == 2 and w.window % 2 == 0


def test_norm_stats_come_from_the_train_split_only(manifest):
    src = manifest.data_source
    train = manifest.recordings("train")
    ns = compute_norm_stats(src, train, chunk_rows=777)  # chunking must not change the result
    emg = np.concatenate([src.reader(r).read(r.start, r.stop)[0] for r in train]).astype(np.float64)
    ang = np.concatenate([src.reader(r).read(r.start, r.stop)[1] for r in train]).astype(np.float64)
    ang = ang[~ik_failure_mask(ang)]
    np.testing.assert_allclose(ns.emg_mean, emg.mean(0), rtol=1e-4, atol=1e-3)
    np.testing.assert_allclose(ns.emg_std, emg.std(0), rtol=1e-4)
    np.testing.assert_allclose(ns.angle_mean, ang.mean(0), rtol=1e-4, atol=1e-6)
    test_ns = compute_norm_stats(src, manifest.recordings("test"))
    assert not np.allclose(ns.emg_std, test_ns.emg_std)  # a different split really gives other statistics
    assert NormStats.from_dict(ns.to_dict()).emg_std.tolist() == pytest.approx(ns.emg_std.tolist())


def test_non_negative_envelope_emg_is_scaled_not_centred(manifest, monkeypatch):
    """Rectified-envelope EMG (Ninapro DB1) keeps its sign: mean 0, std = RMS; raw EMG is z-scored."""
    src = manifest.data_source
    train = manifest.recordings("train")[:3]
    raw = compute_norm_stats(src, train)
    assert np.abs(raw.emg_mean).max() > 0  # signed EMG: centred
    reader_cls = type(src.reader(train[0]))
    orig = reader_cls.read
    monkeypatch.setattr(reader_cls, "read", lambda self, a, b: (np.abs(orig(self, a, b)[0]), orig(self, a, b)[1]))
    env = compute_norm_stats(src, train)
    rect = np.concatenate([np.abs(src.reader(r).read(r.start, r.stop)[0]) for r in train]).astype(np.float64)
    assert np.all(env.emg_mean == 0)
    np.testing.assert_allclose(env.emg_std, np.sqrt((rect**2).mean(0)), rtol=1e-4)


def test_windows_tile_each_recording_and_normalise(manifest):
    src = manifest.data_source
    recs = manifest.recordings("train")
    w = WindowConfig(window_s=0.5, stride_s=0.25).resolve(src.sample_rate)
    ns = compute_norm_stats(src, recs)
    ds = WindowDataset(src, recs, w, norm=ns, label_map=manifest.label_map())
    expected = sum((r.num_rows - w.window) // w.stride + 1 for r in recs if r.num_rows >= w.window)
    assert len(ds) == expected
    for i in (0, len(ds) // 2, len(ds) - 1):
        meta = ds.window_meta(i)
        rec = next(r for r in recs if r.filename == meta["filename"])
        assert rec.start <= meta["start"] and meta["stop"] <= rec.stop
        raw = src.reader(rec).read(meta["start"], meta["stop"])[0]
        np.testing.assert_allclose(ds[i]["emg"].numpy(), ((raw - ns.emg_mean) / ns.emg_std).T, rtol=1e-5, atol=1e-5)
        assert int(ds[i]["label"]) == manifest.label_map()[meta["stage"]]
    emg, ang = stack_windows(WindowDataset(src, recs, w), [0, 1])
    assert emg.shape == (2, 16, w.window) and ang.shape == (2, 20, w.angle_frames)


def test_jitter_is_deterministic_per_epoch_and_stays_in_the_recording(manifest):
    src = manifest.data_source
    recs = manifest.recordings("train")
    w = WindowConfig(window_s=0.5, stride_s=0.5, jitter_s=0.1).resolve(src.sample_rate)
    ds = WindowDataset(src, recs, w, train=True, seed=7)
    starts0 = [ds.window_meta(i)["start"] for i in range(len(ds))]
    assert starts0 == [ds.window_meta(i)["start"] for i in range(len(ds))]
    ds.set_epoch(1)
    starts1 = [ds.window_meta(i)["start"] for i in range(len(ds))]
    assert starts0 != starts1
    for i, s in enumerate(starts1):
        rec = ds.window_recordings()[i]
        assert rec.start <= s <= rec.stop - w.window


def test_short_recordings_are_padded_and_masked_only_when_asked(manifest):
    src = manifest.data_source
    rec = manifest.recordings("train")[0]
    import dataclasses

    short = dataclasses.replace(rec, stop=rec.start + 300)
    w = WindowConfig(window_s=0.5).resolve(src.sample_rate)
    with pytest.raises(EmgaugError, match="no window of 1000 samples fits"):
        WindowDataset(src, [short], w)
    ds = WindowDataset(src, [short], WindowConfig(window_s=0.5, pad=True).resolve(src.sample_rate))
    item = ds[0]
    assert item["emg_mask"][:300].all() and not item["emg_mask"][300:].any()
    assert (item["emg"][:, 300:] == 0).all()
    assert not item["angle_mask"][300 // w.angle_downsample + 1:].any()


def test_wrong_sample_rate_window_is_refused(manifest):
    src = manifest.data_source
    with pytest.raises(EmgaugError, match="resolved for 100 Hz"):
        WindowDataset(src, manifest.recordings("train"), WindowConfig().resolve(100.0))
