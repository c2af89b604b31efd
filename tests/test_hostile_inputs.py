"""Hostile datasets and manifests: every case ends with exit code 2 and one 'error:' line naming the file and the
fix, never a traceback, and nothing outside the dataset folder is ever read (issue 16)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest

from emgaug import cli
from emgaug.data.emg2pose import ANGLES_FIELD, EMG_FIELD, GROUP, TIMESERIES


def run_cli(capsys, *args: str) -> tuple[int, str]:
    """Run one command in-process; return (exit code, output with rich's wrapping undone)."""
    code = cli.run([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return code, text


def refused(capsys, *args: str) -> str:
    """The command must exit 2 and end with exactly one 'error:' line; return that line."""
    code, text = run_cli(capsys, *args)
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert code == 2 and len(errors) == 1 and lines[-1] == errors[0], text
    return errors[0]


@pytest.fixture()
def data(sim_root, tmp_path) -> Path:
    """A private copy of the tiny simulated dataset (tests edit it)."""
    return Path(shutil.copytree(sim_root, tmp_path / "data"))


def edit_metadata(root: Path, fn) -> pd.DataFrame:
    df = pd.read_csv(root / "metadata.csv", dtype=str, keep_default_na=False)
    df = fn(df)
    df.to_csv(root / "metadata.csv", index=False)
    return df


# --- path traversal and aliases through metadata.csv -------------------------------------------------------------
def test_a_filename_climbing_out_of_the_dataset_is_refused(data, tmp_path, capsys):
    outside = tmp_path / "outside"
    outside.mkdir()
    first = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    shutil.copy(data / f"{first}.hdf5", outside / "secret.hdf5")
    edit_metadata(data, lambda df: df.assign(filename=df["filename"].where(df.index != 3, "../outside/secret")))
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert "line 5" in line and "outside the dataset folder" in line and "../outside/secret" in line
    assert not (tmp_path / "m.json").exists()


def test_a_filename_pointing_outside_at_a_missing_file_is_still_called_outside(data, tmp_path, capsys):
    edit_metadata(data, lambda df: df.assign(filename=df["filename"].where(df.index != 0, "../../nowhere/x")))
    assert "outside the dataset folder" in refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")


def test_an_absolute_filename_is_refused(data, tmp_path, capsys):
    target = str((data / pd.read_csv(data / "metadata.csv", dtype=str)["filename"][1]).resolve()) + ".hdf5"
    edit_metadata(data, lambda df: df.assign(filename=df["filename"].where(df.index != 0, target)))
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert "line 2" in line and "absolute path" in line


def test_a_symlink_pointing_outside_the_dataset_is_refused(data, tmp_path, capsys):
    name = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][2]
    outside = tmp_path / "elsewhere.hdf5"
    shutil.move(data / f"{name}.hdf5", outside)
    os.symlink(outside, data / f"{name}.hdf5")
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert "outside the dataset folder" in line and "symlinks are followed" in line


def test_a_dataset_folder_that_is_itself_a_symlink_works(data, tmp_path, capsys):
    link = tmp_path / "link"
    os.symlink(data, link)
    code, text = run_cli(capsys, "split", "--data", link, "--out", tmp_path / "m.json", "--use-metadata-columns")
    assert code == 0, text


@pytest.mark.parametrize("alias", ["{f}.hdf5", "./{f}", "./{f}.hdf5", "sub/../{f}"])
def test_aliases_of_one_file_are_refused_naming_both_rows(data, tmp_path, capsys, alias):
    (data / "sub").mkdir()
    first = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    edit_metadata(data, lambda df: pd.concat([df, df.iloc[[0]].assign(filename=alias.format(f=first))], ignore_index=True))
    n = len(pd.read_csv(data / "metadata.csv"))
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert f"lines 2 ({first!r}) and {n + 1}" in line and "name the same file" in line


def test_a_symlink_alias_inside_the_dataset_is_refused(data, tmp_path, capsys):
    first = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    os.symlink(data / f"{first}.hdf5", data / "alias.hdf5")
    edit_metadata(data, lambda df: pd.concat([df, df.iloc[[0]].assign(filename="alias")], ignore_index=True))
    assert "name the same file" in refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")


def test_a_literal_duplicate_row_names_both_lines(data, tmp_path, capsys):
    edit_metadata(data, lambda df: pd.concat([df, df.iloc[[1]]], ignore_index=True))
    n = len(pd.read_csv(data / "metadata.csv"))
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert f"lines 3 and {n + 1}" in line


# --- non-finite values in the data -----------------------------------------------------------------------------
def poison(path: Path, field: str, rows: slice, channel: int, value: float) -> None:
    with h5py.File(path, "r+") as f:
        ds = f[GROUP][TIMESERIES]
        block = ds[rows]
        block[field][:, channel] = value
        ds[rows] = block


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_emg_is_refused_naming_file_channel_and_rows(data, tmp_path, capsys, value):
    from emgaug.data.source import open_source
    from emgaug.data.splits import make_split

    victim = make_split(open_source(data), "cross-subject", seed=0, use_metadata_columns=False).splits["train"][0]["filename"]
    poison(data / f"{victim}.hdf5", EMG_FIELD, slice(100, 140), 5, value)  # before the split: its fingerprint agrees
    make_split(open_source(data), "cross-subject", seed=0, use_metadata_columns=False).save(tmp_path / "m.json")
    line = refused(capsys, "train", "--manifest", tmp_path / "m.json", "--model", "ridge", "--out", tmp_path / "run",
                   "--window-s", "0.2", "--device", "cpu")
    assert victim in line and "EMG channel 5" in line and "rows 100:140" in line
    assert not (tmp_path / "run" / "last.pt").exists()


def test_infinite_angles_are_masked_like_ik_failures(data):
    from emgaug.data.emg2pose import Emg2PoseReader

    name = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    poison(data / f"{name}.hdf5", ANGLES_FIELD, slice(10, 20), 3, np.inf)
    emg, ang = Emg2PoseReader(str(data / f"{name}.hdf5")).read(0, 50)
    assert np.isnan(ang[10:20, 3]).all() and np.isfinite(ang[:10]).all() and np.isfinite(emg).all()


@pytest.mark.parametrize("value", ["abc", 0.0, -2000.0, np.nan, np.inf])
def test_a_bad_sample_rate_attribute_is_refused(data, tmp_path, capsys, value):
    name = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    with h5py.File(data / f"{name}.hdf5", "r+") as f:
        f[GROUP].attrs["sample_rate"] = value
    line = refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
    assert name in line and "sample_rate" in line


def test_a_truncated_hdf5_file_is_refused(data, tmp_path, capsys):
    name = pd.read_csv(data / "metadata.csv", dtype=str)["filename"][0]
    f = data / f"{name}.hdf5"
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])
    assert name in refused(capsys, "split", "--data", data, "--out", tmp_path / "m.json")
