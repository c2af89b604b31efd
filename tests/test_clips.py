"""Per-recording reference clips on the generator side (issue 19): a clip sets the amplitude level (and, for a
person-conditioned model, changes the output) of its recording's synthetic windows; ridge_user + clip is exactly
the per-user ridge times the clip's log-offset per channel."""

from __future__ import annotations

import numpy as np
import pytest

from emgaug.data.manifest import KINEMATICS_POOL
from emgaug.data.source import open_source
from emgaug.data.splits import make_split
from emgaug.data.windows import WindowConfig
from emgaug.errors import EmgaugError
from emgaug.synthesis import read_synthetic
from emgaug.synthesis.generate import synthesize_set
from emgaug.training.trainer import train_model

WINDOW = WindowConfig(window_s=0.25, stride_s=0.125, angle_rate_hz=50.0)


@pytest.fixture(scope="module")
def scarce_manifest(sim_root, tmp_path_factory):
    m = make_split(open_source(sim_root), "cross-subject", seed=0, use_metadata_columns=False, emg_fraction=0.5,
                   emg_unit="session",
                   clip_s=0.5, gap_s=0.25)
    assert m.splits[KINEMATICS_POOL] and m.splits["clip"]
    return m.save(tmp_path_factory.mktemp("scarce") / "scarce.json")


def _train(manifest, out, name, **overrides):
    return train_model(manifest, name, out, epochs=2, batch_size=16, profile="fast", seed=0, device="cpu",
                       window_cfg=WINDOW, max_val_windows=8, quiet=True, model_overrides=overrides or None)


def test_ridge_user_with_a_clip_is_the_per_user_ridge_times_the_clips_offset(scarce_manifest, tmp_path):
    ck = _train(scarce_manifest, tmp_path / "ru", "ridge_user")
    plain = read_synthetic(synthesize_set(ck, tmp_path / "plain", split=KINEMATICS_POOL, seed=0, device="cpu"))
    clipped = read_synthetic(synthesize_set(ck, tmp_path / "clip", split=KINEMATICS_POOL, seed=0, device="cpu",
                                            clip="clip"))
    assert clipped.metadata["person"]["clip_split"] == "clip" and clipped.metadata["person"]["style_sources"]["clip"] > 0
    np.testing.assert_array_equal(plain.angles, clipped.angles)
    ratio = clipped.emg / np.where(plain.emg == 0, np.nan, plain.emg)
    # one gain per window and channel, constant over time, and not all 1
    per = np.nanmedian(ratio, axis=2)
    np.testing.assert_allclose(ratio, per[..., None] * np.ones_like(ratio), rtol=1e-4, equal_nan=True)
    assert np.nanmax(np.abs(np.log(per))) > 0.01


def test_a_clip_changes_a_person_conditioned_generators_output_for_the_same_kinematics(scarce_manifest, tmp_path):
    ck = _train(scarce_manifest, tmp_path / "wn", "wavenet", residual=8, skip=8, dilations=[1, 2], style_dim=4)
    plain = read_synthetic(synthesize_set(ck, tmp_path / "plain", split=KINEMATICS_POOL, seed=0, device="cpu"))
    clipped = read_synthetic(synthesize_set(ck, tmp_path / "clip", split=KINEMATICS_POOL, seed=0, device="cpu",
                                            clip="clip"))
    np.testing.assert_array_equal(plain.angles, clipped.angles)
    assert not np.allclose(plain.emg, clipped.emg)
    with pytest.raises(EmgaugError, match="--clip"):
        synthesize_set(ck, tmp_path / "both", split=KINEMATICS_POOL, device="cpu", clip="clip", reference="clip")
