"""Per-window similarity metrics between paired windows (synthetic i vs real i, same conditioning angles).

Every function takes real and synthetic arrays of shape (n, C, T) in raw units and returns one value per
window pair, shape (n,); channel averages ignore NaN channels (e.g. a constant envelope has no Pearson r).
The exact definitions are in docs/metrics.md.
"""

from __future__ import annotations

import numpy as np
from scipy import signal as sps

ENVELOPE_S = 0.05
PSD_BAND_HZ = (20.0, 450.0)
WELCH_NPERSEG = 256


def check_pair(real: np.ndarray, synth: np.ndarray, dtype: type = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Paired (n, C, T) windows as `dtype`, or a ValueError naming both shapes."""
    r, s = np.asarray(real, dtype=dtype), np.asarray(synth, dtype=dtype)
    if r.shape != s.shape or r.ndim != 3:
        raise ValueError(f"paired windows must have equal (n, C, T) shapes, got {r.shape} and {s.shape}")
    return r, s


def _channel_mean(v: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v)
        cnt = ok.sum(-1)
        tot = np.where(ok, v, 0.0).sum(-1)
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def fft_magnitude(x: np.ndarray) -> np.ndarray:
    """|rfft| along time divided by sqrt(T) (Parseval scaling: two-sided sum of squares equals sum of x^2)."""
    t = x.shape[-1]
    return np.abs(np.fft.rfft(x, axis=-1)) / np.sqrt(t)


def fft_mse(real: np.ndarray, synth: np.ndarray) -> np.ndarray:
    """Mean over channels and all rfft bins (DC..Nyquist) of (|R|/sqrt(T) - |S|/sqrt(T))^2, raw units squared."""
    r, s = check_pair(real, synth)
    return ((fft_magnitude(r) - fft_magnitude(s)) ** 2).mean(axis=(1, 2))


def envelope(x: np.ndarray, sample_rate: float, window_s: float = ENVELOPE_S) -> np.ndarray:
    """Moving average (boxcar of round(window_s * fs) samples, 'valid' part only) of |x| along the last axis."""
    t = x.shape[-1]
    k = int(min(t, max(1, round(window_s * sample_rate))))
    c = np.cumsum(np.abs(x), axis=-1)
    c = np.concatenate([np.zeros(x.shape[:-1] + (1,)), c], axis=-1)
    return (c[..., k:] - c[..., :-k]) / k


def pearson_last_axis(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r along the last axis; NaN where either series is constant."""
    a = a - a.mean(-1, keepdims=True)
    b = b - b.mean(-1, keepdims=True)
    den = np.sqrt((a * a).sum(-1) * (b * b).sum(-1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (a * b).sum(-1) / np.where(den > 0, den, 1.0), np.nan)


def eecc(real: np.ndarray, synth: np.ndarray, sample_rate: float, window_s: float = ENVELOPE_S) -> np.ndarray:
    """EMG envelope cross-correlation: Pearson r (zero lag) of the two envelopes, mean over channels."""
    r, s = check_pair(real, synth)
    return _channel_mean(pearson_last_axis(envelope(r, sample_rate, window_s), envelope(s, sample_rate, window_s)))


def welch_psd(x: np.ndarray, sample_rate: float, nperseg: int = WELCH_NPERSEG) -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch PSD along time: Hann window, nperseg = min(nperseg, T), 50 % overlap, mean detrend."""
    n = int(min(nperseg, x.shape[-1]))
    return sps.welch(x, fs=sample_rate, window="hann", nperseg=n, noverlap=n // 2, detrend="constant", axis=-1)


def psd_band(freqs: np.ndarray, sample_rate: float, band: tuple[float, float] = PSD_BAND_HZ) -> np.ndarray:
    """Boolean mask of the Welch bins used: [band[0], min(band[1], fs/2)] Hz, or every bin above 0 Hz when that
    range holds fewer than 2 bins (slow data such as 100 Hz Ninapro envelopes)."""
    lo, hi = band[0], min(band[1], sample_rate / 2)
    mask = (freqs >= lo) & (freqs <= hi)
    return mask if mask.sum() >= 2 else freqs > 0


def _spectra(real: np.ndarray, synth: np.ndarray, sample_rate: float, band: tuple[float, float]):
    r, s = check_pair(real, synth)
    f, pr = welch_psd(r, sample_rate)
    _, ps = welch_psd(s, sample_rate)
    m = psd_band(f, sample_rate, band)
    return f[m], pr[..., m], ps[..., m]


def psd_log_distance(real: np.ndarray, synth: np.ndarray, sample_rate: float,
                     band: tuple[float, float] = PSD_BAND_HZ) -> np.ndarray:
    """Mean over channels and in-band bins of |10 log10 P_real - 10 log10 P_synth| in dB (powers floored at 1e-20)."""
    _, pr, ps = _spectra(real, synth, sample_rate, band)
    floor = 1e-20
    return np.abs(10 * np.log10(np.maximum(pr, floor)) - 10 * np.log10(np.maximum(ps, floor))).mean(axis=(1, 2))


def mean_frequency(freqs: np.ndarray, psd: np.ndarray) -> np.ndarray:
    """Spectral centroid sum(f P) / sum(P) along the last axis (NaN for zero power)."""
    tot = psd.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, (psd * freqs).sum(-1) / np.where(tot > 0, tot, 1.0), np.nan)


def median_frequency(freqs: np.ndarray, psd: np.ndarray) -> np.ndarray:
    """Frequency where cumulative power first reaches half the total (linear interpolation between bins)."""
    c = np.cumsum(psd, -1)
    tot = c[..., -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(tot > 0, c / np.where(tot > 0, tot, 1.0), np.nan)
    k = np.clip((frac < 0.5).sum(-1), 0, len(freqs) - 1)
    km1 = np.clip(k - 1, 0, None)
    f0, f1 = freqs[km1], freqs[k]
    c0 = np.take_along_axis(frac, km1[..., None], -1)[..., 0]
    c1 = np.take_along_axis(frac, k[..., None], -1)[..., 0]
    with np.errstate(invalid="ignore", divide="ignore"):
        w = np.where(c1 > c0, (0.5 - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.0)
    out = np.where(k == 0, freqs[0], f0 + np.clip(w, 0, 1) * (f1 - f0))
    return np.where(np.isfinite(frac[..., -1]), out, np.nan)


def frequency_errors(real: np.ndarray, synth: np.ndarray, sample_rate: float,
                     band: tuple[float, float] = PSD_BAND_HZ) -> tuple[np.ndarray, np.ndarray]:
    """(|MDF_real - MDF_synth|, |MNF_real - MNF_synth|) in Hz from in-band Welch PSDs, mean over channels."""
    f, pr, ps = _spectra(real, synth, sample_rate, band)
    mdf = np.abs(median_frequency(f, pr) - median_frequency(f, ps))
    mnf = np.abs(mean_frequency(f, pr) - mean_frequency(f, ps))
    return _channel_mean(mdf), _channel_mean(mnf)


def spectral_metrics(real: np.ndarray, synth: np.ndarray, sample_rate: float,
                     band: tuple[float, float] = PSD_BAND_HZ) -> dict[str, np.ndarray]:
    """PSD log-distance and median/mean frequency errors from one Welch pass (same definitions as the functions above)."""
    f, pr, ps = _spectra(real, synth, sample_rate, band)
    floor = 1e-20
    return {"psd_log_distance_db": np.abs(10 * np.log10(np.maximum(pr, floor)) - 10 * np.log10(np.maximum(ps, floor))).mean(axis=(1, 2)),
            "median_freq_error_hz": _channel_mean(np.abs(median_frequency(f, pr) - median_frequency(f, ps))),
            "mean_freq_error_hz": _channel_mean(np.abs(mean_frequency(f, pr) - mean_frequency(f, ps)))}


def excess_kurtosis(x: np.ndarray) -> np.ndarray:
    """Fisher (excess) kurtosis along the last axis, biased moment estimator; NaN for a constant series."""
    d = x - x.mean(-1, keepdims=True)
    d2 = d * d
    m2 = d2.mean(-1)
    m4 = (d2 * d2).mean(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(m2 > 0, m4 / np.where(m2 > 0, m2 * m2, 1.0) - 3.0, np.nan)


def kurtosis_difference(real: np.ndarray, synth: np.ndarray) -> np.ndarray:
    """|kurtosis(real) - kurtosis(synth)| per channel, mean over channels."""
    r, s = check_pair(real, synth)
    return _channel_mean(np.abs(excess_kurtosis(r) - excess_kurtosis(s)))


def channel_correlation(x: np.ndarray) -> np.ndarray:
    """(n, C, T) -> (n, C, C) Pearson correlation between channels; rows/cols of constant channels are 0, diagonal 1."""
    d = x - x.mean(-1, keepdims=True)
    norm = np.sqrt((d * d).sum(-1))
    safe = np.where(norm > 0, norm, 1.0)
    z = d / safe[..., None]
    corr = np.einsum("nct,ndt->ncd", z, z)
    corr *= (norm > 0)[:, :, None] & (norm > 0)[:, None, :]
    idx = np.arange(x.shape[1])
    corr[:, idx, idx] = 1.0
    return corr


def channel_correlation_distance(real: np.ndarray, synth: np.ndarray) -> np.ndarray:
    """Frobenius norm ||corr(real) - corr(synth)||_F of the C x C inter-channel correlation matrices."""
    r, s = check_pair(real, synth)
    return np.sqrt(((channel_correlation(r) - channel_correlation(s)) ** 2).sum(axis=(1, 2)))
