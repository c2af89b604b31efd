"""Transformer sequence-to-sequence peer (after Seq2Seq-EMG): a bidirectional encoder over angle frames and a
causal decoder over EMG frames (one frame = `upsample` samples x C channels), trained with teacher forcing on
a per-frame Gaussian NLL and sampled autoregressively at generation time."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.models.base import Batch, EMGGenerator, check_angles, frame_mask, scalar
from emgaug.models.gaussian import PatchGaussianHead, emg_to_patches, gaussian_nll, patches_to_emg, sample_patches


def sinusoidal_positions(n: int, d: int, device: torch.device) -> Tensor:
    """Fixed sinusoidal position codes (n, d), so any sequence length works."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    div = torch.exp(torch.arange(0, d, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d, device=device)
    pe[:, 0::2] = torch.sin(pos * div)
    pe[:, 1::2] = torch.cos(pos * div)[:, : d // 2]
    return pe


class TransformerSeq2Seq(EMGGenerator):
    """Angles -> EMG with a bidirectional encoder and a causal, autoregressive decoder over EMG frames."""

    name = "transformer_seq2seq"
    fast_lr = {"g": 5e-4}

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, d_model: int = 128, heads: int = 4,
                 encoder_layers: int = 2, decoder_layers: int = 2, ff_dim: int = 256, dropout: float = 0.1, **style):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, **style)
        C, up = num_channels, self.upsample
        self.d_model = d_model
        self.angle_in = nn.Linear(self.cond_dim, d_model)
        self.emg_in = nn.Linear(C * up, d_model)
        self.start = nn.Parameter(torch.zeros(1, 1, d_model))
        enc = nn.TransformerEncoderLayer(d_model, heads, ff_dim, dropout, batch_first=True, norm_first=True)
        dec = nn.TransformerDecoderLayer(d_model, heads, ff_dim, dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(enc, encoder_layers, norm=nn.LayerNorm(d_model), enable_nested_tensor=False)
        self.decoder = nn.TransformerDecoder(dec, decoder_layers, norm=nn.LayerNorm(d_model))
        self.head = PatchGaussianHead(d_model, C, up)

    def _memory(self, angles: Tensor) -> Tensor:
        x = self.angle_in(angles.transpose(1, 2))
        return self.encoder(x + sinusoidal_positions(x.shape[1], self.d_model, x.device))

    def _decode(self, prev_patches: Tensor, memory: Tensor) -> tuple[Tensor, Tensor]:
        """prev_patches (B, n, C, up) are frames 0..n-1; returns the distribution of frames 0..n (start token)."""
        B, n = prev_patches.shape[:2]
        y = torch.cat([self.start.expand(B, 1, -1), self.emg_in(prev_patches.reshape(B, n, self.emg_in.in_features))], 1)
        y = y + sinusoidal_positions(y.shape[1], self.d_model, y.device)
        causal = nn.Transformer.generate_square_subsequent_mask(y.shape[1], device=y.device)
        return self.head(self.decoder(y, memory, tgt_mask=causal, tgt_is_causal=True))

    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:
        if part != "g":
            raise KeyError(part)
        target = emg_to_patches(batch["emg"], self.upsample)  # (B, Ta, C, up)
        style, align = self.training_style(batch)
        memory = self._memory(self.conditioning(batch["angles"], style))
        mean, logstd = self._decode(target[:, :-1], memory)  # teacher forcing
        nll = gaussian_nll(mean, logstd, target, frame_mask(batch))
        logs = {"nll": scalar(nll)}
        return self.with_alignment(nll, align, logs), logs

    @torch.no_grad()
    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        check_angles(self, angles)
        memory = self._memory(self.conditioning(angles, style))
        B, Ta = angles.shape[0], angles.shape[-1]
        frames = torch.zeros(B, 0, self.num_channels, self.upsample, device=angles.device)
        for _ in range(Ta):
            mean, logstd = self._decode(frames, memory)
            nxt = sample_patches(mean[:, -1:], logstd[:, -1:], generator)
            frames = torch.cat([frames, nxt], 1)
        return patches_to_emg(frames)
