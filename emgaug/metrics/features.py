"""Window features, vectorised over windows and channels: the standard EMG time-domain set (Hudgins set + AR
coefficients), an amplitude-only set (log MAV, log RMS, log WL with a floor fitted on reference data) and raw
flattened windows.

Shared by the SVM / RandomForest classifiers and by the discriminative (real-vs-synthetic) score and TRTS, so they
see exactly the same representation of a window.
"""

from __future__ import annotations

import numpy as np

AR_ORDER = 4
FEATURE_NAMES = ("log_mav", "log_rms", "log_wl", "zc_rate", "ssc_rate") + tuple(f"ar{k}" for k in range(1, AR_ORDER + 1))
_EPS = 1e-12
FEATURE_KINDS = ("td", "amplitude", "raw")
AMPLITUDE_NAMES = ("log_mav", "log_rms", "log_wl")
AMPLITUDE_FLOOR_FRACTION = 1e-3


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


def amplitude_stats(emg: np.ndarray, chunk: int = 256) -> np.ndarray:
    """(N, C, T) windows -> (N, C, 3) float64: MAV = mean|x|, RMS = sqrt(mean x^2), WL = mean|x[t+1] - x[t]|."""
    x0 = np.asarray(emg)
    if x0.ndim != 3:
        raise ValueError(f"expected (N, C, T) windows, got shape {x0.shape}")
    if x0.shape[-1] < 2:
        raise ValueError(f"windows of {x0.shape[-1]} samples are too short for amplitude features (need >= 2)")
    out = np.empty((x0.shape[0], x0.shape[1], 3), dtype=np.float64)
    for i in range(0, len(x0), chunk):  # bounded float64 temporaries on large sets
        x = x0[i:i + chunk].astype(np.float64)
        out[i:i + chunk, :, 0] = np.abs(x).mean(-1)
        out[i:i + chunk, :, 1] = np.sqrt((x * x).mean(-1))
        out[i:i + chunk, :, 2] = np.abs(np.diff(x, axis=-1)).mean(-1)
    return out


def amplitude_floor(emg: np.ndarray, fraction: float = AMPLITUDE_FLOOR_FRACTION) -> np.ndarray:
    """Floors (3,) for log MAV, log RMS, log WL, fitted on reference (training) windows.

    Each floor is `fraction` (default 1e-3, i.e. log(floor) = typical log value - 6.9) times the median of that
    statistic over the reference windows and channels whose value is > 0; 1e-12 when no value is > 0. Relative to the
    data, so it holds for any unit (uV, V, Ninapro's RMS envelopes) and a constant window maps to a value about 7
    nats below a typical window instead of log(1e-12) = -27.6.
    """
    return floor_from_stats(amplitude_stats(emg).reshape(-1, 3), fraction)


def floor_from_stats(st: np.ndarray, fraction: float = AMPLITUDE_FLOOR_FRACTION) -> np.ndarray:
    """`amplitude_floor` from already computed statistics (M, 3) (rows: window-channels; columns MAV, RMS, WL)."""
    st = np.asarray(st, dtype=np.float64).reshape(-1, 3)
    floor = np.full(3, _EPS)
    for k in range(3):
        pos = st[:, k][st[:, k] > 0]
        if len(pos):
            floor[k] = max(_EPS, fraction * float(np.median(pos)))
    return floor


def amplitude_features(emg: np.ndarray, floor: np.ndarray) -> np.ndarray:
    """(N, C, T) windows -> (N, C * 3) features, channel-major: log(max(MAV, f0)), log(max(RMS, f1)), log(max(WL, f2)).

    `floor` comes from `amplitude_floor` on the training (reference) windows and is reused unchanged for the
    windows being scored, so train and test see the same map.
    """
    floor = np.asarray(floor, dtype=np.float64).reshape(3)
    st = amplitude_stats(emg)
    out = np.log(np.maximum(st, floor))
    return out.reshape(len(out), -1).astype(np.float32)


class WindowFeatures:
    """One feature map by name (td, amplitude, raw): `fit` on reference/training windows (only `amplitude` learns
    something: its floors), then `transform` any windows with the same map."""

    def __init__(self, kind: str = "td"):
        if kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {kind!r}; choose one of {', '.join(FEATURE_KINDS)}")
        self.kind = kind
        self.floor: np.ndarray | None = None

    def fit(self, emg: np.ndarray) -> WindowFeatures:
        if self.kind == "amplitude":
            self.floor = amplitude_floor(emg)
        return self

    def transform(self, emg: np.ndarray) -> np.ndarray:
        if self.kind == "td":
            return td_features(emg)
        if self.kind == "raw":
            return raw_features(emg)
        if self.floor is None:
            raise RuntimeError("amplitude features used before fit (the floor comes from the training windows)")
        return amplitude_features(emg, self.floor)

    def fit_transform(self, emg: np.ndarray) -> np.ndarray:
        return self.fit(emg).transform(emg)
