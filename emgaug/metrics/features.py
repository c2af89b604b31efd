"""Standard EMG time-domain features (Hudgins set + AR coefficients), vectorised over windows and channels.

Shared by the SVM / RandomForest classifiers and by the discriminative (real-vs-synthetic) score, so both
see exactly the same representation of a window.
"""

from __future__ import annotations

import numpy as np

AR_ORDER = 4
FEATURE_NAMES = ("log_mav", "log_rms", "log_wl", "zc_rate", "ssc_rate") + tuple(f"ar{k}" for k in range(1, AR_ORDER + 1))
_EPS = 1e-12


def td_features(emg: np.ndarray, threshold_frac: float = 0.01, ar_order: int = AR_ORDER, chunk: int = 256) -> np.ndarray:
    """(N, C, T) windows -> (N, C * F) features, F = 5 + ar_order, channel-major (all features of channel 0 first).

    Per channel: log MAV (mean |x|), log RMS, log waveform length (mean |x[t+1]-x[t]|), zero-crossing rate and
    slope-sign-change rate of the mean-removed signal (a change counts only when the step is >= threshold_frac * std
    of that window-channel), and Yule-Walker AR(ar_order) coefficients of the mean-removed signal.
    """
    if np.ndim(emg) == 3 and len(emg) > chunk:  # bounded float64 temporaries on large sets
        return np.concatenate([td_features(emg[i:i + chunk], threshold_frac, ar_order, chunk)
                               for i in range(0, len(emg), chunk)])
    x = np.asarray(emg, dtype=np.float64)
    if x.ndim != 3:
        raise ValueError(f"expected (N, C, T) windows, got shape {x.shape}")
    n, c, t = x.shape
    if t < max(3, ar_order + 1):
        raise ValueError(f"windows of {t} samples are too short for TD features (need >= {max(3, ar_order + 1)})")
    mav = np.abs(x).mean(-1)
    rms = np.sqrt((x * x).mean(-1))
    d = np.diff(x, axis=-1)
    wl = np.abs(d).mean(-1)
    xc = x - x.mean(-1, keepdims=True)
    thr = threshold_frac * xc.std(-1, keepdims=True)
    dc = np.diff(xc, axis=-1)
    zc = ((xc[..., :-1] * xc[..., 1:] < 0) & (np.abs(dc) >= thr)).mean(-1)
    left, right = dc[..., :-1], dc[..., 1:]  # x[i]-x[i-1], x[i+1]-x[i]
    ssc = ((left * right < 0) & (np.maximum(np.abs(left), np.abs(right)) >= thr)).mean(-1)
    ar = ar_coefficients(xc, ar_order)
    feats = [np.log(mav + _EPS), np.log(rms + _EPS), np.log(wl + _EPS), zc, ssc]
    out = np.concatenate([np.stack(feats, -1), ar], axis=-1)  # (N, C, F)
    return out.reshape(n, -1).astype(np.float32)


def ar_coefficients(x: np.ndarray, order: int) -> np.ndarray:
    """Yule-Walker AR coefficients a_1..a_p (x[t] ~ sum_k a_k x[t-k]) of each mean-removed series on the last axis."""
    t = x.shape[-1]
    flat = x.reshape(-1, t)
    r = np.stack([(flat[:, : t - k] * flat[:, k:]).sum(-1) / t for k in range(order + 1)], -1)  # (M, p+1)
    idx = np.abs(np.arange(order)[:, None] - np.arange(order)[None, :])
    toeplitz = r[:, idx] + 1e-9 * r[:, :1, None] * np.eye(order)  # tiny ridge keeps constant series solvable
    dead = r[:, 0] <= _EPS
    toeplitz[dead] = np.eye(order)
    coef = np.linalg.solve(toeplitz, r[:, 1:, None])[..., 0]
    coef[dead] = 0.0
    return coef.reshape(*x.shape[:-1], order)


def raw_features(emg: np.ndarray) -> np.ndarray:
    """The paper's 'no feature extraction' input: each window flattened to C * T values."""
    x = np.asarray(emg, dtype=np.float32)
    return x.reshape(len(x), -1)
