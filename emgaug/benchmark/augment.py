"""Classic data augmentations of real EMG training windows, the peers a generator must beat.

Each augmentation turns labelled real *training* windows (never test windows) into the same number of augmented
windows with the same labels and shapes; the benchmark then treats that set exactly like a synthetic set (GR trains
on it alone, MR adds it to the real windows), so its rows sit next to the generator's. Every function is seeded
through the `rng` it is given; the benchmark derives that generator from (seed, augmentation name), so the same
seed gives the same set and different seeds different sets.

Defaults come from the literature:
- Um et al. 2017, "Data augmentation of wearable sensor data for Parkinson's disease monitoring using convolutional
  neural networks" (ICMI 2017): scaling sigma = 0.1, magnitude warping and time warping with a cubic spline through
  knots + 2 points drawn from N(1, sigma = 0.2), 4 knots.
- Tsinganos et al. 2020, "Data augmentation of surface electromyography for hand gesture recognition" (Sensors 20,
  4892): additive Gaussian noise at a set signal-to-noise ratio and magnitude warping evaluated on sEMG (Ninapro);
  the 25 dB default here is our choice inside the 10-40 dB range of recorded sEMG.
- Le Guennec, Malinowski & Tavenard 2016, "Data augmentation for time series classification using convolutional
  neural networks" (ECML/PKDD AALTD workshop): window slicing, a random crop of 90 % of the window.
- Zhang et al. 2018, "mixup: beyond empirical risk minimization" (ICLR 2018): lambda ~ Beta(alpha, alpha),
  alpha = 0.2; here both windows come from the same class, so the label is unchanged.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.interpolate import CubicSpline

from emgaug.errors import EmgaugError

MIN_WARP = 1e-3  # smallest value a warping curve may take (keeps magnitude warping sign-preserving, time monotonic)


def gaussian_noise(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, snr_db: float = 25.0) -> np.ndarray:
    """Add white Gaussian noise at `snr_db` per window and channel: noise variance = mean(x^2) / 10^(snr_db / 10)
    over that window-channel's T samples (Tsinganos et al. 2020: additive noise at a set SNR)."""
    x = emg.astype(np.float64)
    power = (x * x).mean(-1, keepdims=True)
    sd = np.sqrt(power / 10.0 ** (snr_db / 10.0))
    return (x + sd * rng.standard_normal(x.shape)).astype(np.float32)


def _random_curves(rng: np.random.Generator, n: int, length: int, sigma: float, knots: int) -> np.ndarray:
    """(n, length) smooth curves: a cubic spline through knots + 2 equally spaced points drawn from N(1, sigma)
    (Um et al. 2017's GenerateRandomCurves), floored at MIN_WARP so they stay positive."""
    xk = np.linspace(0, length - 1, knots + 2)
    yk = rng.normal(1.0, sigma, size=(n, knots + 2))
    curves = CubicSpline(xk, yk, axis=1)(np.arange(length))
    return np.maximum(curves, MIN_WARP)


def magnitude_warp(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, sigma: float = 0.2,
                   knots: int = 4) -> np.ndarray:
    """Multiply each channel by its own smooth random curve around 1 (Um et al. 2017: sigma 0.2, 4 knots); the
    curve is positive, so every sample keeps its sign."""
    n, c, t = emg.shape
    curves = _random_curves(rng, n * c, t, sigma, knots).reshape(n, c, t)
    return (emg.astype(np.float64) * curves).astype(np.float32)


def time_warp(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, sigma: float = 0.2,
              knots: int = 4) -> np.ndarray:
    """Resample each window along a smooth random monotonic time axis (Um et al. 2017: sigma 0.2, 4 knots): the
    cumulative sum of a random speed curve, scaled to run from 0 to T-1, read by linear interpolation; the same warp
    for all channels of a window, so their timing stays aligned. Length, first and last samples are unchanged."""
    n, c, t = emg.shape
    speed = _random_curves(rng, n, t, sigma, knots)
    warped = np.concatenate([np.zeros((n, 1)), np.cumsum(speed[:, 1:], axis=1)], axis=1)
    warped *= (t - 1) / warped[:, -1:]
    grid = np.arange(t, dtype=np.float64)
    out = np.empty(emg.shape, dtype=np.float32)
    for i in range(n):
        for ch in range(c):
            out[i, ch] = np.interp(warped[i], grid, emg[i, ch])
    return out


def window_crop(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, fraction: float = 0.9) -> np.ndarray:
    """Window slicing (Le Guennec et al. 2016): a random contiguous crop of round(fraction * T) samples, at a uniform
    random offset, linearly stretched back to T samples."""
    n, c, t = emg.shape
    if not 0 < fraction <= 1:
        raise EmgaugError(f"crop fraction must be in (0, 1], got {fraction}")
    k = max(2, int(round(fraction * t)))
    starts = rng.integers(0, t - k + 1, size=n)
    pos = np.linspace(0, k - 1, t)
    out = np.empty(emg.shape, dtype=np.float32)
    grid = np.arange(k, dtype=np.float64)
    for i in range(n):
        seg = emg[i, :, starts[i]:starts[i] + k]
        for ch in range(c):
            out[i, ch] = np.interp(pos, grid, seg[ch])
    return out


