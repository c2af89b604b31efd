"""emg2pose reader: exact layout round trip, metadata validation, bad files, lazy handles in DataLoader workers."""

from __future__ import annotations

import pickle

import h5py
import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader

from emgaug.data import handles
from emgaug.data.emg2pose import Emg2PoseReader, load_metadata
from emgaug.data.simulate import write_emg2pose_file
from emgaug.data.source import open_source
from emgaug.data.windows import WindowConfig, WindowDataset
from emgaug.errors import EmgaugError


def _write(root, name, n=3000, sr=2000.0, attr_sr=None, angles=None, user="u0", stage="click", session="s0"):
    rng = np.random.default_rng(sum(map(ord, name)))
    times = 1.6e9 + np.arange(n) / sr
    ang = rng.normal(0.5, 0.1, (n, 20)) if angles is None else angles
    emg = rng.normal(0, 50, (n, 16)).astype(np.float32)
    write_emg2pose_file(root / f"{name}.hdf5", times, ang, emg,
                        {"filename": name, "session": session, "stage": stage, "user": user, "side": "right",
                         "sample_rate": attr_sr or sr, "num_channels": 16, "start": times[0], "end": times[-1]})
    return times, ang, emg


def _metadata(root, rows):
    pd.DataFrame(rows).to_csv(root / "metadata.csv", index=False)


def _row(name, user="u0", stage="click", session="s0"):
    return {"user": user, "session": session, "stage": stage, "side": "right", "moving_hand": "right",
            "held_out_user": False, "held_out_stage": False, "split": "train", "generalization": "", "filename": name}


def test_reader_returns_exact_rows_of_the_emg2pose_layout(tmp_path):
    times, ang, emg = _write(tmp_path, "a")
    with h5py.File(tmp_path / "a.hdf5") as f:  # the layout DESIGN.md specifies, byte for byte
        ds = f["emg2pose"]["timeseries"]
        assert ds.dtype.names == ("time", "joint_angles", "emg")
        assert ds.dtype["joint_angles"].shape == (20,) and ds.dtype["emg"].shape == (16,)
        assert ds.dtype["time"] == np.float64 and ds.dtype["emg"].base == np.float32
        assert {"filename", "session", "stage", "user", "side", "sample_rate", "num_channels", "start", "end"} <= set(f["emg2pose"].attrs)
    e, a = Emg2PoseReader(str(tmp_path / "a.hdf5")).read(100, 400)
    np.testing.assert_array_equal(e, emg[100:400])
    np.testing.assert_allclose(a, ang[100:400].astype(np.float32))
    _metadata(tmp_path, [_row("a")])
    src = open_source(tmp_path)
    assert src.kind == "emg2pose" and src.sample_rate == 2000.0
    assert (src.num_channels, src.num_joints) == (16, 20)
    assert src.recordings[0].num_rows == 3000


def test_reader_pickles_without_a_handle_and_workers_read_the_same_windows(tmp_path):
    for i in range(3):
        _write(tmp_path, f"f{i}", user=f"u{i}")
    _metadata(tmp_path, [_row(f"f{i}", user=f"u{i}") for i in range(3)])
    src = open_source(tmp_path)
    ds = WindowDataset(src, src.recordings, WindowConfig(window_s=0.5, stride_s=0.5).resolve(2000.0))
    ds[0]  # opens a handle in this process
    assert b"h5py" not in pickle.dumps(ds)
    direct = torch.stack([ds[i]["emg"] for i in range(len(ds))])
    loaded = torch.cat([b["emg"] for b in DataLoader(ds, batch_size=4, num_workers=2, shuffle=False)])
    torch.testing.assert_close(direct, loaded, rtol=0, atol=0)


def test_open_handles_stay_bounded(tmp_path, monkeypatch):
    monkeypatch.setattr(handles, "_CAPACITY", 4)
    handles.close_all()
    for i in range(10):
        _write(tmp_path, f"f{i}", n=500)
        Emg2PoseReader(str(tmp_path / f"f{i}.hdf5")).read(0, 10)
        assert handles.open_count() <= 4
    handles.close_all()


def test_missing_metadata_column_is_named(tmp_path):
    _write(tmp_path, "a")
    pd.DataFrame([{k: v for k, v in _row("a").items() if k != "stage"}]).to_csv(tmp_path / "metadata.csv", index=False)
    with pytest.raises(EmgaugError, match=r"metadata.csv: missing required column\(s\) stage"):
        load_metadata(tmp_path)


def test_missing_file_is_named_with_the_fix(tmp_path):
    _metadata(tmp_path, [_row("ghost")])
    with pytest.raises(EmgaugError, match=r"ghost: HDF5 file listed in metadata.csv is missing"):
        open_source(tmp_path).recordings  # noqa: B018  # the property access raises


def test_corrupt_hdf5_is_reported_not_crashed(tmp_path):
    _write(tmp_path, "a")
    data = (tmp_path / "a.hdf5").read_bytes()
    (tmp_path / "a.hdf5").write_bytes(data[: len(data) // 3])  # truncated download
    _metadata(tmp_path, [_row("a")])
    with pytest.raises(EmgaugError, match=r"a.hdf5: cannot open as HDF5 .*corrupt or truncated"):
        open_source(tmp_path).recordings  # noqa: B018  # the property access raises
    (tmp_path / "a.hdf5").write_bytes(b"not an hdf5 file at all" * 100)
    with pytest.raises(EmgaugError, match="a.hdf5"):
        open_source(tmp_path).recordings  # noqa: B018  # the property access raises


def test_sample_rate_attribute_that_disagrees_with_timestamps_is_refused(tmp_path):
    _write(tmp_path, "a", sr=2000.0, attr_sr=1000.0)
    _metadata(tmp_path, [_row("a")])
    with pytest.raises(EmgaugError, match=r"a.hdf5: sample_rate attribute says 1000 Hz but timestamps give 2000"):
        open_source(tmp_path).recordings  # noqa: B018  # the property access raises


def test_mixed_sample_rates_across_files_are_refused(tmp_path):
    _write(tmp_path, "a", sr=2000.0)
    _write(tmp_path, "b", sr=1000.0, user="u1")
    _metadata(tmp_path, [_row("a"), _row("b", user="u1")])
    with pytest.raises(EmgaugError, match="different sample rates"):
        open_source(tmp_path).sample_rate  # noqa: B018  # the property access raises


def test_nan_and_all_zero_angle_rows_are_masked_not_learned(tmp_path):
    ang = np.random.default_rng(0).normal(0.5, 0.1, (2000, 20))
    ang[200:400] = np.nan  # a NaN IK failure: frames 5..9 of 40-sample frames
    ang[800:880] = 0.0  # an all-zero IK failure: frames 20, 21
    _write(tmp_path, "a", n=2000, angles=ang)
    _metadata(tmp_path, [_row("a")])
    src = open_source(tmp_path)
    ds = WindowDataset(src, src.recordings, WindowConfig(window_s=1.0, stride_s=1.0).resolve(2000.0))
    item = ds[0]
    mask = item["angle_mask"].numpy()
    assert not mask[5:10].any() and not mask[20:22].any()
    assert mask[:5].all() and mask[10:20].all() and mask[22:].all()
    assert torch.isfinite(item["angles"]).all()
    np.testing.assert_allclose(item["angles"][:, 0].numpy(), ang[:40].mean(0), rtol=1e-5)

