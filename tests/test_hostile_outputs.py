"""Outputs never delete or overwrite what emgaug did not write, and temporaries of killed runs are cleaned up by
the next run of the same output (issue 16)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from emgaug import cli
from emgaug.atomic import atomic_path, clean_stale, write_json_atomic
from emgaug.data.simulate import MARKER

SMALL = ["--users", "1", "--sessions", "1", "--reps", "1", "--stages", "click"]


def run_cli(capsys, *args) -> tuple[int, str]:
    code = cli.run([str(a) for a in args])
    out = capsys.readouterr()
    text = out.out + out.err
    assert "Traceback" not in text, text
    return code, text


def last_error(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], text
    return errors[0]


# --- emgaug simulate --out ----------------------------------------------------------------------------------------
def test_simulate_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    notes = tmp_path / "notes"
    notes.mkdir()
    (notes / "thesis.txt").write_text("years of work")
    for extra in ([], ["--overwrite"]):
        code, text = run_cli(capsys, "simulate", "--out", notes, *SMALL, *extra)
        assert code == 2 and "not a dataset written by `emgaug simulate`" in last_error(text)
    assert (notes / "thesis.txt").read_text() == "years of work"
    assert sorted(p.name for p in notes.iterdir()) == ["thesis.txt"]


def test_simulate_refuses_a_file(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code, text = run_cli(capsys, "simulate", "--out", f, *SMALL, "--overwrite")
    assert code == 2 and "not a folder" in last_error(text) and f.read_text() == "x"


def test_simulate_keeps_the_same_dataset_and_replaces_its_own_only_with_overwrite(tmp_path, capsys):
    out = tmp_path / "sim"
    assert run_cli(capsys, "simulate", "--out", out, *SMALL)[0] == 0
    marker = json.loads((out / MARKER).read_text())
    assert marker["params"]["seed"] == 0 and set(marker["files"]) == {p.name for p in out.glob("*.hdf5")}
    before = {p.name: p.stat().st_mtime_ns for p in out.iterdir()}
    code, text = run_cli(capsys, "simulate", "--out", out, *SMALL)  # same settings: nothing to do (resumable pipelines)
    assert code == 0 and "kept it" in text
    assert {p.name: p.stat().st_mtime_ns for p in out.iterdir()} == before
    code, text = run_cli(capsys, "simulate", "--out", out, *SMALL, "--seed", "1")
    assert code == 2 and "pass --overwrite" in last_error(text)
    assert json.loads((out / MARKER).read_text())["params"]["seed"] == 0
    assert run_cli(capsys, "simulate", "--out", out, *SMALL, "--seed", "1", "--overwrite")[0] == 0
    assert json.loads((out / MARKER).read_text())["params"]["seed"] == 1


def test_simulate_overwrite_never_deletes_files_added_to_its_dataset(tmp_path, capsys):
    out = tmp_path / "sim"
    assert run_cli(capsys, "simulate", "--out", out, *SMALL)[0] == 0
    (out / "my_notes.md").write_text("keep me")
    code, text = run_cli(capsys, "simulate", "--out", out, *SMALL, "--seed", "2", "--overwrite")
    assert code == 2 and "my_notes.md" in last_error(text)
    assert (out / "my_notes.md").read_text() == "keep me"


def test_simulate_recognises_a_dataset_written_before_markers(tmp_path, capsys):
    out = tmp_path / "sim"
    assert run_cli(capsys, "simulate", "--out", out, *SMALL)[0] == 0
    (out / MARKER).unlink()  # as an older emgaug left it
    code, text = run_cli(capsys, "simulate", "--out", out, *SMALL)
    assert code == 2 and "older emgaug" in last_error(text)
    assert run_cli(capsys, "simulate", "--out", out, *SMALL, "--overwrite")[0] == 0
    assert (out / MARKER).is_file()


def test_simulate_into_an_empty_folder_is_fine(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert run_cli(capsys, "simulate", "--out", tmp_path / "empty", *SMALL)[0] == 0


# --- emgaug split --out -------------------------------------------------------------------------------------------
def test_split_never_overwrites_the_datasets_metadata_csv(sim_root, tmp_path, capsys):
    import shutil

    data = Path(shutil.copytree(sim_root, tmp_path / "data"))
    before = (data / "metadata.csv").read_bytes()
    code, text = run_cli(capsys, "split", "--data", data, "--out", data / "metadata.csv")
    assert code == 2 and "is not a split manifest" in last_error(text)
    assert (data / "metadata.csv").read_bytes() == before


def test_split_replaces_its_own_manifest_and_refuses_a_folder(sim_root, tmp_path, capsys):
    out = tmp_path / "m.json"
    args = ["split", "--data", sim_root, "--no-use-metadata-columns"]
    assert run_cli(capsys, *args, "--out", out)[0] == 0
    assert run_cli(capsys, *args, "--out", out, "--seed", "1")[0] == 0
    assert json.loads(out.read_text())["seed"] == 1
    code, text = run_cli(capsys, *args, "--out", tmp_path)
    assert code == 2 and "is a folder" in last_error(text)
    (tmp_path / "file").write_text("x")
    code, text = run_cli(capsys, *args, "--out", tmp_path / "file" / "m.json")
    assert code == 2 and "is a file, not a folder" in last_error(text)


def test_train_refuses_an_out_that_is_a_file(sim_manifest, tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("x")
    code, text = run_cli(capsys, "train", "--manifest", sim_manifest, "--model", "ridge", "--out", f)
    assert code == 2 and "not a folder" in last_error(text) and f.read_text() == "x"


# --- temporaries of killed runs ------------------------------------------------------------------------------------
def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_the_next_write_removes_temporaries_of_killed_writers_only(tmp_path):
    from emgaug.atomic import _host_tag

    final = tmp_path / "last.pt"
    dead = f".last.pt.tmp-{_dead_pid()}@{_host_tag()}-abc"
    alive = f".last.pt.tmp-{os.getppid()}@{_host_tag()}-def"  # a running process (e.g. a concurrent run)
    other_host = f".last.pt.tmp-{_dead_pid()}@00000000-ghi"
    old_dir = f".last.pt.tmp-{_dead_pid()}@{_host_tag()}-dir"
    legacy_old, legacy_new = ".last.pt.tmp-x1y2z3", ".last.pt.tmp-a1b2c3"
    unrelated = ".best.pt.tmp-123@00000000-x"
    for name in (dead, alive, other_host, legacy_old, legacy_new, unrelated):
        (tmp_path / name).write_bytes(b"partial")
    (tmp_path / old_dir).mkdir()
    (tmp_path / old_dir / "big").write_bytes(b"x" * 1000)
    hour_ago = time.time() - 7200
    os.utime(tmp_path / legacy_old, (hour_ago, hour_ago))
    write_json_atomic(final, {"epoch": 3})
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([alive, other_host, legacy_new, unrelated, "last.pt"])


def test_a_replacement_killed_between_its_renames_gets_the_old_result_back(tmp_path):
    from emgaug.atomic import _host_tag

    final = tmp_path / "set"
    stranded = tmp_path / f".set.old-{_dead_pid()}@{_host_tag()}-aaaaaa"
    stranded.mkdir()
    (stranded / "part.parquet").write_text("old result")
    assert clean_stale(final) == [stranded]
    assert (final / "part.parquet").read_text() == "old result"


def test_a_killed_simulate_leaves_a_temporary_that_the_next_run_removes(tmp_path):
    out = tmp_path / "sim"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    p = subprocess.Popen([sys.executable, "-m", "emgaug", "simulate", "--out", str(out), "--users", "4"], env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".sim.tmp-*/*.hdf5")):
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.1)
    p.kill()
    p.wait()
    assert list(tmp_path.glob(".sim.tmp-*")) and not out.exists()
    assert cli.run(["simulate", "--out", str(out), *SMALL]) == 0
    assert not list(tmp_path.glob(".sim.tmp-*")) and out.is_dir()


def test_atomic_path_still_cleans_its_own_temporary_on_error(tmp_path):
    with pytest.raises(RuntimeError):
        with atomic_path(tmp_path / "x.json") as tmp:
            tmp.write_text("half")
            raise RuntimeError
    assert list(tmp_path.iterdir()) == []