def channel_gain(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, sigma: float = 0.1) -> np.ndarray:
    """Multiply each channel of each window by one gain drawn from N(1, sigma), floored at MIN_WARP (Um et al. 2017's
    scaling, sigma 0.1; per channel it mimics electrode-skin impedance changes)."""
    n, c, _ = emg.shape
    gains = np.maximum(rng.normal(1.0, sigma, size=(n, c, 1)), MIN_WARP)
    return (emg.astype(np.float64) * gains).astype(np.float32)


def within_class_mixup(emg: np.ndarray, labels: np.ndarray, rng: np.random.Generator, alpha: float = 0.2) -> np.ndarray:
    """mixup (Zhang et al. 2018) inside each class: window i becomes lam * x_i + (1 - lam) * x_j with j a random
    window of the same class and lam ~ Beta(alpha, alpha) per window; the label stays that class."""
    x = emg.astype(np.float64)
    labels = np.asarray(labels)
    partner = np.arange(len(x))
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        partner[idx] = idx[rng.integers(0, len(idx), size=len(idx))]
    lam = rng.beta(alpha, alpha, size=(len(x), 1, 1))
    return (lam * x + (1 - lam) * x[partner]).astype(np.float32)


AugmentFn = Callable[..., np.ndarray]
# name -> (function, default parameters); the names are what `--augment` takes
AUGMENTATIONS: dict[str, tuple[AugmentFn, dict[str, float]]] = {
    "noise": (gaussian_noise, {"snr_db": 25.0}),
    "magwarp": (magnitude_warp, {"sigma": 0.2, "knots": 4}),
    "timewarp": (time_warp, {"sigma": 0.2, "knots": 4}),
    "crop": (window_crop, {"fraction": 0.9}),
    "gain": (channel_gain, {"sigma": 0.1}),
    "mixup": (within_class_mixup, {"alpha": 0.2}),
}
INT_PARAMS = ("knots",)


@dataclass(frozen=True)
class AugmentSpec:
    """One augmentation with every parameter filled in (defaults plus overrides)."""

    name: str
    params: dict[str, float] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.spec)

    @property
    def spec(self) -> str:
        """Canonical text form, 'name@key=value;key=value', which `parse_augment` reads back."""
        return self.name + ("@" + ";".join(f"{k}={v:g}" for k, v in self.params.items()) if self.params else "")

    def to_dict(self) -> dict[str, Any]:
        fn = AUGMENTATIONS[self.name][0]
        return {"name": self.name, "params": dict(self.params), "function": f"{fn.__module__}.{fn.__name__}",
                "reference": " ".join((fn.__doc__ or "").split())}

    def apply(self, windows: Any, seed: int) -> Any:
        """Augmented copies of `windows` (LabelledWindows of real training windows): same labels, shapes and metadata
        (plus an `augmentation` column), drawn from a generator seeded by (seed, name)."""
        from emgaug.benchmark.data import LabelledWindows

        rng = np.random.default_rng([int(seed), zlib.crc32(self.name.encode())])
        fn = AUGMENTATIONS[self.name][0]
        emg = fn(np.asarray(windows.emg, dtype=np.float32), windows.labels, rng, **self.params)
        meta = windows.meta.copy()
        meta["augmentation"] = self.name
        return LabelledWindows(emg, np.asarray(windows.labels).copy(), meta)


def make_augment(name: str, **overrides: float) -> AugmentSpec:
    """An AugmentSpec by name, defaults overridden by keyword; unknown names or parameters are one-line errors."""
    if name not in AUGMENTATIONS:
        raise EmgaugError(f"unknown augmentation {name!r}; choose from {', '.join(AUGMENTATIONS)}")
    defaults = AUGMENTATIONS[name][1]
    bad = [k for k in overrides if k not in defaults]
    if bad:
        raise EmgaugError(f"augmentation {name} has no parameter {', '.join(bad)}; it takes {', '.join(defaults)}")
    params = {k: float(overrides.get(k, v)) for k, v in defaults.items()}
    for k in INT_PARAMS:
        if k in params:
            if params[k] != int(params[k]) or params[k] < 1:
                raise EmgaugError(f"augmentation {name}: {k} must be a positive integer, got {params[k]:g}")
            params[k] = int(params[k])
    return AugmentSpec(name, params)


def parse_augment(items: str | Sequence[str | AugmentSpec] | None) -> list[AugmentSpec]:
    """'noise,magwarp@sigma=0.3' or ['noise', 'timewarp@sigma=0.1;knots=6'] (or AugmentSpecs) -> specs;
    '', 'none' or None -> []."""
    if items is None:
        return []
    if isinstance(items, str):
        items = [t for t in items.split(",")]
    out: list[AugmentSpec] = []
    for it in items:
        if isinstance(it, AugmentSpec):
            spec = make_augment(it.name, **it.params)
        else:
            text = str(it).strip()
            if not text or text.lower() == "none":
                continue
            name, _, opts = text.partition("@")
            kv = {}
            for part in (p.strip() for p in opts.split(";") if p.strip()):
                key, eq, val = part.partition("=")
                try:
                    kv[key.strip()] = float(val)
                except ValueError:
                    eq = ""
                if not eq:
                    raise EmgaugError(f"--augment {text!r}: expected name@key=value;key=value with numeric values")
            spec = make_augment(name.strip().lower(), **kv)
        if spec.name in {s.name for s in out}:
            raise EmgaugError(f"--augment names {spec.name} twice; each augmentation gives one GR/MR pair of rows")
        out.append(spec)
    return out
