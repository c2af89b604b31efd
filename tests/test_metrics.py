"""Known-answer tests for every similarity metric (identical, shifted, scaled signals; white vs coloured noise)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal as sps

from emgaug.metrics import paired
from emgaug.metrics.discriminative import discriminative_score, trts_accuracy
from emgaug.metrics.dtw import band_samples, dtw_l1_exact, dtw_l1_fastdtw, paired_dtw
from emgaug.metrics.features import ar_coefficients, td_features
from emgaug.metrics.similarity import similarity_report

FS = 2000.0


def _noise(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _brute_dtw_l1(a, b, window=None):
    n, m = len(a), len(b)
    d = np.full((n + 1, m + 1), np.inf)
    d[0, 0] = 0.0
    for i in range(1, n + 1):
        for j in range(1, m + 1):
            if window is not None and abs(i - j) > window:
                continue
            d[i, j] = abs(a[i - 1] - b[j - 1]) + min(d[i - 1, j], d[i, j - 1], d[i - 1, j - 1])
    return d[n, m]


def test_identical_windows_score_perfectly():
    x = _noise((6, 3, 400))
    rep = similarity_report(x, x.copy(), FS, n_jobs=1, real_labels=np.arange(6) % 2, synth_labels=np.arange(6) % 2)
    m = rep["metrics"]
    for name in ("fft_mse", "dtw", "psd_log_distance_db", "median_freq_error_hz", "mean_freq_error_hz",
                 "kurtosis_difference", "channel_corr_distance"):
        assert m[name]["mean"] == pytest.approx(0.0, abs=1e-9), name
    assert m["eecc"]["mean"] == pytest.approx(1.0)
    assert m["discriminative_score"]["mean"] == pytest.approx(0.5)
    assert m["trts_accuracy"]["mean"] == pytest.approx(1.0)


def test_exact_dtw_matches_brute_force_l1_dynamic_programme():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal(40), rng.standard_normal(47)
    assert dtw_l1_exact(a, b) == pytest.approx(_brute_dtw_l1(a, b))
    assert dtw_l1_exact(a, b[:40], window=3) == pytest.approx(_brute_dtw_l1(a, b[:40], window=3))
    # L1 cost, not squared Euclidean: scaling both signals scales the distance linearly
    assert dtw_l1_exact(3 * a, 3 * b) == pytest.approx(3 * dtw_l1_exact(a, b))


def test_dtw_absorbs_a_time_shift_that_l1_distance_does_not():
    t = np.arange(400) / FS
    x = np.sin(2 * np.pi * 15 * t) * np.hanning(400)
    shifted = np.roll(x, 10)
    direct = np.abs(x - shifted).sum()
    assert dtw_l1_exact(x, shifted) < 0.1 * direct
    # a band narrower than the shift forbids the alignment, so the distance grows
    assert dtw_l1_exact(x, shifted, window=2) > 3 * dtw_l1_exact(x, shifted)
    # fastdtw returns the cost of one valid path: never below the exact optimum
    assert dtw_l1_fastdtw(x, shifted, radius=1) >= dtw_l1_exact(x, shifted) - 1e-9


def test_paired_dtw_averages_channels_and_band_fraction():
    r = _noise((2, 3, 50), 2)
    s = _noise((2, 3, 50), 3)
    expect = np.array([[_brute_dtw_l1(r[i, c], s[i, c]) for c in range(3)] for i in range(2)]).mean(1)
    np.testing.assert_allclose(paired_dtw(r, s, band=None), expect)
    assert band_samples(2000, 0.1) == 200 and band_samples(2000, None) is None
    with pytest.raises(ValueError):
        paired_dtw(r, s[:, :2])


def test_fft_mse_ignores_circular_shift_and_has_stated_scale():
    x = _noise((1, 2, 256), 4)
    assert paired.fft_mse(x, np.roll(x, 17, axis=-1))[0] == pytest.approx(0.0, abs=1e-12)
    # x vs 2x: mean over bins of (|X|/sqrt(T))^2
    mag = np.abs(np.fft.rfft(x, axis=-1)) / np.sqrt(256)
    assert paired.fft_mse(x, 2 * x)[0] == pytest.approx((mag ** 2).mean())


def test_eecc_is_scale_invariant_and_detects_opposite_trends():
    t = np.arange(2000) / FS
    carrier = _noise(2000, 5)
    rising = carrier * np.linspace(0.1, 1, 2000)
    falling = carrier * np.linspace(1, 0.1, 2000)
    x = np.stack([rising, rising])[None]
    assert paired.eecc(x, 3 * x, FS)[0] == pytest.approx(1.0)
    y = np.stack([falling, falling])[None]
    assert paired.eecc(x, y, FS)[0] < -0.8
    env = paired.envelope(np.ones((1, 1, 200)), FS, 0.05)
    assert env.shape[-1] == 200 - 100 + 1 and np.allclose(env, 1.0)
    assert np.isnan(paired.eecc(np.ones((1, 1, 300)), x[:, :1, :300], FS)[0])  # constant envelope: r undefined
    del t


def test_white_vs_coloured_noise_psd_and_frequency_metrics():
    white = _noise((4, 2, 4000), 6)
    white2 = _noise((4, 2, 4000), 7)
    b, a = sps.butter(4, 100, fs=FS)
    coloured = sps.lfilter(b, a, _noise((4, 2, 4000), 8), axis=-1)
    same = paired.psd_log_distance(white, white2, FS).mean()
    diff = paired.psd_log_distance(white, coloured, FS).mean()
    assert same < 1.5 and diff > 15
    f, p = paired.welch_psd(white, FS)
    band = paired.psd_band(f, FS)
    assert paired.median_frequency(f[band], p[..., band]).mean() == pytest.approx(235, abs=20)
    assert paired.mean_frequency(f[band], p[..., band]).mean() == pytest.approx(235, abs=15)
    mdf_err, mnf_err = paired.frequency_errors(white, coloured, FS)
    assert mdf_err.mean() > 80 and mnf_err.mean() > 80
    mdf_same, _ = paired.frequency_errors(white, white2, FS)
    assert mdf_same.mean() < 20


def test_median_and_mean_frequency_of_a_sinusoid():
    t = np.arange(4000) / FS
    x = np.sin(2 * np.pi * 120 * t)[None, None]
    f, p = paired.welch_psd(x, FS)
    band = paired.psd_band(f, FS)
    assert paired.median_frequency(f[band], p[..., band])[0, 0] == pytest.approx(120, abs=8)
    assert paired.mean_frequency(f[band], p[..., band])[0, 0] == pytest.approx(120, abs=8)


def test_psd_band_falls_back_to_all_bins_for_slow_data():
    f = np.linspace(0, 50, 11)
    assert paired.psd_band(f, 100.0).sum() == 7  # 20, 25, ..., 50 Hz
    f2 = np.linspace(0, 10, 6)
    assert paired.psd_band(f2, 20.0).tolist() == [False, True, True, True, True, True]


def test_kurtosis_difference_gaussian_vs_laplace():
    rng = np.random.default_rng(9)
    g = rng.standard_normal((2, 2, 50000))
    lap = rng.laplace(size=(2, 2, 50000))
    assert paired.kurtosis_difference(g, lap).mean() == pytest.approx(3.0, abs=0.3)
    assert paired.kurtosis_difference(g, 5 * g).mean() == pytest.approx(0.0, abs=1e-9)


def test_channel_correlation_distance_known_extremes():
    base = _noise(3000, 10)
    locked = np.stack([base] * 4)[None]
    indep = _noise((1, 4, 3000), 11)
    assert paired.channel_correlation_distance(locked, indep)[0] == pytest.approx(np.sqrt(12), abs=0.15)
    corr = paired.channel_correlation(np.concatenate([indep[:, :3], np.zeros((1, 1, 3000))], axis=1))
    assert corr[0, 3, 3] == 1.0 and np.all(corr[0, 3, :3] == 0)


def test_discriminative_score_chance_for_same_distribution_and_one_for_different():
    r = _noise((60, 3, 200), 12)
    assert discriminative_score(r, r.copy()) == pytest.approx(0.5)
    assert abs(discriminative_score(r, _noise((60, 3, 200), 13)) - 0.5) < 0.2
    assert discriminative_score(r, 4 * _noise((60, 3, 200), 14)) > 0.95


def test_trts_accuracy_rewards_class_faithful_synthetic_data():
    rng = np.random.default_rng(15)
    labels = np.arange(80) % 2
    scale = np.where(labels == 1, 4.0, 1.0)[:, None, None]
    real = rng.standard_normal((80, 2, 200)) * scale
    synth = rng.standard_normal((80, 2, 200)) * scale
    assert trts_accuracy(real, labels, synth, labels) > 0.95
    assert trts_accuracy(real, labels, synth, 1 - labels) < 0.05


def test_td_features_known_values():
    t = np.arange(2000) / FS
    x = np.sin(2 * np.pi * 10 * t)[None, None]
    f = td_features(x)[0]
    assert np.exp(f[0]) == pytest.approx(2 / np.pi, rel=1e-3)  # MAV of a unit sine
    assert np.exp(f[1]) == pytest.approx(1 / np.sqrt(2), rel=1e-3)  # RMS
    assert f[3] == pytest.approx(2 * 10 / FS * 2000 / 1999, rel=0.06)  # zero crossings per sample step
    rng = np.random.default_rng(16)
    e = rng.standard_normal(20000)
    ar = np.zeros(20000)
    for i in range(2, 20000):
        ar[i] = 0.6 * ar[i - 1] - 0.3 * ar[i - 2] + e[i]
    coef = ar_coefficients((ar - ar.mean())[None], 4)[0]
    np.testing.assert_allclose(coef[:2], [0.6, -0.3], atol=0.03)
    assert np.abs(coef[2:]).max() < 0.03
    assert np.all(np.isfinite(td_features(np.zeros((1, 2, 50)))))


def test_report_parallel_equals_serial_and_validates_shapes():
    r, s = _noise((10, 2, 300), 17), _noise((10, 2, 300), 18)
    a = similarity_report(r, s, FS, n_jobs=1, chunk_size=4)
    b = similarity_report(r, s, FS, n_jobs=2, chunk_size=4)
    for k in a["metrics"]:
        assert a["metrics"][k]["mean"] == pytest.approx(b["metrics"][k]["mean"]), k
    assert a["settings"]["dtw_cost"].startswith("L1") and a["settings"]["dtw_band_samples"] == 30
    with pytest.raises(ValueError):
        similarity_report(r, s[:, :, :200], FS)


def test_fastdtw_option_in_the_suite_is_an_upper_bound_of_exact_dtw():
    r, s = _noise((3, 2, 120), 19), _noise((3, 2, 120), 20)
    exact = similarity_report(r, s, FS, n_jobs=1, dtw_band=None)["metrics"]["dtw"]["mean"]
    rep = similarity_report(r, s, FS, n_jobs=1, dtw_method="fastdtw")
    assert rep["metrics"]["dtw"]["mean"] >= exact - 1e-9
    assert rep["settings"]["fastdtw_radius"] == 1 and rep["settings"]["dtw_band_samples"] is None


def test_td_features_chunking_gives_identical_features():
    x = _noise((9, 3, 50), 21)
    np.testing.assert_array_equal(td_features(x, chunk=4), td_features(x, chunk=100))


def test_paired_dtw_c_path_matches_the_public_routine_with_band():
    r, s = _noise((2, 2, 300), 22), _noise((2, 2, 300), 23)
    expect = np.array([[dtw_l1_exact(r[i, c], s[i, c], 30) for c in range(2)] for i in range(2)]).mean(1)
    np.testing.assert_allclose(paired_dtw(r, s, band=0.1), expect)
    assert _brute_dtw_l1(r[0, 0][:60], s[0, 0][:60], 6) == pytest.approx(paired_dtw(r[:1, :1, :60], s[:1, :1, :60], band=0.1)[0])
