"""Synthetic-set Parquet format: round trip, streaming, partitioning, atomicity, plain-pandas reading, the
Parquet-only layout (metadata in the parts), row-group statistics, older sets, and one writer per output."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.parquet as pq
import pytest
import torch

from emgaug import lockfile
from emgaug.data.windows import NormStats, ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.synthesis import SyntheticWindowDataset, SyntheticWriter, iter_synthetic, read_metadata, read_synthetic
from emgaug.synthesis.parquet_io import data_sha256, is_synthetic_set, part_files
from emgaug.synthesis.schema import METADATA_FILE, METADATA_KEY, PART_KEY

REPO = Path(__file__).resolve().parents[1]
LEGACY_SET = REPO / "tests" / "fixtures" / "synthetic_set_v1_json"  # written by the writer of commit 0e38eaa

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


def _batches(batches=(5, 7, 1, 11)):
    rng = np.random.default_rng(0)
    start = 0
    for n in batches:
        yield _batch(rng, n, start)
        start += n


def _write(path, batches=(5, 7, 1, 11), row_group_bytes=2000, max_buffer_bytes=10_000, **kw):
    parts = []
    with SyntheticWriter(path, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta(),
                         row_group_bytes=row_group_bytes, max_buffer_bytes=max_buffer_bytes, **kw) as w:
        for b in _batches(batches):
            w.write_batch(b[0], b[1], b[3], angle_mask=b[2])
            parts.append(b)
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
    # the folder holds only Parquet part files (polars refuses a directory with any other file in it)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == sorted(
        f"{d}/part-0.parquet" for d in ("stage=fist", "stage=open%20hand%2Fwide", "stage=3"))
    assert not (out / METADATA_FILE).exists()
    meta = read_metadata(out)
    assert meta["model_name"] == "ridge" and meta["seed"] == 7 and meta["num_rows"] == len(labels)
    assert meta["rows_per_stage"] == labels["stage"].value_counts().sort_index().to_dict()
    records = []
    for f in out.glob("stage=*/*.parquet"):
        pf = pq.ParquetFile(f)
        assert pf.metadata.num_row_groups > 1  # tiny row groups were requested: rows were streamed, not held
        prov = pf.schema_arrow.metadata[METADATA_KEY]  # the provenance, in every part's schema metadata
        assert json.loads(prov)["seed"] == 7 and json.loads(prov)["checkpoint_sha256"] == "ab" * 32
        rec = json.loads(pf.metadata.metadata[PART_KEY])  # the part's own record, in its footer
        assert rec["part"] == f.relative_to(out).as_posix() and rec["part_rows"] == pf.metadata.num_rows
        assert rec["data_sha256"] == data_sha256(f) != hashlib.sha256(f.read_bytes()).hexdigest()
        assert rec["provenance_sha256"] == hashlib.sha256(prov).hexdigest()
        records.append(rec)
    # every part describes the whole set, so any one part shows what is missing
    assert len({r["set_id"] for r in records}) == 1
    assert all(r["partitions"] == meta["partitions"] and r["rows_per_stage"] == meta["rows_per_stage"] for r in records)
    assert is_synthetic_set(out) and not is_synthetic_set(tmp_path) and not is_synthetic_set(tmp_path / "nope")


def test_float_arrays_use_encodings_every_engine_reads_and_zstd(tmp_path):
    out = tmp_path / "syn"
    _write(out)
    for _, f in part_files(out):
        md = pq.ParquetFile(f).metadata
        names = [md.schema.column(i).path for i in range(md.num_columns)]
        for g in range(md.num_row_groups):
            for i, name in enumerate(names):
                col = md.row_group(g).column(i)
                assert col.compression == "ZSTD", name
                # no BYTE_STREAM_SPLIT: Spark 3.x's vectorised reader fails on it ("Unsupported encoding")
                assert set(col.encodings) <= {"PLAIN", "RLE", "RLE_DICTIONARY", "PLAIN_DICTIONARY"}, (name, col.encodings)
                if name.startswith(("emg.", "angles.")):
                    assert "PLAIN" in col.encodings and not col.encodings.count("RLE_DICTIONARY"), name


def test_row_group_statistics_let_filters_skip_row_groups(tmp_path):
    out = tmp_path / "syn"
    n = 60
    rng = np.random.default_rng(0)
    emg, ang, mask, labels = _batch(rng, n, 0)
    labels["stage"] = "fist"
    labels["user"] = [f"u{k // 20}" for k in range(n)]  # generation order: one user's windows are contiguous
    labels["filename"] = [f"file{k // 10}" for k in range(n)]
    with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta(), row_group_bytes=4000) as w:
        w.write_batch(emg, ang, labels, angle_mask=mask)
    f = part_files(out)[0][1]
    md = pq.ParquetFile(f).metadata
    assert md.num_row_groups >= 6
    names = [md.schema.column(i).path for i in range(md.num_columns)]
    for col in ("user", "filename", "row_id", "window_index", "session", "split", "start"):
        st = md.row_group(0).column(names.index(col)).statistics
        assert st is not None and st.has_min_max, col
    assert md.row_group(0).column(names.index("user")).statistics.max == "u0"
    frag = next(pads.dataset(out, format="parquet", partitioning="hive").get_fragments())
    for flt, rows in ((pads.field("user") == "u1", 20), (pads.field("filename") == "file3", 10),
                      (pads.field("user") == "nobody", 0)):
        kept = frag.split_by_row_group(flt)  # row groups whose statistics may match
        assert len(kept) < md.num_row_groups, flt
        assert sum(fr.count_rows(filter=flt) for fr in kept) == rows
    # the stage filter skips whole files (the partition folders) before any row group is opened
    ds = pads.dataset(out, format="parquet", partitioning="hive")
    assert len(list(ds.get_fragments(filter=pads.field("stage") == "click"))) == 0


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
        with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta(), overwrite=True) as w:
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


def test_an_empty_set_is_refused_and_nothing_is_left(tmp_path):
    with pytest.raises(EmgaugError, match="no windows were written"):
        with SyntheticWriter(tmp_path / "syn", emg_shape=(C, T), angle_shape=(J, TA), metadata=_meta()):
            pass
    assert list(tmp_path.iterdir()) == []  # no set, no temporary folder, no lock


def test_an_existing_set_is_replaced_only_with_overwrite(tmp_path):
    out = tmp_path / "syn"
    emg, _, _, _ = _write(out)
    with pytest.raises(EmgaugError, match="already exists.*--overwrite"):
        _write(out, batches=(3,))
    np.testing.assert_array_equal(read_synthetic(out).emg, emg)  # the first set is intact
    emg2, _, _, _ = _write(out, batches=(3,), overwrite=True)
    np.testing.assert_array_equal(read_synthetic(out).emg, emg2)
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(EmgaugError, match="not an emgaug synthetic set"):
        _write(other, overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes", "syn"]  # no lock or temporary left behind


def _rewrite(f: Path, fn=lambda t: t) -> None:
    """Rewrite a part the way a tool would: same schema metadata, Parquet footer written afresh."""
    t = pq.read_table(f)
    pq.write_table(fn(t), f)


@pytest.mark.parametrize("damage", ["swap", "other_set", "rewritten", "provenance", "rows_in_footer", "flip", "remove"])
def test_parts_are_checked_against_their_own_footer_records(tmp_path, damage):
    out = tmp_path / "syn"
    _write(out)
    parts = part_files(out)
    f1, f2 = parts[0][1], parts[1][1]
    if damage == "swap":  # stage labels come from the folder names: a swap relabels every window
        tmp = f1.with_suffix(".x")
        f1.rename(tmp)
        f2.rename(f1)
        tmp.rename(f2)
        match = "renamed or swapped"
    elif damage == "other_set":  # the same stage of another run of the same writer settings
        _write(tmp_path / "other")
        shutil.copy(part_files(tmp_path / "other")[0][1], f1)
        match = "another synthetic set"
    elif damage == "rewritten":
        _rewrite(f1, lambda t: t.slice(0, 1))
        match = "no emgaug part record"
    elif damage == "provenance":  # a footer edited by a tool that keeps the part record
        md = pq.ParquetFile(f1).metadata.metadata
        prov = json.loads(md[METADATA_KEY])
        prov["seed"] = 8
        t = pq.read_table(f1)
        pq.write_table(t.replace_schema_metadata({METADATA_KEY: json.dumps(prov)}), f1)
        pf = pq.ParquetFile(f1)
        w = pq.ParquetWriter(f1.with_suffix(".y"), pf.schema_arrow)
        w.write_table(pq.read_table(f1))
        w.add_key_value_metadata({PART_KEY: md[PART_KEY]})
        w.close()
        f1.with_suffix(".y").replace(f1)
        match = "provenance differs"
    elif damage == "rows_in_footer":
        md = pq.ParquetFile(f1).metadata.metadata
        w = pq.ParquetWriter(f1.with_suffix(".y"), pq.ParquetFile(f1).schema_arrow)
        w.write_table(pq.read_table(f1).slice(1))
        w.add_key_value_metadata({PART_KEY: md[PART_KEY]})
        w.close()
        f1.with_suffix(".y").replace(f1)
        match = "its writer wrote"
    elif damage == "flip":  # a byte in a data page: the data checksum (and the page CRC) catch it
        raw = bytearray(f1.read_bytes())
        meta = pq.ParquetFile(f1).metadata
        big = max((meta.row_group(0).column(i) for i in range(meta.num_columns)), key=lambda c: c.total_compressed_size)
        raw[big.data_page_offset + big.total_compressed_size // 2] ^= 0x40
        f1.write_bytes(bytes(raw))
        match = "SHA-256 differs"
    else:
        shutil.rmtree(f2.parent)
        match = "missing stage="
    with pytest.raises(EmgaugError, match=match) as e:
        read_synthetic(out)
    assert "\n" not in str(e.value) and "re-run `emgaug synthesize`" in str(e.value)
    with pytest.raises(EmgaugError, match=match):
        next(iter_synthetic(out))


def test_sets_of_the_older_layout_still_read():
    """A set written before the Parquet-only layout (root _emgaug_metadata.json, BYTE_STREAM_SPLIT floats, snappy)."""
    assert (LEGACY_SET / METADATA_FILE).is_file() and is_synthetic_set(LEGACY_SET)
    emg = np.concatenate([b[0] for b in _batches()])
    ang = np.concatenate([b[1] for b in _batches()])
    labels = pd.concat([b[3] for b in _batches()], ignore_index=True)
    s = read_synthetic(LEGACY_SET)
    np.testing.assert_array_equal(s.emg, emg)
    np.testing.assert_array_equal(s.angles, ang)
    assert s.labels["stage"].tolist() == labels["stage"].tolist()
    assert s.metadata["part_sha256"] and s.metadata["seed"] == 7
    assert sum(len(e) for e, _, _ in iter_synthetic(LEGACY_SET, batch_windows=4)) == len(emg)


def test_older_layout_sets_keep_their_checksum_checks(tmp_path):
    legacy = Path(shutil.copytree(LEGACY_SET, tmp_path / "old"))
    (s1, f1), (s2, f2) = part_files(legacy)[:2]
    tmp = f1.with_suffix(".x")
    f1.rename(tmp)
    f2.rename(f1)
    tmp.rename(f2)
    with pytest.raises(EmgaugError, match="SHA-256 differs"):
        read_synthetic(legacy)


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


# one writer per output ------------------------------------------------------------------------------------------
WRITER = textwrap.dedent('''
    import sys, time
    from pathlib import Path
    import numpy as np
    import pandas as pd
    from emgaug.errors import EmgaugError
    from emgaug.synthesis import SyntheticWriter

    out, gate, seed, overwrite = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), sys.argv[4] == "1"
    C, T, J, TA, n = 3, 40, 4, 8, 6
    rng = np.random.default_rng(seed)
    emg = rng.standard_normal((2 * n, C, T)).astype(np.float32)
    labels = pd.DataFrame({"stage": ["fist", "open"] * n, "user": f"u{seed}", "session": "s", "side": "right",
                           "filename": "f", "split": "train", "start": np.arange(2 * n) * T,
                           "stop": np.arange(2 * n) * T + T, "sample_index": 0, "window_index": np.arange(2 * n)})
    try:
        with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(J, TA), metadata={"sample_rate": 100.0, "seed": seed},
                             row_group_bytes=1000, overwrite=overwrite) as w:
            w.write_batch(emg[:n], np.zeros((n, J, TA), np.float32), labels[:n])
            (gate / f"writing-{seed}").touch()
            deadline = time.time() + 60
            while gate.name != "nowait" and not (gate / "go").exists() and time.time() < deadline:
                time.sleep(0.02)
            w.write_batch(emg[n:], np.zeros((n, J, TA), np.float32), labels[n:].reset_index(drop=True))
    except EmgaugError as e:
        print(e)
        sys.exit(2)
    np.save(gate / f"emg-{seed}.npy", emg)
''')


def _writer(out: Path, gate: Path, seed: int, overwrite: bool = False) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", WRITER, str(out), str(gate), str(seed), "1" if overwrite else "0"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"writer exited early ({proc.returncode}): {proc.communicate()}")
        assert time.time() < deadline, f"{path} never appeared"
        time.sleep(0.02)


def _emg_by_row(out: Path) -> np.ndarray:
    return read_synthetic(out).emg


def test_a_concurrent_second_writer_is_refused_in_one_line_and_the_first_set_is_intact(tmp_path):
    out, gate = tmp_path / "syn", tmp_path / "gate"
    gate.mkdir()
    first = _writer(out, gate, seed=1)
    try:
        _wait_for(gate / "writing-1", first)  # the first writer holds the lock and has rows on disk
        lock = lockfile.lock_path(out)
        assert lock.read_text().strip() == f"{first.pid}@{socket.gethostname()}"
        # a second writer process (even with --overwrite) is refused at the writer, in one line
        second = _writer(out, gate, seed=2, overwrite=True)
        so, se = second.communicate(timeout=60)
        assert second.returncode == 2 and not (gate / "writing-2").exists(), (so, se)
        assert so.count("\n") == 1 and "in use by another emgaug run" in so and f"{first.pid}@" in so and se == ""
        # the command refuses before loading anything (the manifest named here does not even exist)
        cli = subprocess.run([sys.executable, "-m", "emgaug", "synthesize", "--oracle-real", "--manifest",
                              str(tmp_path / "none.json"), "--out", str(out), "--overwrite"],
                             capture_output=True, text=True, cwd=REPO, timeout=120)
        text = (cli.stdout + cli.stderr).strip()
        assert cli.returncode == 2 and "in use by another emgaug run" in text and "\n" not in text, text
    finally:
        (gate / "go").touch()
        so, se = first.communicate(timeout=60)
    assert first.returncode == 0, (so, se)
    np.testing.assert_array_equal(np.sort(_emg_by_row(out).ravel()), np.sort(np.load(gate / "emg-1.npy").ravel()))
    assert read_metadata(out)["seed"] == 1 and set(read_synthetic(out).labels["user"]) == {"u1"}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gate", "syn"]  # lock released, no temporaries left
    # a writer that started before the first finished and reaches the write after it: refused, nothing replaced
    late = _writer(out, tmp_path / "nowait", seed=3)
    so, _ = late.communicate(timeout=60)
    assert late.returncode == 2 and "already exists" in so
    assert read_metadata(out)["seed"] == 1


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_note(tmp_path, caplog):
    out = tmp_path / "syn"
    dead = subprocess.run([sys.executable, "-c", "import os, signal, sys\nfrom emgaug import lockfile\n"
                           "lockfile.acquire(sys.argv[1])\nos.kill(os.getpid(), signal.SIGKILL)", str(out)], cwd=REPO)
    assert dead.returncode == -signal.SIGKILL
    lock = lockfile.lock_path(out)
    owner = lock.read_text().strip()
    assert owner.endswith(f"@{socket.gethostname()}")  # left behind by the killed process
    with caplog.at_level("WARNING", logger="emgaug.lockfile"):
        emg, _, _, _ = _write(out)
    assert "took over the stale lock" in caplog.text and owner in caplog.text and "no longer running" in caplog.text
    np.testing.assert_array_equal(read_synthetic(out).emg, emg)
    assert not lock.exists()


def test_a_lock_of_another_host_is_never_taken_over(tmp_path):
    out = tmp_path / "syn"
    lock = lockfile.lock_path(out)
    lock.write_text("4242@another-node\n")
    for attempt in (lambda: _write(out), lambda: lockfile.check_unlocked(out)):
        with pytest.raises(EmgaugError, match=r"in use by another emgaug run \(4242@another-node.*delete .*\.syn\.lock"):
            attempt()
    assert lock.read_text() == "4242@another-node\n" and not out.exists()


def test_a_takeover_that_lost_the_race_restores_the_live_lock(tmp_path):
    """Two processes judge the same lock stale; the first takes it over and writes its own: the second's takeover
    must notice that the file it renamed aside is no longer the stale one and put it back."""
    lock = lockfile.lock_path(tmp_path / "syn")
    lock.write_text("999999@somewhere\n")
    stale_owner, stale_st = lockfile._read(lock)
    lock.unlink()  # the first contender removed the stale lock ...
    lock.write_text(f"{os.getpid() + 1}@{socket.gethostname()}\n")  # ... and wrote its own (a new file)
    assert not lockfile._take_over(lock, stale_owner, stale_st)
    assert lock.read_text().startswith(f"{os.getpid() + 1}@")
    assert [p.name for p in tmp_path.iterdir()] == [lock.name]  # nothing left aside
