"""Whose EMG is it? The person as an input to every conditional generator.

EMG amplitude and the kinematics -> channel mapping differ far more between people than between repetitions,
so a generator that sees only the kinematics can only learn the population average. `SubjectStyle` gives
each generator a style vector per window:

- a learned embedding per training user (row `num_users` is the "unknown person" / null style), and
- a reference encoder that computes a style vector from a short clip of anyone's real EMG with its kinematics
  (the speaker-embedding idea of voice cloning), so a person never seen in training can be rendered from a
  calibration clip.

Training: the generator is driven by the embedding of the window's user; for a random `ref_prob` of the
windows the embedding is replaced by the reference encoder's vector of ANOTHER window of the same user, and
for `drop_prob` by the null style (so the model also learns the population average, which classifier-free
guidance and unknown users need). The encoder is additionally pulled towards the (detached) embedding of the
clip's user (`align_weight`), so both routes land in one space and a clip of a training user lands near
that user's embedding.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

LOG_FLOOR = 1e-4  # normalised units: keeps log power finite on silent or padded frames


def _frame_log_power(emg: Tensor, block: int) -> Tensor:
    """(B, C, T) -> (B, C, T // block) log mean power per angle frame."""
    B, C, T = emg.shape
    n = T // block
    p = emg[..., : n * block].float().pow(2).reshape(B, C, n, block).mean(-1)
    return torch.log(p + LOG_FLOOR)


def _band_log_power(emg: Tensor, bands: int) -> Tensor:
    """(B, C, T) -> (B, C * bands) log power in `bands` equal-width frequency bands (texture of raw EMG)."""
    spec = torch.fft.rfft(emg.float(), dim=-1).abs().pow(2) / emg.shape[-1]
    F_ = spec.shape[-1]
    edges = torch.linspace(0, F_, bands + 1).round().long().tolist()
    parts = [spec[..., a:max(b, a + 1)].mean(-1) for a, b in zip(edges[:-1], edges[1:])]
    return torch.log(torch.stack(parts, -1) + LOG_FLOOR).flatten(1)


class ReferenceEncoder(nn.Module):
    """A clip of real windows (EMG + kinematics) -> one style vector; per-window codes are averaged."""

    def __init__(self, num_channels: int, num_joints: int, upsample: int, dim: int, width: int = 64, bands: int = 4):
        super().__init__()
        self.upsample, self.bands = upsample, bands
        self.frames = nn.Sequential(nn.Conv1d(num_channels + num_joints, width, 3, padding=1), nn.LeakyReLU(0.2),
                                    nn.Conv1d(width, width, 3, padding=1), nn.LeakyReLU(0.2))
        self.out = nn.Sequential(nn.Linear(2 * width + num_channels * bands, width), nn.LeakyReLU(0.2),
                                 nn.Linear(width, dim))

    def encode_windows(self, emg: Tensor, angles: Tensor, angle_mask: Tensor | None = None) -> Tensor:
        """Per-window codes (B, dim) from emg (B, C, T) and kinematics (B, J, Ta) in normalised units."""
        with torch.autocast(emg.device.type, enabled=False):
            lp = _frame_log_power(emg, self.upsample)
            Ta = min(lp.shape[-1], angles.shape[-1])
            h = self.frames(torch.cat([lp[..., :Ta], angles[..., :Ta].float()], 1))
            m = torch.ones_like(h[:, :1]) if angle_mask is None else angle_mask[:, None, :Ta].float()
            n = m.sum(-1).clamp_min(1.0)
            mean = (h * m).sum(-1) / n
            std = (((h - mean[..., None]) ** 2 * m).sum(-1) / n + 1e-6).sqrt()
            return self.out(torch.cat([mean, std, _band_log_power(emg, self.bands)], 1))

    def forward(self, emg: Tensor, angles: Tensor, angle_mask: Tensor | None = None) -> Tensor:
        """One style vector (1, dim) for a clip of K windows: the mean of the window codes."""
        return self.encode_windows(emg, angles, angle_mask).mean(0, keepdim=True)


class SubjectStyle(nn.Module):
    """Style vectors from user indices (embedding) or from reference clips (encoder); see the module docstring."""

    def __init__(self, num_users: int, num_channels: int, num_joints: int, upsample: int, *, dim: int = 16,
                 ref_prob: float = 0.5, drop_prob: float = 0.1, align_weight: float = 1.0):
        super().__init__()
        if num_users < 1:
            raise ValueError("SubjectStyle needs at least one training user")
        for name, p in (("style_ref_prob", ref_prob), ("style_drop_prob", drop_prob)):
            if not 0.0 <= p <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {p}")
        if dim < 1:
            raise ValueError(f"style_dim must be >= 1, got {dim}")
        self.num_users, self.dim = int(num_users), int(dim)
        self.ref_prob, self.drop_prob, self.align_weight = float(ref_prob), float(drop_prob), float(align_weight)
        self.embedding = nn.Embedding(num_users + 1, dim)  # row num_users: the null / unknown-person style
        nn.init.normal_(self.embedding.weight, std=0.5)
        self.reference = ReferenceEncoder(num_channels, num_joints, upsample, dim)

    @property
    def null_index(self) -> int:
        return self.num_users

    def from_users(self, users: Tensor) -> Tensor:
        """(B,) user indices (-1 or out of range = unknown) -> (B, dim)."""
        idx = torch.where((users >= 0) & (users < self.num_users), users, torch.full_like(users, self.null_index))
        return self.embedding(idx.long())

    def null(self, batch: int, like: Tensor) -> Tensor:
        return self.embedding.weight[self.null_index].to(like.device).expand(batch, -1)

    def training_style(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor | None]:
        """(style (B, dim), alignment loss or None) for one training batch, with the random route choices."""
        users = batch.get("user")
        B = batch["angles"].shape[0]
        if users is None:
            return self.null(B, batch["angles"]), None
        emb = self.from_users(users)
        style, align = emb, None
        if "ref_emg" in batch:
            ref = self.reference.encode_windows(batch["ref_emg"], batch["ref_angles"], batch.get("ref_angle_mask"))
            known = ((users >= 0) & (users < self.num_users)).float()[:, None]
            align = ((ref - emb.detach()).pow(2) * known).sum() / (known.sum() * self.dim).clamp_min(1.0)
            use_ref = (torch.rand(B, 1, device=emb.device) < self.ref_prob).to(emb.dtype)
            style = use_ref * ref + (1 - use_ref) * emb
        if self.drop_prob > 0:
            drop = (torch.rand(B, 1, device=emb.device) < self.drop_prob).to(style.dtype)
            style = drop * self.null(B, style) + (1 - drop) * style
        return style, align
