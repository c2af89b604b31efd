"""Synthetic-set Parquet format: round trip, streaming, partitioning, atomicity and plain-pandas reading."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import torch

from emgaug.data.windows import NormStats, ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.synthesis import SyntheticWindowDataset, SyntheticWriter, iter_synthetic, read_metadata, read_synthetic
from emgaug.synthesis.schema import METADATA_FILE, METADATA_KEY

C, T, J, TA = 3, 40, 4, 8
WINDOW = ResolvedWindow(window=T, stride=T, angle_downsample=T // TA, jitter=0, pad=False, sample_rate=200.0)
STAGES = ["fist", "open hand/wide", "3"]  # a space, a slash and a numeric-looking name must survive the partition path


def _batch(rng: np.random.Generator, n: int, first_window: int):
    emg = rng.standard_normal((n, C, T)).astype(np.float32)
    ang = rng.standard_normal((n, J, TA)).astype(np.float32)
    mask = rng.random((n, TA)) > 0.2
    labels = pd.DataFrame({
        "stage": [STAGES[(first_window + k) % 3] for k in range(n)],
        "user": [f"u{k % 2}" for k in range(n)], "session": "s1", "side": "right",
        "filename": [f"file{(first_window + k) // 4}" for k in range(n)], "split": "train",
        "start": np.arange(first_window, first_window + n) * T, "stop": np.arange(first_window, first_window + n) * T + T,
        "sample_index": 0, "window_index": np.arange(first_window, first_window + n),
        "valid_samples": np.where(np.arange(n) % 5 == 0, T - 7, T),
    })
    return emg, ang, mask, labels


def _meta():
    return {"model_name": "ridge", "checkpoint_sha256": "ab" * 32, "sample_rate": 200.0, "window": WINDOW.to_dict(),
            "label_map": {s: i for i, s in enumerate(sorted(STAGES))}, "seed": 7, "source_split": "train",
            "allow_test_conditioning": False}


def _write(path, batches=(5, 7, 1, 11), row_group_bytes=2000, max_buffer_bytes=10_000):
    rng = np.random.default_rng(0)
    parts, start = [], 0
    with SyntheticWriter(path, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta(),
                         row_group_bytes=row_group_bytes, max_buffer_bytes=max_buffer_bytes) as w:
        for n in batches:
            b = _batch(rng, n, start)
            w.write_batch(b[0], b[1], b[3], angle_mask=b[2])
            parts.append(b)
            start += n
    emg = np.concatenate([p[0] for p in parts])
    ang = np.concatenate([p[1] for p in parts])
    mask = np.concatenate([p[2] for p in parts])
    labels = pd.concat([p[3] for p in parts], ignore_index=True)
    return emg, ang, mask, labels


def test_round_trip_identical_arrays_and_labels(tmp_path):
    out = tmp_path / "syn"
    emg, ang, mask, labels = _write(out)
    s = read_synthetic(out)
    assert s.path == out and len(s) == len(emg)
    assert s.emg.dtype == np.float32 and s.emg.shape == emg.shape
    np.testing.assert_array_equal(s.emg, emg)
    np.testing.assert_array_equal(s.angles, ang)
    np.testing.assert_array_equal(s.angle_mask, mask)
    for col in ("stage", "user", "session", "side", "filename", "split", "start", "stop", "sample_index", "window_index"):
        assert s.labels[col].tolist() == labels[col].tolist(), col
    assert s.labels["row_id"].tolist() == list(range(len(emg)))
    assert s.labels["model_name"].unique().tolist() == ["ridge"]
    np.testing.assert_allclose(s.labels["start_s"], labels["start"] / 200.0)
    assert (s.emg_mask.sum(1) == labels["valid_samples"].to_numpy()).all()
    assert s.metadata["emg_shape"] == [C, T] and s.metadata["angle_shape"] == [J, TA]
    assert s.metadata["rows_per_stage"] == labels["stage"].value_counts().sort_index().to_dict()


def test_stage_partitions_and_file_metadata(tmp_path):
    out = tmp_path / "syn"
    _, _, _, labels = _write(out)
    folders = sorted(p.name for p in out.iterdir() if p.is_dir())
    assert folders == sorted(["stage=fist", "stage=open%20hand%2Fwide", "stage=3"])
    root_meta = json.loads((out / METADATA_FILE).read_text())
    for f in out.glob("stage=*/*.parquet"):
        pf = pq.ParquetFile(f)
        assert pf.metadata.num_row_groups > 1  # tiny row groups were requested: rows were streamed, not held
        meta = json.loads(pf.schema_arrow.metadata[METADATA_KEY])
        assert meta["checkpoint_sha256"] == root_meta["checkpoint_sha256"] and meta["seed"] == 7
    (out / METADATA_FILE).unlink()  # the part files alone still carry the provenance
    assert read_metadata(out)["model_name"] == "ridge"


def test_plain_pandas_and_pyarrow_dataset_read(tmp_path):
    out = tmp_path / "syn"
    emg, ang, _, labels = _write(out)
    df = pd.read_parquet(out).sort_values("row_id").reset_index(drop=True)
    assert len(df) == len(labels)
    assert df["stage"].astype(str).tolist() == labels["stage"].tolist()
    np.testing.assert_array_equal(np.stack(df["emg"].to_numpy()).reshape(-1, C, T), emg)
    np.testing.assert_array_equal(np.stack(df["angles"].to_numpy()).reshape(-1, J, TA), ang)
    table = pads.dataset(out, format="parquet", partitioning="hive").to_table(filter=pads.field("stage") == "fist")
    assert table.num_rows == int((labels["stage"] == "fist").sum())


def test_iter_synthetic_streams_every_row_once(tmp_path):
    out = tmp_path / "syn"
    emg, ang, mask, labels = _write(out)
    seen = []
    for e, a, lab, m in iter_synthetic(out, batch_windows=3, with_mask=True):
        assert len(e) <= 3 and e.shape[1:] == (C, T) and a.shape[1:] == (J, TA)
        ids = lab["row_id"].to_numpy()
        np.testing.assert_array_equal(e, emg[ids])
        np.testing.assert_array_equal(a, ang[ids])
        np.testing.assert_array_equal(m, mask[ids])
        assert lab["stage"].tolist() == labels["stage"].to_numpy()[ids].tolist()
        seen.extend(ids.tolist())
    assert sorted(seen) == list(range(len(emg)))


def test_interrupted_write_leaves_nothing_under_final_name(tmp_path):
    out = tmp_path / "syn"
    rng = np.random.default_rng(1)
    with pytest.raises(KeyboardInterrupt):
        with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta(), row_group_bytes=1000) as w:
            b = _batch(rng, 9, 0)
            w.write_batch(b[0], b[1], b[3], angle_mask=b[2])
            assert any(w.tmp_dir.rglob("*.parquet"))  # row groups were already on disk under the temporary name
            raise KeyboardInterrupt
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []  # the temporary folder is gone too


def test_interrupted_rewrite_keeps_previous_dataset(tmp_path):
    out = tmp_path / "syn"
    emg, _, _, _ = _write(out)
    with pytest.raises(RuntimeError):
        with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta()) as w:
            b = _batch(np.random.default_rng(5), 4, 0)
            w.write_batch(b[0], b[1], b[3])
            raise RuntimeError("boom")
    np.testing.assert_array_equal(read_synthetic(out).emg, emg)


def test_writer_rejects_wrong_shapes(tmp_path):
    with pytest.raises(ValueError, match="do not match"):
        with SyntheticWriter(tmp_path / "syn", emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta()) as w:
            b = _batch(np.random.default_rng(0), 2, 0)
            w.write_batch(b[0][:, :, :-1], b[1], b[3])
    assert not (tmp_path / "syn").exists()


def test_read_errors_are_one_line_emgaug_errors(tmp_path):
    with pytest.raises(EmgaugError, match="not found"):
        read_synthetic(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmgaugError, match="not an emgaug synthetic set"):
        read_synthetic(tmp_path / "empty")


def test_window_dataset_items_match_real_window_conventions(tmp_path):
    out = tmp_path / "syn"
    emg, ang, mask, labels = _write(out)
    ds = SyntheticWindowDataset(out)
    assert len(ds) == len(emg) and ds.num_channels == C and ds.num_joints == J and ds.window == WINDOW
    item = ds[4]
    assert set(item) == {"emg", "angles", "angle_mask", "emg_mask", "label", "index"}
    assert item["emg"].dtype == torch.float32 and item["emg_mask"].dtype == torch.bool
    np.testing.assert_array_equal(item["emg"].numpy(), emg[4])
    assert int(item["label"]) == ds.label_map[labels["stage"][4]] and int(item["index"]) == 4
    assert int(ds[0]["emg_mask"].sum()) == T - 7  # window 0 was marked as padded

    rng = np.random.default_rng(3)
    norm = NormStats(emg_mean=rng.standard_normal(C).astype(np.float32), emg_std=rng.uniform(0.5, 2, C).astype(np.float32),
                     angle_mean=rng.standard_normal(J).astype(np.float32), angle_std=rng.uniform(0.5, 2, J).astype(np.float32))
    dn = SyntheticWindowDataset(out, norm=norm, label_map={"fist": 0})
    it = dn[4]
    np.testing.assert_allclose(norm.denormalize_emg_ct(it["emg"].numpy()), emg[4], rtol=1e-5, atol=1e-5)
    expect_ang = np.where(mask[4][None], (ang[4] - norm.angle_mean[:, None]) / norm.angle_std[:, None], 0.0)
    np.testing.assert_allclose(it["angles"].numpy(), expect_ang, rtol=1e-5, atol=1e-6)
    assert set(dn.labels().tolist()) <= {0, -1} and (dn.labels() == 0).sum() == (labels["stage"] == "fist").sum()
