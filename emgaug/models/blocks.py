"""Convolutional building blocks shared by the generators: a transposed-convolution decoder that upsamples
from the angle frame rate to the EMG rate, and a strided discriminator trunk that goes back down."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from emgaug.models.base import factorize, randn


def _norm(kind: str, ch: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(ch)
    if kind == "group":
        return nn.GroupNorm(min(8, ch), ch)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown norm '{kind}'")


class NoiseInjection(nn.Module):
    """Adds per-sample Gaussian noise with a learned per-channel scale: the source of high-rate EMG texture
    that a decoder driven only by frame-rate features cannot produce."""

    def __init__(self, ch: int, init: float = 1.0):
        super().__init__()
        self.scale = nn.Parameter(torch.full((1, ch, 1), init))

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        return x + self.scale * randn(tuple(x.shape), x, generator).to(x.dtype)


class UpStage(nn.Module):
    """One upsampling stage: transposed conv by `factor`, norm, LeakyReLU, optional noise, smoothing conv."""

    def __init__(self, cin: int, cout: int, factor: int, norm: str, noise: bool, noise_init: float = 1.0):
        super().__init__()
        self.factor = factor
        self.up = nn.ConvTranspose1d(cin, cout, kernel_size=2 * factor, stride=factor, padding=factor // 2)
        self.n1 = _norm(norm, cout)
        self.noise = NoiseInjection(cout, noise_init) if noise else None
        self.conv = nn.Conv1d(cout, cout, kernel_size=5, padding=2)
        self.n2 = _norm(norm, cout)
        self.act = nn.LeakyReLU(0.2)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        L = x.shape[-1]
        x = self.up(x)[..., : L * self.factor]  # odd factors give one extra sample
        x = self.act(self.n1(x))
        if self.noise is not None:
            x = self.noise(x, generator)
        return self.act(self.n2(self.conv(x)))


class UpsampleDecoder(nn.Module):
    """(B, cin, Ta) frame-rate features -> (B, cout, Ta * upsample) EMG, one stage per factor of `upsample`."""

    def __init__(self, cin: int, cout: int, upsample: int, width: int = 128, min_width: int = 32,
                 norm: str = "group", noise: bool = True, noise_init: float = 1.0):
        super().__init__()
        self.factors = factorize(upsample)
        self.stem = nn.Sequential(nn.Conv1d(cin, width, kernel_size=3, padding=1), nn.LeakyReLU(0.2))
        stages, w = [], width
        for f in self.factors:
            w_next = max(min_width, w // 2)
            stages.append(UpStage(w, w_next, f, norm, noise, noise_init))
            w = w_next
        self.stages = nn.ModuleList(stages)
        self.head = nn.Conv1d(w, cout, kernel_size=7, padding=3)

    def forward(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        x = self.stem(x)
        for st in self.stages:
            x = st(x, generator)
        return self.head(x)


class DownsampleTrunk(nn.Module):
    """(B, cin, Ta * downsample) EMG -> (B, width_out, Ta) features at the angle frame rate (spectral-normed)."""

    def __init__(self, cin: int, downsample: int, width: int = 32, max_width: int = 128, sn: bool = True):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        layers: list[nn.Module] = [wrap(nn.Conv1d(cin, width, kernel_size=7, padding=3)), nn.LeakyReLU(0.2)]
        w = width
        for f in sorted(factorize(downsample)):  # small factors first, at the highest rate
            w_next = min(max_width, w * 2)
            layers += [wrap(nn.Conv1d(w, w_next, kernel_size=2 * f, stride=f, padding=(f + 1) // 2)), nn.LeakyReLU(0.2)]
            w = w_next
        self.net = nn.Sequential(*layers)
        self.out_channels = w

    def forward(self, x: Tensor, frames: int) -> Tensor:
        return self.net(x)[..., :frames]

    def activations(self, x: Tensor) -> list[Tensor]:
        """Every LeakyReLU output, for feature matching."""
        return _activations(self.net, x)


class FrameCritic(nn.Module):
    """Per-frame logits from trunk features concatenated with frame-rate conditioning (may be empty)."""

    def __init__(self, cin: int, width: int = 128, sn: bool = True):
        super().__init__()
        wrap = spectral_norm if sn else (lambda m: m)
        self.net = nn.Sequential(
            wrap(nn.Conv1d(cin, width, kernel_size=3, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv1d(width, width, kernel_size=3, padding=1)), nn.LeakyReLU(0.2),
            wrap(nn.Conv1d(width, 1, kernel_size=1)),
        )

    def forward(self, feats: Tensor) -> Tensor:
        return self.net(feats)[:, 0]  # (B, Ta)

    def activations(self, feats: Tensor) -> list[Tensor]:
        return _activations(self.net, feats)


def _activations(seq: nn.Sequential, x: Tensor) -> list[Tensor]:
    out = []
    for layer in seq:
        x = layer(x)
        if isinstance(layer, nn.LeakyReLU):
            out.append(x)
    return out
