"""Manifests: they work from any working directory, and edited or damaged ones are refused with one line
(the leakage check holds for the data, not only for the entries' own labels) (issue 16)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from emgaug import cli
from emgaug.data.manifest import load_manifest
from emgaug.data.source import open_source
from emgaug.data.splits import make_split
from emgaug.errors import EmgaugError


@pytest.fixture()
def moved(sim_root, tmp_path) -> tuple[Path, Path]:
    """A project folder holding data/ and manifests/m.json written with relative paths from the project folder."""
    project = tmp_path / "project"
    shutil.copytree(sim_root, project / "data")
    return project, project / "manifests" / "m.json"


def test_a_manifest_works_from_any_working_directory(moved, tmp_path, monkeypatch):
    project, mpath = moved
    monkeypatch.chdir(project)
    make_split(open_source(Path("data")), "cross-subject", seed=0, use_metadata_columns=False).save(Path("manifests/m.json"))
    d = json.loads(mpath.read_text())
    assert d["source"]["root"] == "data" and d["source"]["root_from_manifest"] == "../data"
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    m = load_manifest(mpath)
    assert m.recordings("train") and m.data_source.root.resolve() == (project / "data").resolve()
    # the project moved as a whole: still found through the manifest-relative root
    shutil.move(project, tmp_path / "renamed")
    m = load_manifest(tmp_path / "renamed" / "manifests" / "m.json")
    assert m.recordings("test")


def test_a_manifest_without_a_relative_root_is_found_above_its_folder(moved, tmp_path, monkeypatch):
    """Manifests written before roots were stored relative to them (e.g. the committed data_manifests/ ones)."""
    project, mpath = moved
    monkeypatch.chdir(project)
    make_split(open_source(Path("data")), "cross-subject", seed=0, use_metadata_columns=False).save(mpath)
    d = json.loads(mpath.read_text())
    del d["source"]["root_from_manifest"]
    mpath.write_text(json.dumps(d))
    monkeypatch.chdir(tmp_path)
    assert load_manifest(mpath).recordings("train")


def test_a_missing_dataset_folder_is_one_line(moved, monkeypatch):
    project, mpath = moved
    monkeypatch.chdir(project)
    make_split(open_source(Path("data")), "cross-subject", seed=0, use_metadata_columns=False).save(mpath)
    shutil.rmtree(project / "data")
    with pytest.raises(EmgaugError, match="dataset folder data not found"):
        load_manifest(mpath).recordings("train")


@pytest.fixture()
def manifest_dict(sim_manifest) -> dict:
    return json.loads(Path(sim_manifest).read_text())


def _write(tmp_path: Path, d: dict) -> Path:
    p = tmp_path / "edited.json"
    p.write_text(json.dumps(d))
    return p


def test_a_test_entry_moved_into_train_and_relabelled_is_refused(manifest_dict, tmp_path, capsys):
    d = manifest_dict
    e = d["splits"]["test"].pop(0)
    e["user"] = d["splits"]["train"][0]["user"]  # relabelled so the leakage check on labels passes
    d["splits"]["train"].append(e)
    p = _write(tmp_path, d)
    code = cli.run(["train", "--manifest", str(p), "--model", "ridge", "--out", str(tmp_path / "r"), "--device", "cpu"])
    out = capsys.readouterr().out
    assert code == 2 and "the manifest was edited" in out and "says user" in out and "Traceback" not in out


def test_an_entry_whose_key_is_changed_to_another_file_is_refused(manifest_dict, tmp_path):
    d = manifest_dict
    d["splits"]["train"][0]["key"] = d["splits"]["test"][0]["key"]
    with pytest.raises(EmgaugError, match="the manifest was edited"):
        load_manifest(_write(tmp_path, d)).recordings("train")


def test_rows_beyond_the_recording_are_refused(manifest_dict, tmp_path):
    d = manifest_dict
    d["splits"]["train"][0]["stop"] += 10_000
    with pytest.raises(EmgaugError, match="outside the recording"):
        load_manifest(_write(tmp_path, d)).recordings("val")


@pytest.mark.parametrize("edit, needle", [
    (lambda d: d.update(splits=[]), "'splits' is not an object"),
    (lambda d: d["splits"]["train"][0].pop("stop"), "lacks stop"),
    (lambda d: d["splits"]["train"][0].update(start="0"), "not a row number"),
    (lambda d: d["splits"]["train"][0].update(start=-5), "not a row number"),
    (lambda d: d.update(seed="zero"), "'seed' is not an integer"),
    (lambda d: d["source"].pop("root"), "lacks a dataset 'root'"),
    (lambda d: d.update(protocol="leaky"), "unknown protocol"),
    (lambda d: d["params"].update(gap_rows=None), "gap_rows"),
    (lambda d: d["splits"].update(test=[None]), "not an object"),
])
def test_damaged_manifests_are_one_line_errors(manifest_dict, tmp_path, edit, needle):
    edit(manifest_dict)
    with pytest.raises(EmgaugError) as e:
        load_manifest(_write(tmp_path, manifest_dict))
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_a_manifest_that_is_not_json_or_not_an_object(tmp_path):
    (tmp_path / "a.json").write_bytes(b"\xff\xfe[1,2")
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(EmgaugError, match="not valid JSON"):
        load_manifest(tmp_path / "a.json")
    with pytest.raises(EmgaugError, match="not a JSON object"):
        load_manifest(tmp_path / "b.json")


# --- files changed after the split --------------------------------------------------------------------------------
@pytest.fixture()
def own_split(sim_root, tmp_path) -> tuple[Path, Path]:
    data = Path(shutil.copytree(sim_root, tmp_path / "data"))
    m = make_split(open_source(data), "cross-subject", seed=0, use_metadata_columns=False).save(tmp_path / "m.json")
    return data, m


def test_the_manifest_fingerprints_every_file_it_names(own_split):
    data, mpath = own_split
    d = json.loads(mpath.read_text())
    names = {e["filename"] for es in d["splits"].values() for e in es}
    assert set(d["fingerprints"]) == names
    assert all(set(fp) == {"size", "sha256_sampled"} for fp in d["fingerprints"].values())


@pytest.mark.parametrize("change", ["swap", "truncate", "append"])
def test_a_file_changed_after_the_split_is_refused(own_split, tmp_path, capsys, change):
    data, mpath = own_split
    d = json.loads(mpath.read_text())
    a, b = d["splits"]["train"][0]["filename"], d["splits"]["test"][0]["filename"]
    fa, fb = data / f"{a}.hdf5", data / f"{b}.hdf5"
    if change == "swap":  # same names, other contents: test EMG would be trained on
        tmp = tmp_path / "x"
        fa.rename(tmp)
        fb.rename(fa)
        tmp.rename(fb)
    elif change == "truncate":
        fa.write_bytes(fa.read_bytes()[:-100])
    else:
        with open(fa, "ab") as f:
            f.write(b"\0" * 10)
    code = cli.run(["train", "--manifest", str(mpath), "--model", "ridge", "--out", str(tmp_path / "r"), "--device",
                    "cpu"])
    out = " ".join(capsys.readouterr().out.split())
    assert code == 2 and "Traceback" not in out
    assert "changed since the split was made" in out or (change == "truncate" and "corrupt or truncated" in out)


def test_a_manifest_without_fingerprints_still_loads(own_split):
    data, mpath = own_split
    d = json.loads(mpath.read_text())
    del d["fingerprints"]
    mpath.write_text(json.dumps(d))
    assert load_manifest(mpath).recordings("train")
