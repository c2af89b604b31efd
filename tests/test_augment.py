"""Classic augmentation peers: each keeps labels and shapes, is seeded, and changes the data the way it should."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emgaug.benchmark.augment import AUGMENTATIONS, make_augment, parse_augment
from emgaug.benchmark.data import LabelledWindows
from emgaug.errors import EmgaugError

N, C, T = 40, 3, 200


def _windows(x: np.ndarray | None = None, seed: int = 0) -> LabelledWindows:
    rng = np.random.default_rng(seed)
    emg = rng.standard_normal((N, C, T)).astype(np.float32) if x is None else x.astype(np.float32)
    labels = np.arange(len(emg)) % 4
    meta = pd.DataFrame({"filename": [f"f{i}" for i in range(len(emg))], "start": np.arange(len(emg)) * T,
                         "stop": np.arange(len(emg)) * T + T, "split": "train"})
    return LabelledWindows(emg, labels, meta)


@pytest.mark.parametrize("name", list(AUGMENTATIONS))
def test_each_augmentation_keeps_labels_shapes_and_is_seeded(name):
    w = _windows()
    spec = make_augment(name)
    a = spec.apply(w, seed=0)
    assert a.emg.shape == w.emg.shape and a.emg.dtype == np.float32
    np.testing.assert_array_equal(a.labels, w.labels)
    assert (a.meta["augmentation"] == name).all()
    pd.testing.assert_frame_equal(a.meta.drop(columns="augmentation"), w.meta)  # same (training) rows as the source
    np.testing.assert_array_equal(a.emg, spec.apply(w, seed=0).emg)  # same seed, same set
    assert not np.array_equal(a.emg, spec.apply(w, seed=1).emg)  # another seed, another set
    assert np.abs(a.emg - w.emg).mean() > 1e-3 * np.abs(w.emg).mean()  # it changed the data
    assert np.all(np.isfinite(a.emg))
    np.testing.assert_array_equal(w.emg, _windows().emg)  # the real windows are not modified in place


def test_noise_has_the_requested_snr():
    w = _windows()
    a = make_augment("noise", snr_db=20).apply(w, seed=3)
    noise = a.emg.astype(np.float64) - w.emg
    snr = 10 * np.log10((w.emg.astype(np.float64) ** 2).mean() / (noise ** 2).mean())
    assert snr == pytest.approx(20.0, abs=0.3)
    # per window-channel: power ratio 100 up to the sampling error of 200 noise samples
    ratio = (w.emg.astype(np.float64) ** 2).mean(-1) / (noise ** 2).mean(-1)
    assert np.median(10 * np.log10(ratio)) == pytest.approx(20.0, abs=0.5)


def test_magnitude_warp_keeps_sign_with_smooth_gain_around_one():
    w = _windows()
    a = make_augment("magwarp").apply(w, seed=0)
    nz = w.emg != 0
    assert np.array_equal(np.sign(a.emg[nz]), np.sign(w.emg[nz]))
    gain = a.emg[nz] / w.emg[nz]
    assert 0.9 < gain.mean() < 1.1 and 0.05 < gain.std() < 0.5
    g = a.emg.astype(np.float64) / np.where(nz, w.emg, 1.0)  # the gain curve of window 0, channel 0
    curve = g[0, 0]
    assert curve.std() > 0.01 and np.abs(np.diff(curve, 2)).max() < 0.01  # varies over time, smoothly


def test_time_warp_keeps_length_and_endpoints_and_is_monotonic_on_a_ramp():
    ramp = np.broadcast_to(np.arange(T, dtype=np.float32), (N, C, T)).copy()
    a = make_augment("timewarp").apply(_windows(ramp), seed=0).emg
    assert a.shape == (N, C, T)
    np.testing.assert_allclose(a[..., 0], 0.0, atol=1e-4)
    np.testing.assert_allclose(a[..., -1], T - 1, atol=1e-3)
    assert np.all(np.diff(a, axis=-1) >= -1e-4)  # time still runs forward
    assert np.abs(a - ramp).max() > 1.0  # but at another speed
    np.testing.assert_array_equal(a[:, 0], a[:, 1])  # one warp for all channels of a window


def test_crop_is_a_stretched_90_percent_slice():
    ramp = np.broadcast_to(np.arange(T, dtype=np.float32), (N, C, T)).copy()
    a = make_augment("crop").apply(_windows(ramp), seed=0).emg
    span = a[..., -1] - a[..., 0]
    np.testing.assert_allclose(span, 0.9 * T - 1, atol=1e-3)  # 180 consecutive samples stretched to 200
    assert (a[..., 0] >= 0).all() and (a[..., -1] <= T - 1).all() and len(np.unique(a[:, 0, 0])) > 1


def test_gain_is_one_constant_factor_per_channel():
    w = _windows()
    a = make_augment("gain").apply(w, seed=0)
    ratio = a.emg.astype(np.float64) / w.emg
    np.testing.assert_allclose(ratio, ratio[..., :1].repeat(T, axis=-1), rtol=1e-5)
    g = ratio[..., 0].ravel()
    assert abs(g.mean() - 1) < 0.05 and 0.05 < g.std() < 0.15


def test_mixup_stays_inside_each_class():
    rng = np.random.default_rng(0)
    labels = np.arange(N) % 4
    x = (10.0 * labels[:, None, None] + rng.uniform(0, 1, (N, C, T))).astype(np.float32)  # class c lives in [10c, 10c+1]
    a = make_augment("mixup").apply(_windows(x), seed=0).emg
    lo, hi = 10.0 * labels[:, None, None], 10.0 * labels[:, None, None] + 1
    assert np.all(a >= lo - 1e-4) and np.all(a <= hi + 1e-4)
    assert (np.abs(a - x).reshape(N, -1).max(1) > 1e-3).sum() > N // 2


def test_parse_augment_specs_and_errors():
    specs = parse_augment("noise@snr_db=20, magwarp,timewarp@sigma=0.1;knots=6")
    assert [s.name for s in specs] == ["noise", "magwarp", "timewarp"]
    assert specs[0].params == {"snr_db": 20.0} and specs[1].params == {"sigma": 0.2, "knots": 4}
    assert specs[2].spec == "timewarp@sigma=0.1;knots=6" and parse_augment([specs[2].spec])[0] == specs[2]
    assert parse_augment("none") == [] and parse_augment(None) == [] and parse_augment("") == []
    assert specs[0].to_dict()["params"] == {"snr_db": 20.0} and "SNR" in specs[0].to_dict()["reference"]
    for bad, msg in (("jitterbug", "unknown augmentation"), ("noise@sigma=1", "no parameter sigma"),
                     ("magwarp@knots=2.5", "positive integer"), ("noise@snr_db=high", "numeric"),
                     ("noise,noise@snr_db=10", "twice")):
        with pytest.raises(EmgaugError, match=msg):
            parse_augment(bad)
