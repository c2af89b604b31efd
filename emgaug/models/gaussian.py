"""Per-frame Gaussian emission shared by the regressors (transformer, WaveNet): each angle frame predicts the
mean of its `upsample` EMG samples per channel and one log-std per channel. Trained by Gaussian NLL, so the
predicted amplitude follows the real EMG instead of collapsing to zero as a plain L2 regressor would;
generation samples mean + std * white noise."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from emgaug.models.base import masked_mean, randn

LOGSTD_MIN, LOGSTD_MAX = -7.0, 3.0


class PatchGaussianHead(nn.Module):
    """(B, Ta, d) features -> mean (B, Ta, C, up) and log-std (B, Ta, C, 1)."""

    def __init__(self, d: int, channels: int, upsample: int):
        super().__init__()
        self.C, self.up = channels, upsample
        self.mean = nn.Linear(d, channels * upsample)
        self.logstd = nn.Linear(d, channels)

    def forward(self, h: Tensor) -> tuple[Tensor, Tensor]:
        B, Ta, _ = h.shape
        mean = self.mean(h).float().reshape(B, Ta, self.C, self.up)
        logstd = self.logstd(h).float().clamp(LOGSTD_MIN, LOGSTD_MAX).reshape(B, Ta, self.C, 1)
        return mean, logstd


def emg_to_patches(emg: Tensor, upsample: int) -> Tensor:
    """(B, C, Ta * up) -> (B, Ta, C, up)."""
    B, C, T = emg.shape
    return emg.reshape(B, C, T // upsample, upsample).permute(0, 2, 1, 3)


def patches_to_emg(p: Tensor) -> Tensor:
    """(B, Ta, C, up) -> (B, C, Ta * up)."""
    B, Ta, C, up = p.shape
    return p.permute(0, 2, 1, 3).reshape(B, C, Ta * up)


def gaussian_nll(mean: Tensor, logstd: Tensor, target: Tensor, frame_mask: Tensor) -> Tensor:
    """Mean per-sample Gaussian negative log-likelihood over valid frames (B, Ta mask)."""
    z = (target.float() - mean) * torch.exp(-logstd)
    nll = 0.5 * z.pow(2) + logstd + 0.5 * math.log(2 * math.pi)
    return masked_mean(nll, frame_mask[:, :, None, None])


def sample_patches(mean: Tensor, logstd: Tensor, generator: torch.Generator | None) -> Tensor:
    """Draw mean + std * eps with eps from `generator` when given."""
    return mean + logstd.exp() * randn(tuple(mean.shape), mean, generator)
