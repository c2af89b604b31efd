"""Amplitude features (log MAV / RMS / WL with a floor fitted on the training windows) and their use by the SVM/RF
and the discriminative score."""

from __future__ import annotations

import numpy as np
import pytest

from emgaug.benchmark.classifiers import make_classifier
from emgaug.metrics.discriminative import discriminative_score, trts_accuracy
from emgaug.metrics.features import (AMPLITUDE_FLOOR_FRACTION, WindowFeatures, amplitude_features, amplitude_floor,
                                     amplitude_stats)


def _sines(n=20, c=2, t=100, seed=0):
    rng = np.random.default_rng(seed)
    amp = rng.uniform(0.5, 2.0, size=(n, c, 1))
    return (amp * np.sin(np.linspace(0, 8 * np.pi, t))[None, None]).astype(np.float32)


def test_amplitude_features_known_values_and_layout():
    x = np.array([[[1.0, -1.0, 1.0, -1.0], [2.0, 2.0, 2.0, 2.0]]], dtype=np.float32)  # (1, 2, 4)
    st = amplitude_stats(x)[0]
    np.testing.assert_allclose(st[0], [1.0, 1.0, 2.0])  # MAV, RMS, WL of the alternating channel
    np.testing.assert_allclose(st[1], [2.0, 2.0, 0.0])  # a constant channel: WL = 0
    floor = np.array([1e-3, 1e-3, 0.01])
    f = amplitude_features(x, floor)[0]
    assert f.shape == (6,)  # channel-major: (log MAV, log RMS, log WL) of channel 0, then of channel 1
    np.testing.assert_allclose(f, [0.0, 0.0, np.log(2.0), np.log(2.0), np.log(2.0), np.log(0.01)], rtol=1e-6)


def test_constant_window_is_floored_relative_to_training_data_not_at_minus_27():
    train = _sines()
    floor = amplitude_floor(train)
    st = amplitude_stats(train).reshape(-1, 3)
    np.testing.assert_allclose(floor, AMPLITUDE_FLOOR_FRACTION * np.median(st, axis=0), rtol=1e-9)
    const = np.full((1, 2, 100), 0.7, dtype=np.float32)
    fmap = WindowFeatures("amplitude").fit(train)
    f = fmap.transform(const).reshape(2, 3)
    assert np.all(np.isfinite(f))
    # log WL of a constant window = log(floor_WL): about 6.9 below the training data's typical log WL, not -27.6
    np.testing.assert_allclose(f[:, 2], np.log(floor[2]), rtol=1e-6)
    typical = np.log(np.median(st[:, 2]))
    assert f[0, 2] == pytest.approx(typical + np.log(AMPLITUDE_FLOOR_FRACTION), abs=1e-4) and f[0, 2] > -15
    # MAV / RMS above the floor are untouched
    np.testing.assert_allclose(f[:, 0], np.log(0.7), rtol=1e-6)
    # the floor is the training data's: scoring other windows does not refit it
    fmap.transform(100 * train)
    np.testing.assert_array_equal(fmap.floor, floor)
    # all-zero reference data: an absolute 1e-12 floor, still finite
    z = WindowFeatures("amplitude").fit(np.zeros((3, 2, 10), np.float32)).transform(np.zeros((1, 2, 10), np.float32))
    np.testing.assert_allclose(z, np.log(1e-12), rtol=1e-6)


def test_amplitude_features_need_fit_and_valid_kind():
    with pytest.raises(RuntimeError, match="before fit"):
        WindowFeatures("amplitude").transform(_sines())
    with pytest.raises(ValueError, match="unknown feature kind"):
        WindowFeatures("fft")


@pytest.mark.parametrize("name", ["svm", "rf"])
def test_feature_classifiers_on_amplitude_features(name):
    """Class k = channel k is 3x louder; the amplitude map (floors from the training windows) separates it."""
    rng = np.random.default_rng(1)
    y = rng.integers(0, 4, 160)
    x = rng.standard_normal((160, 4, 64)).astype(np.float32)
    x[np.arange(160), y] *= 3.0
    clf = make_classifier(name, seed=0, num_classes=4, features="amplitude").fit(x[:100], y[:100])
    assert clf.feature_map.kind == "amplitude"
    np.testing.assert_array_equal(clf.feature_map.floor, amplitude_floor(x[:100]))
    est = clf.estimator if name == "rf" else clf.estimator[-1]  # the SVM is a scaler + SVC pipeline
    assert est.n_features_in_ == 4 * 3
    assert (clf.predict(x[100:]) == y[100:]).mean() > 0.85


def test_discriminative_score_and_trts_on_amplitude_features():
    rng = np.random.default_rng(2)
    real = rng.standard_normal((60, 3, 200)).astype(np.float32)
    assert discriminative_score(real, real.copy(), features="amplitude") == pytest.approx(0.5)
    assert discriminative_score(real, 4 * rng.standard_normal((60, 3, 200)).astype(np.float32),
                                features="amplitude") > 0.95
    labels = np.arange(60) % 2
    loud = real.copy()
    loud[labels == 1, 0] *= 5
    assert trts_accuracy(loud, labels, loud, labels, features="amplitude") > 0.95
    assert trts_accuracy(loud, labels, loud, 1 - labels, features="amplitude") < 0.05
