"""The ridge baseline on both kinds of EMG: raw (zero-mean carrier) and rectified envelopes (Ninapro DB1)."""

from __future__ import annotations

import numpy as np
import torch

from emgaug.data.windows import WindowConfig
from emgaug.models.registry import build_model


def _batches(kind: str, n: int = 64, seed: int = 0):
    """Angles (B, 3, 25) drive a per-channel log amplitude; EMG is raw (amplitude x noise) or a smooth envelope."""
    g = torch.Generator().manual_seed(seed)
    window = WindowConfig(window_s=1.0, angle_rate_hz=25).resolve(100.0)
    Ta, T = window.angle_frames, window.window
    t = torch.linspace(0, 1, Ta)
    phase = torch.rand(n, 3, 1, generator=g) * 6.28
    angles = torch.sin(2 * 6.28 * t + phase)
    W = torch.tensor([[1.0, 0.0, -0.5], [0.0, 1.0, 0.5]])
    log_amp = torch.einsum("cj,bjt->bct", W, angles)
    amp = torch.nn.functional.interpolate(log_amp.exp(), size=T, mode="linear")
    emg = amp * torch.randn(n, 2, T, generator=g) if kind == "raw" else amp
    batch = {"emg": emg.float(), "angles": angles.float(), "angle_mask": torch.ones(n, Ta, dtype=torch.bool),
             "emg_mask": torch.ones(n, T, dtype=torch.bool), "label": torch.zeros(n, dtype=torch.long)}
    return window, batch, amp


def test_ridge_reproduces_a_rectified_envelope_rather_than_noise():
    window, batch, amp = _batches("envelope")
    model = build_model("ridge", 2, 3, window, 1)
    model.fit([batch])
    assert abs(float(model.carrier_mean.mean()) - 1.0) < 0.05  # envelope data: carrier ~1, not zero-mean noise
    out = model.generate(batch["angles"], generator=torch.Generator().manual_seed(1))
    assert (out > -0.05).float().mean() > 0.99  # stays a (non-negative) envelope
    r = np.corrcoef(out.flatten().numpy(), amp.flatten().numpy())[0, 1]
    assert r > 0.8, r


def test_ridge_on_raw_emg_draws_a_zero_mean_carrier_with_the_right_amplitude():
    window, batch, amp = _batches("raw")
    model = build_model("ridge", 2, 3, window, 1)
    model.fit([batch])
    assert abs(float(model.carrier_mean.abs().max())) < 0.1 and abs(float(model.carrier_std.mean()) - 1.0) < 0.2
    out = model.generate(batch["angles"], generator=torch.Generator().manual_seed(1))
    frames = lambda x: x.pow(2).reshape(*x.shape[:2], -1, 10).mean(-1).sqrt().flatten().numpy()  # noqa: E731
    r = np.corrcoef(frames(out), frames(amp))[0, 1]
    assert r > 0.6, r
    assert abs(float(out.mean())) < 0.1 * float(out.std())
