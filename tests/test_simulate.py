"""Built-in dataset: deterministic, exact emg2pose layout, and physiologically plausible signals."""

from __future__ import annotations

import h5py
import numpy as np
import pandas as pd
from scipy import signal

from emgaug.data.emg2pose import REQUIRED_COLUMNS, OPTIONAL_COLUMNS
from emgaug.data.simulate import MUSCLES, REST, SAMPLE_RATE, simulate_dataset


def _rows(path):
    with h5py.File(path) as f:
        return f["emg2pose"]["timeseries"][:]


def test_same_seed_same_data_other_seed_other_data(tmp_path, sim_root):
    again = simulate_dataset(tmp_path / "again", seed=0, users=4, sessions=2, reps=2,
                             stages=("slide_left", "slide_right", "click", "fist"), held_out_users=1, held_out_stages=1)
    name = "sim001_s1_click_left.hdf5"
    a, b = _rows(sim_root / name), _rows(again / name)
    assert np.array_equal(a["emg"], b["emg"]) and np.array_equal(a["joint_angles"], b["joint_angles"])
    other = simulate_dataset(tmp_path / "other", seed=1, users=1, sessions=1, reps=2, stages=("click",),
                             held_out_users=0, held_out_stages=0)
    c = _rows(other / "sim000_s0_click_right.hdf5")
    d = _rows(sim_root / "sim000_s0_click_right.hdf5")
    n = min(len(c), len(d))
    assert not np.allclose(c["emg"][:n], d["emg"][:n])


def test_metadata_has_every_emg2pose_column(sim_root):
    meta = pd.read_csv(sim_root / "metadata.csv")
    assert set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS) <= set(meta.columns)
    assert set(meta.side) == {"left", "right"} and meta.user.nunique() == 4 and meta.session.nunique() == 8
    assert meta.held_out_user.any() and meta.held_out_stage.any()
    assert set(meta.generalization.dropna()) <= {"user", "stage", "user_stage"}


def test_emg_spectrum_is_semg_like(sim_root):
    emg = _rows(sim_root / "sim000_s0_fist_right.hdf5")["emg"]
    f, p = signal.welch(emg, fs=SAMPLE_RATE, axis=0, nperseg=512)
    p = p.mean(1)
    cum = np.cumsum(p) / p.sum()
    median = f[np.searchsorted(cum, 0.5)]
    assert 50 <= median <= 150  # forearm sEMG median frequency range
    assert p[f < 10].sum() / p.sum() < 0.02  # no motion-artefact DC drift
    assert p[f > 500].sum() / p.sum() < 0.05  # band-limited to ~450 Hz


def test_emg_amplitude_follows_the_kinematics(sim_root):
    rows = _rows(sim_root / "sim002_s0_fist_right.hdf5")
    ang, emg = rows["joint_angles"].astype(float), rows["emg"].astype(float)
    valid = np.abs(ang).max(1) > 1e-6
    effort = np.abs(ang - REST).sum(1)
    env = np.sqrt(signal.sosfiltfilt(signal.butter(2, 5, fs=SAMPLE_RATE, output="sos"), emg**2, axis=0).clip(0)).mean(1)
    r = np.corrcoef(effort[valid], env[valid])[0, 1]
    assert r > 0.6, r  # amplitude is driven by muscle activation from the movement
    moving = effort > np.percentile(effort, 80)
    resting = effort < np.percentile(effort, 20)
    assert env[moving].mean() > 3 * env[resting].mean()


def test_users_differ_in_electrode_placement(sim_root):
    def profile(path):
        e = _rows(path)["emg"]
        return np.sqrt((e.astype(float) ** 2).mean(0)) / np.sqrt((e.astype(float) ** 2).mean())
    a = profile(sim_root / "sim000_s0_fist_right.hdf5")
    b = profile(sim_root / "sim000_s1_fist_right.hdf5")
    c = profile(sim_root / "sim002_s0_fist_right.hdf5")
    assert np.abs(a - b).mean() < np.abs(a - c).mean()  # same user's sessions look alike, other users less
    assert len(MUSCLES) == 8


def test_some_files_have_ik_failure_gaps(sim_root):
    gaps = sum(bool((np.abs(_rows(p)["joint_angles"]).max(1) < 1e-6).any()) for p in sorted(sim_root.glob("*.hdf5")))
    assert 0 < gaps < 32
