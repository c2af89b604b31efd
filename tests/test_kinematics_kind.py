"""Generators declare what they are conditioned on (issue 15 item 2): the kind ("joint_angles", "imu"), the channel
names, the report label, the zero-row rule and the frame rate, in checkpoints and synthetic-set metadata; older
checkpoints and sets (without the declaration) still load as hand joint angles; kinematics-only synthesis inputs
follow the checkpoint's zero-row rule; report headers name the kind. On the tiny simulated dataset and on a tiny UCI
lower-limb fixture written here."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import REPO
from emgaug.benchmark.tables import kinematics_of
from emgaug.data import uci_lower_limb
from emgaug.data.source import kinematics_label, open_source
from emgaug.data.splits import make_split
from emgaug.data.windows import WindowConfig
from emgaug.synthesis import read_metadata, read_synthetic
from emgaug.synthesis.generate import synthesize_set
from emgaug.synthesis.kinematics import set_kinematics
from emgaug.training.checkpoint import load_generator, read_checkpoint, save_checkpoint
from emgaug.training.trainer import train_model
from test_uci_lower_limb import write_uci

NEW_KEYS = ("kinematics_kind", "kinematics_names", "kinematics_label", "kinematics_zero_rows_are_failures",
            "kinematics_rate_hz")


def _train_ridge(manifest: Path, out: Path, window: WindowConfig | None = None) -> Path:
    return train_model(manifest, "ridge", out, epochs=1, batch_size=16, profile="fast", seed=0, quiet=True,
                       window_cfg=window)


@pytest.fixture(scope="module")
def uci(tmp_path_factory) -> tuple[Path, Path]:
    """A tiny UCI lower-limb folder (4 people x 3 tasks, 3 s each at 1 kHz) and a cross-subject manifest over it."""
    uci_lower_limb.clear_cache()
    root = tmp_path_factory.mktemp("uci") / "uci"
    for g, letter in (("normal", "N"), ("abnormal", "A")):
        for k in (1, 2):
            for j, task in enumerate(("gait", "sitting", "standing")):
                write_uci(root / g / f"{k}{letter}{task}.csv", rows=3000, sign=-1.0 if j == 1 else 1.0,
                          seed=10 * (letter == "A") + 3 * k + j)
    m = make_split(open_source(root), "cross-subject", seed=0)
    return root, m.save(root.parent / "cross_subject.json")


@pytest.fixture(scope="module")
def uci_ckpt(uci, tmp_path_factory) -> Path:
    return _train_ridge(uci[1], tmp_path_factory.mktemp("uci_ridge"),
                        WindowConfig(window_s=0.5, stride_s=0.25, angle_rate_hz=50.0))


@pytest.fixture(scope="module")
def sim_ckpt(sim_manifest, tmp_path_factory) -> Path:
    return _train_ridge(sim_manifest, tmp_path_factory.mktemp("sim_ridge"))


def test_simulated_checkpoint_and_set_declare_hand_joint_angles(sim_ckpt, tmp_path):
    ck = read_checkpoint(sim_ckpt)
    assert ck["kinematics_kind"] == "joint_angles" and ck["kinematics_label"] == "joint angles"
    assert ck["kinematics_names"] == [f"joint{i}" for i in range(ck["num_joints"])]
    assert ck["kinematics_zero_rows_are_failures"] is True  # emg2pose's IK-failure rule
    assert ck["kinematics_rate_hz"] == pytest.approx(ck["window"]["sample_rate"] / ck["window"]["angle_downsample"])
    meta = read_metadata(synthesize_set(sim_ckpt, tmp_path / "syn", device="cpu", max_windows=8))
    assert {k: meta[k] for k in NEW_KEYS} == {k: ck[k] for k in NEW_KEYS}


def test_uci_checkpoint_and_sets_declare_the_knee_angle(uci, uci_ckpt, tmp_path):
    ck = read_checkpoint(uci_ckpt)
    assert (ck["kinematics_kind"], ck["kinematics_names"], ck["kinematics_label"]) == (
        "joint_angles", ["Flexo-Extension"], "knee angle")
    assert ck["kinematics_zero_rows_are_failures"] is False  # 0 degrees is a real knee angle
    assert ck["kinematics_rate_hz"] == pytest.approx(50.0)
    loaded = load_generator(uci_ckpt)
    assert loaded.kinematics_kind == "joint_angles" and loaded.zero_rows_are_failures is False
    meta = read_metadata(synthesize_set(uci_ckpt, tmp_path / "syn", device="cpu", max_windows=8))
    assert meta["kinematics_label"] == "knee angle" and meta["kinematics_rate_hz"] == pytest.approx(50.0)
    assert set_kinematics(meta) == {k: ck[k] for k in NEW_KEYS}
    # the oracle (real EMG, no checkpoint) takes the declaration from the data source
    oracle = read_metadata(synthesize_set(None, tmp_path / "oracle", manifest=uci[1], oracle_real=True, window_s=0.5))
    assert (oracle["kinematics_kind"], oracle["kinematics_names"], oracle["kinematics_label"]) == (
        "joint_angles", ["Flexo-Extension"], "knee angle")
    assert oracle["kinematics_zero_rows_are_failures"] is False


def _strip(ck_path: Path, out: Path, drop_source_kind: bool = False) -> Path:
    """A copy of a checkpoint as written before kinds were declared (and, optionally, before manifests named it)."""
    ck = read_checkpoint(ck_path)
    for k in NEW_KEYS:
        ck.pop(k)
    if drop_source_kind:
        ck["data_source"] = {k: v for k, v in ck["data_source"].items() if not k.startswith("kinematics")}
    ck.pop("format"), ck.pop("format_version")
    return save_checkpoint(out, ck)


def test_older_checkpoints_still_load_as_joint_angles(sim_ckpt, uci_ckpt, tmp_path):
    old = load_generator(_strip(sim_ckpt, tmp_path / "old_sim.pt", drop_source_kind=True))
    assert old.kinematics["kinematics_kind"] == "joint_angles" and old.kinematics["kinematics_label"] == "joint angles"
    assert old.zero_rows_are_failures is True
    assert old.kinematics["kinematics_names"] == [f"joint{i}" for i in range(20)]
    # an older UCI checkpoint: the zero-row rule comes from the data source kind it names
    old_uci = load_generator(_strip(uci_ckpt, tmp_path / "old_uci.pt", drop_source_kind=True))
    assert old_uci.kinematics_kind == "joint_angles" and old_uci.zero_rows_are_failures is False
    # and it still synthesizes; the set then records the declaration recovered from the checkpoint
    meta = read_metadata(synthesize_set(tmp_path / "old_uci.pt", tmp_path / "syn", device="cpu", max_windows=4))
    assert meta["kinematics_kind"] == "joint_angles" and meta["kinematics_zero_rows_are_failures"] is False


def test_older_sets_still_load_as_joint_angles():
    fixture = REPO / "tests" / "fixtures" / "synthetic_set_v1_json"
    s = read_synthetic(fixture)  # written before the declaration existed
    assert "kinematics_kind" not in s.metadata
    k = set_kinematics(s.metadata)
    assert (k["kinematics_kind"], k["kinematics_label"], k["kinematics_rate_hz"]) == ("joint_angles", "joint angles", 40.0)
    assert k["kinematics_names"] == [f"joint{i}" for i in range(s.angles.shape[1])]


def _knee_table(path: Path, zeros: slice) -> Path:
    """A kinematics-only Parquet table of one knee-angle sequence at 1 kHz with a stretch of exact 0 degrees."""
    angle = 30.0 - 25.0 * np.cos(2 * np.pi * np.arange(2000) / 500.0)
    angle[zeros] = 0.0
    pd.DataFrame({"angle_0": angle.astype(np.float32), "stage": "gait", "sample_rate": 1000.0,
                  "sequence": "knee"}).to_parquet(path)
    return path


def test_kinematics_only_input_follows_the_checkpoint_zero_row_rule(uci_ckpt, tmp_path):
    table = _knee_table(tmp_path / "knee.parquet", slice(0, 1000))  # the first second: a straight knee
    s = read_synthetic(synthesize_set(uci_ckpt, tmp_path / "syn", kinematics=table, device="cpu"))
    assert s.angle_mask is not None and s.angle_mask.all()  # 0 degrees is a real angle: nothing masked
    assert float(np.abs(s.angles[0]).max()) == 0.0  # the first window holds only the straight knee, kept as given
    # the same table under a checkpoint whose data treats all-zero rows as IK failures: those frames are masked
    ck = read_checkpoint(uci_ckpt)
    ck["kinematics_zero_rows_are_failures"] = True
    ck.pop("format"), ck.pop("format_version")
    hand_rule = save_checkpoint(tmp_path / "hand_rule.pt", ck)
    s2 = read_synthetic(synthesize_set(hand_rule, tmp_path / "syn2", kinematics=table, device="cpu"))
    assert not s2.angle_mask[0].any() and s2.angle_mask[-1].all()


def test_report_headers_name_the_kind():
    assert kinematics_label("imu") == "IMU" and kinematics_label("joint_angles") == "joint angles"
    assert kinematics_label("joint_angles", "knee angle") == "knee angle" and kinematics_label(None) == "kinematics"
    uci_run = {"dataset": {"kind": "uci_lower_limb", "kinematics_kind": "joint_angles", "kinematics_label": "knee angle"}}
    imu_run = {"dataset": {"kind": "imu_biceps", "kinematics_kind": "imu"}}
    old_run = {"dataset": {"kind": "emg2pose"}}  # a manifest written before kinds were declared
    assert kinematics_of([uci_run]) == "knee angle" and kinematics_of([imu_run]) == "IMU"
    assert kinematics_of([old_run]) == "joint angles" and kinematics_of([uci_run, imu_run]) == "knee angle, IMU"


def test_benchmark_report_names_the_knee_angle(uci, tmp_path):
    from emgaug.benchmark import run_benchmark

    syn = synthesize_set(None, tmp_path / "oracle", manifest=uci[1], oracle_real=True, window_s=0.5)
    run_benchmark([uci[1]], [syn], classifiers=[], seeds=1, metrics=True, out=tmp_path / "bench", show_progress=False,
                  max_test_windows=8, n_jobs=1)
    report = (tmp_path / "bench" / "report.html").read_text()
    assert "same conditioning kinematics (knee angle;" in report and "conditioning angles" not in report
    res = json.loads((tmp_path / "bench" / "results.json").read_text())
    assert res["runs"][0]["dataset"]["kinematics_label"] == "knee angle"
