"""Damaged artefacts emgaug reads back (checkpoints, Parquet synthetic sets, manifests) are refused with one line
naming the file and the fix; NaN/inf never flows on silently (issue 16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import torch

from emgaug import cli
from emgaug.errors import EmgaugError
from emgaug.synthesis.parquet_io import SyntheticWriter, part_files, read_synthetic
from emgaug.training.checkpoint import read_checkpoint
from emgaug.training.trainer import train_model
from emgaug.data.windows import WindowConfig


def refused(capsys, *args) -> str:
    code = cli.run([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 2 and "Traceback" not in text and len(errors) == 1 and lines[-1] == errors[0], text
    return errors[0]


@pytest.fixture(scope="module")
def ridge_ckpt(sim_manifest, tmp_path_factory) -> Path:
    return train_model(sim_manifest, "ridge", tmp_path_factory.mktemp("ck") / "ridge", epochs=1, batch_size=16,
                       profile="fast", device="cpu", window_cfg=WindowConfig(window_s=0.2, stride_s=0.2),
                       max_train_windows=16, max_val_windows=4, quiet=True)


def test_a_checkpoint_with_nan_weights_is_refused_at_load(ridge_ckpt, tmp_path, capsys):
    ck = torch.load(ridge_ckpt, weights_only=True)
    name = next(k for k, v in ck["model_state"].items() if torch.is_tensor(v) and v.is_floating_point() and v.numel())
    ck["model_state"][name] = ck["model_state"][name].clone().reshape(-1).index_fill(0, torch.tensor([0]), float("nan")) \
        .reshape(ck["model_state"][name].shape)
    bad = tmp_path / "bad.pt"
    torch.save(ck, bad)
    with pytest.raises(EmgaugError, match=f"weight {name} holds NaN/inf"):
        read_checkpoint(bad)
    line = refused(capsys, "synthesize", "--checkpoint", bad, "--out", tmp_path / "syn")
    assert "bad.pt" in line and "NaN/inf" in line and not (tmp_path / "syn").exists()


def test_a_checkpoint_with_infinite_normalisation_is_refused(ridge_ckpt, tmp_path):
    ck = torch.load(ridge_ckpt, weights_only=True)
    ck["norm"]["emg_std"][0] = float("inf")
    torch.save(ck, tmp_path / "bad.pt")
    with pytest.raises(EmgaugError, match="emg_std is not a finite vector"):
        read_checkpoint(tmp_path / "bad.pt")


def write_set(out: Path, emg: np.ndarray) -> Path:
    n, C, T = emg.shape
    labels = pd.DataFrame({"stage": ["click"] * (n // 2) + ["fist"] * (n - n // 2), "user": "u", "session": "s",
                           "side": "right", "filename": "f", "split": "train", "start": np.arange(n) * T,
                           "stop": np.arange(n) * T + T, "sample_index": 0, "window_index": np.arange(n)})
    with SyntheticWriter(out, emg_shape=(C, T), angle_shape=(2, 4), metadata={"sample_rate": 100.0}) as w:
        w.write_batch(emg, np.zeros((n, 2, 4), np.float32), labels)
    return out


@pytest.fixture()
def good_set(tmp_path) -> Path:
    rng = np.random.default_rng(0)
    return write_set(tmp_path / "good", rng.standard_normal((12, 3, 40)).astype(np.float32))


def test_nan_emg_in_a_synthetic_set_is_refused_naming_part_channel_and_rows(tmp_path):
    emg = np.random.default_rng(0).standard_normal((12, 3, 40)).astype(np.float32)
    emg[7:9, 2, 5] = np.nan  # rows 7, 8 are the 2nd and 3rd windows of the 'fist' part (rows 6..11)
    path = write_set(tmp_path / "nan", emg)
    with pytest.raises(EmgaugError) as e:
        read_synthetic(path)
    msg = str(e.value)
    assert "stage=fist" in msg and "EMG channel 2" in msg and "rows 1:3 of this part" in msg and "\n" not in msg


def test_a_flipped_byte_in_a_part_file_is_refused(good_set):
    read_synthetic(good_set)  # intact
    f = part_files(good_set)[0][1]
    raw = bytearray(f.read_bytes())
    meta = pq.ParquetFile(f).metadata
    # flip a byte in the middle of the largest column chunk: the EMG values' data pages
    chunks = [meta.row_group(0).column(i) for i in range(meta.num_columns)]
    big = max(chunks, key=lambda c: c.total_compressed_size)
    raw[big.data_page_offset + big.total_compressed_size // 2] ^= 0x40
    f.write_bytes(bytes(raw))
    with pytest.raises(EmgaugError, match="SHA-256 differs"):
        read_synthetic(good_set)
    # a set of the older layout (root JSON) written before per-part checksums: the Parquet page CRCs still catch it
    from emgaug.synthesis.parquet_io import LAYOUT_KEYS, read_metadata
    from emgaug.synthesis.schema import METADATA_FILE

    meta = {k: v for k, v in read_metadata(good_set).items() if k not in LAYOUT_KEYS}
    (good_set / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(EmgaugError, match="unreadable or inconsistent part file"):
        read_synthetic(good_set)


@pytest.mark.parametrize("damage", ["truncate", "drop_column", "metadata_json", "no_parts", "bad_shape"])
def test_malformed_synthetic_sets_are_one_line_errors(good_set, damage):
    from emgaug.synthesis.schema import METADATA_FILE

    f = part_files(good_set)[0][1]
    if damage == "truncate":
        f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    elif damage == "drop_column":
        t = pq.read_table(f)
        pq.write_table(t.drop(["emg"]), f)
    elif damage == "metadata_json":  # a corrupt root JSON (the older layout's metadata file)
        (good_set / METADATA_FILE).write_text("{not json")
    elif damage == "no_parts":
        for _, p in part_files(good_set):
            shutil.rmtree(p.parent)
    elif damage == "bad_shape":
        from emgaug.synthesis.parquet_io import read_metadata

        meta = read_metadata(good_set)
        meta["emg_shape"] = [3, -40]
        (good_set / METADATA_FILE).write_text(json.dumps(meta))
    with pytest.raises(EmgaugError) as e:
        read_synthetic(good_set)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("damage", ["swap_parts", "remove_part", "extra_part", "emptied_part"])
def test_parts_must_match_the_checksums_and_counts_in_the_metadata(good_set, damage):
    parts = part_files(good_set)
    (_s1, f1), (_s2, f2) = parts[0], parts[1]
    if damage == "swap_parts":  # stage labels come from the folder names: a swap relabels every window
        tmp = f1.with_suffix(".x")
        f1.rename(tmp)
        f2.rename(f1)
        tmp.rename(f2)
    elif damage == "remove_part":
        shutil.rmtree(f2.parent)
    elif damage == "extra_part":
        (good_set / "stage=pinch").mkdir()
        shutil.copy(f1, good_set / "stage=pinch" / f1.name)
    elif damage == "emptied_part":
        t = pq.read_table(f1)
        pq.write_table(t.slice(0, 0), f1)
    with pytest.raises(EmgaugError) as e:
        read_synthetic(good_set)
    assert "re-run `emgaug synthesize`" in str(e.value) and "\n" not in str(e.value)
