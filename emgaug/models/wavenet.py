"""WaveNet-style peer (after the Sliding-Window-Wave-Net of Basak et al. 2025): a stack of dilated causal
convolutions with gated activations, residual and skip connections, run over the angle frames of each sliding
window; every frame's output depends only on the past receptive field and predicts that frame's EMG samples
(per-frame Gaussian: mean samples and per-channel amplitude)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.models.base import Batch, EMGGenerator, check_angles, frame_mask, scalar
from emgaug.models.gaussian import PatchGaussianHead, emg_to_patches, gaussian_nll, patches_to_emg, sample_patches


class CausalResidualBlock(nn.Module):
    """Gated dilated causal conv (tanh * sigmoid) with residual and skip 1x1 outputs."""

    def __init__(self, channels: int, skip: int, dilation: int, kernel: int = 2):
        super().__init__()
        self.pad = (kernel - 1) * dilation
        self.conv = nn.Conv1d(channels, 2 * channels, kernel, dilation=dilation)
        self.res = nn.Conv1d(channels, channels, 1)
        self.skip = nn.Conv1d(channels, skip, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = self.conv(F.pad(x, (self.pad, 0))).chunk(2, dim=1)
        h = torch.tanh(a) * torch.sigmoid(b)
        return x + self.res(h), self.skip(h)


class WaveNetRegressor(EMGGenerator):
    """Dilated causal conv regressor from angle frames to per-frame EMG distributions."""

    name = "wavenet"
    fast_lr = {"g": 1e-3}

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, residual: int = 64, skip: int = 128,
                 dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1, 2, 4, 8, 16), **style):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, **style)
        self.inp = nn.Conv1d(self.cond_dim, residual, 1)
        self.blocks = nn.ModuleList(CausalResidualBlock(residual, skip, d) for d in dilations)
        self.post = nn.Sequential(nn.ReLU(), nn.Conv1d(skip, skip, 1), nn.ReLU())
        self.head = PatchGaussianHead(skip, num_channels, self.upsample)
        self.receptive_field = 1 + sum(dilations)  # frames

    def _distribution(self, angles: Tensor) -> tuple[Tensor, Tensor]:
        x = self.inp(angles)
        total = 0
        for blk in self.blocks:
            x, s = blk(x)
            total = total + s
        return self.head(self.post(total).transpose(1, 2))

    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:
        if part != "g":
            raise KeyError(part)
        style, align = self.training_style(batch)
        mean, logstd = self._distribution(self.conditioning(batch["angles"], style))
        nll = gaussian_nll(mean, logstd, emg_to_patches(batch["emg"], self.upsample), frame_mask(batch))
        logs = {"nll": scalar(nll)}
        return self.with_alignment(nll, align, logs), logs

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        check_angles(self, angles)
        mean, logstd = self._distribution(self.conditioning(angles, style))
        return patches_to_emg(sample_patches(mean, logstd, generator))
