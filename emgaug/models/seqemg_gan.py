"""SeqEMG-GAN (Li et al. 2025, arXiv 2509.23359): angle encoder, global latent h0 (Eq. 1) with KL to N(0, I)
(Eq. 9), two-layer context encoder (GRU over angle embedding || noise, Eq. 2, then the Ang2Gist unit, Eq. 3-4),
a transposed-convolution EMG generator (Eq. 5) and a discriminator conditioned on the angles and h0 (Eq. 6),
trained on alpha * L_GAN + L_KL (Eq. 7-8).

Choices the paper leaves open, made here and stated:
- The recurrent layers run at the angle frame rate (50 Hz by default; angles are smooth) in float32, and the
  generator upsamples to the EMG rate with one transposed-conv stage per factor of the rate ratio.
- h0 initialises the Ang2Gist hidden state (it is Eq. 3's h_0) and, through a linear map, the GRU's state.
- Eq. 4 computes a reset gate r_t but never uses it; we use the standard GRU placement of r_t (cuDNN), which
  reduces to Eq. 4 exactly when r_t = 1. o_t = Filter(i)_t * h_t with Filter a depthwise-separable conv along
  time (kernel 5, stride 1, padding 2, Xavier-uniform), as the paper specifies.
- Per-sample noise injection in the generator (flag `noise_injection`) supplies the EMG-rate texture.
  The generator has no normalisation layers by default (`gen_norm`): per-sample GroupNorm erased the
  window-to-window amplitude differences (rest vs. contraction) that EMG must keep. Noise scales start at
  1 (`noise_init`) so the initial output is noise-like at the unit scale of normalised EMG; at 0.1 the
  generator started as near-DC output that the discriminator rejected at once and never recovered.
- `zero_mean_output` (off by default) removes each generated window's per-channel mean.
- The discriminator scores every angle frame (m_t of Eq. 6); h0 enters it detached, as a condition.
- Ablation (d) "w/o discriminator" trains with L1 reconstruction + KL (the paper's "Non-GAN" baseline).
- `feature_loss_weight` > 0 adds paired log-envelope/log-spectrum L1; off by default (paper objective).
- Person conditioning (not in the paper; on by default when the training data has users, `subject=false`
  restores the paper's model): the style vector of emgaug.models.style is appended to every angle frame, for
  the generator and the discriminator alike (so a matching-aware discriminator also checks the person).
- `mismatch_weight` > 0 makes the discriminator matching-aware (Reed et al. 2016, GAN-CLS): real EMG paired with
  another window's angles and h0 (the batch rolled by one) is also scored as fake, so realism alone no longer
  fools it and the generator must follow the angles. Off by default (paper objective).
- A vocoder-grade recipe (Parallel WaveGAN / MelGAN / HiFi-GAN), each term off by default: `stft_loss_weight`
  (paired multi-resolution STFT loss), `disc_scales` (the critic also on 2x, 4x ... average-pooled EMG) and
  `fm_loss_weight` (L1 between the critic's hidden activations on fake and real windows).
- alpha defaults to 2: the paper's only stated loss weight ("the weight parameter lambda is set to 2").
- L_GAN is the per-frame binary cross-entropy of Eq. 8; the generator uses the usual non-saturating form
  (maximise log D(G)) and steps before the discriminator, which then scores that step's (detached) fakes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.models.base import Batch, EMGGenerator, check_angles, frame_mask, scalar, masked_mean, randn, sample_mask
from emgaug.models.blocks import DownsampleTrunk, FrameCritic, UpsampleDecoder
from emgaug.models.losses import (adv_loss, discriminator_feature_loss, feature_matching_loss, kl_standard_normal,
                                  multi_resolution_stft_loss, stft_sizes)


class AngleEncoder(nn.Module):
    """Per-frame joint-angle embedding with a little temporal context (two 3-tap convolutions)."""

    def __init__(self, num_joints: int, dim: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv1d(num_joints, dim, 3, padding=1), nn.LeakyReLU(0.2),
                                 nn.Conv1d(dim, dim, 3, padding=1), nn.LeakyReLU(0.2))

    def forward(self, angles: Tensor) -> Tensor:
        return self.net(angles)


class Ang2Gist(nn.Module):
    """Upper context layer (Eq. 4): gated recurrence h_t from i_t started at h0, and the gist
    o_t = Filter(i)_t * h_t with a depthwise-separable temporal filter over the GRU outputs."""

    def __init__(self, in_dim: int, hidden: int, kernel: int = 5):
        super().__init__()
        self.cell = nn.GRU(in_dim, hidden, batch_first=True)
        self.depthwise = nn.Conv1d(in_dim, in_dim, kernel, stride=1, padding=kernel // 2, groups=in_dim)
        self.pointwise = nn.Conv1d(in_dim, hidden, 1)
        for conv in (self.depthwise, self.pointwise):
            nn.init.xavier_uniform_(conv.weight)
            nn.init.zeros_(conv.bias)

    def forward(self, i: Tensor, h0: Tensor) -> Tensor:
        """i: (B, Ta, in_dim), h0: (B, hidden) -> o: (B, Ta, hidden)."""
        h, _ = self.cell(i, h0.unsqueeze(0).contiguous())
        filt = self.pointwise(self.depthwise(i.transpose(1, 2))).transpose(1, 2)
        return filt * h


class SeqEMGGAN(EMGGenerator):
    """Angle-sequence-conditioned EMG GAN; each component can be switched off for the paper's ablations."""

    name = "seqemg_gan"
    conditions_on_angles = True

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, angle_encoder: bool = True, gru: bool = True,
                 ang2gist: bool = True, discriminator: bool = True,
                 embed_dim: int = 64, noise_dim: int = 16, hidden: int = 128, latent_dim: int = 64,
                 filter_kernel: int = 5, gen_width: int = 128, disc_width: int = 32, noise_injection: bool = True,
                 gen_norm: str = "none", noise_init: float = 1.0, zero_mean_output: bool = False,
                 alpha: float = 2.0, feature_loss_weight: float = 0.0, mismatch_weight: float = 0.0,
                 stft_loss_weight: float = 0.0, fm_loss_weight: float = 0.0, disc_scales: int = 1, **style):
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, **style)
        self.use_angle_encoder, self.use_gru, self.use_ang2gist = angle_encoder, gru, ang2gist
        self.use_discriminator = discriminator
        self.noise_dim, self.latent_dim = noise_dim, latent_dim
        self.alpha, self.feature_loss_weight = float(alpha), float(feature_loss_weight)
        self.mismatch_weight = float(mismatch_weight)
        self.stft_loss_weight, self.fm_loss_weight = float(stft_loss_weight), float(fm_loss_weight)
        if disc_scales < 1:
            raise ValueError(f"disc_scales must be >= 1, got {disc_scales}")
        self.parts = ("g", "d") if discriminator else ("g",)
        self.fast_lr = {"g": 2e-4, "d": 2e-4} if discriminator else {"g": 1e-3}
        J, C = self.cond_dim, num_channels  # angles plus the person's style vector per frame

        self.angle_encoder = AngleEncoder(J, embed_dim) if angle_encoder else None
        e_dim = embed_dim if angle_encoder else J
        self.posterior = nn.Linear(2 * e_dim, 2 * latent_dim)  # mu(S), log sigma^2(S) from pooled frames
        self.g0 = nn.Linear(latent_dim, hidden)
        self.lower = (nn.GRU(e_dim + noise_dim, hidden, batch_first=True) if gru
                      else nn.Sequential(nn.Linear(e_dim + noise_dim, hidden), nn.Tanh()))
        self.upper = (Ang2Gist(hidden, latent_dim, filter_kernel) if ang2gist
                      else nn.Linear(hidden, latent_dim))
        self.generator_net = UpsampleDecoder(latent_dim, C, self.upsample, width=gen_width, norm=gen_norm,
                                             noise=noise_injection, noise_init=noise_init)
        self.zero_mean_output = zero_mean_output
        if discriminator:
            self.disc_trunk = DownsampleTrunk(C, self.upsample, width=disc_width)
            self.disc_h0 = nn.Linear(latent_dim, 16)
            self.disc_head = FrameCritic(self.disc_trunk.out_channels + J + 16)
            # multi-scale critic (MelGAN): the same critic on 2x, 4x ... average-pooled EMG, as far as the pooled
            # signal still has whole angle frames
            self.pool_factors = [f for f in (2 ** k for k in range(1, disc_scales)) if self.upsample % f == 0]
            self.disc_extra_trunks = nn.ModuleList(DownsampleTrunk(C, self.upsample // f, width=disc_width)
                                                   for f in self.pool_factors)
            self.disc_extra_heads = nn.ModuleList(FrameCritic(t.out_channels + J + 16) for t in self.disc_extra_trunks)
        # fake EMG and h0 of the last generator step, reused by the discriminator step on the same batch
        self._cache: tuple[Tensor, Tensor] | None = None

    # -- generator path ---------------------------------------------------------------------------------
    def _encode(self, angles: Tensor, mask: Tensor | None, generator: torch.Generator | None):
        """Angle embedding (B, Ta, E), h0 (B, L), mu, logvar; recurrent parts in float32."""
        with torch.autocast(angles.device.type, enabled=False):
            a = angles.float()
            e = self.angle_encoder(a) if self.angle_encoder is not None else a  # (B, E, Ta)
            m = torch.ones_like(e[:, :1]) if mask is None else mask.float()[:, None, :]
            n = m.sum(-1).clamp_min(1.0)
            mean = (e * m).sum(-1) / n
            std = (((e - mean[..., None]) ** 2 * m).sum(-1) / n + 1e-6).sqrt()
            mu, logvar = self.posterior(torch.cat([mean, std], 1)).chunk(2, dim=1)
            logvar = logvar.clamp(-10.0, 10.0)
            h0 = mu + (0.5 * logvar).exp() * randn(tuple(mu.shape), mu, generator)
            return e.transpose(1, 2), h0, mu, logvar

    def _context(self, e: Tensor, h0: Tensor, generator: torch.Generator | None) -> Tensor:
        """Gist sequence o (B, L, Ta) from the embedding, per-frame noise eps_t and h0 (Eq. 2-4)."""
        with torch.autocast(e.device.type, enabled=False):
            B, Ta, _ = e.shape
            eps = randn((B, Ta, self.noise_dim), e, generator)
            x = torch.cat([e, eps], -1)
            if self.use_gru:
                i, _ = self.lower(x, torch.tanh(self.g0(h0)).unsqueeze(0).contiguous())
            else:
                i = self.lower(x)
            o = self.upper(i, h0) if self.use_ang2gist else self.upper(i)
            return o.transpose(1, 2)

    def synthesise(self, angles: Tensor, mask: Tensor | None = None, generator: torch.Generator | None = None):
        """(fake EMG, h0, mu, logvar) for conditioning frames `angles` (B, cond_dim, Ta)."""
        e, h0, mu, logvar = self._encode(angles, mask, generator)
        o = self._context(e, h0, generator)
        x = self.generator_net(o, generator)
        if self.zero_mean_output:
            x = x - x.mean(-1, keepdim=True)
        return x, h0, mu, logvar

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        check_angles(self, angles)
        return self.synthesise(self.conditioning(angles, style), None, generator)[0]

    # -- discriminator ----------------------------------------------------------------------------------
    def _critics(self):
        yield 1, self.disc_trunk, self.disc_head
        yield from zip(self.pool_factors, self.disc_extra_trunks, self.disc_extra_heads)

    def discriminate(self, emg: Tensor, angles: Tensor, h0: Tensor, activations: list[Tensor] | None = None) -> Tensor:
        """Per-frame realism logits m_t (B, Ta) of `emg` given the conditioning frames and (detached) h0; with a
        multi-scale critic (S, B, Ta), one row per scale. `activations`, when given, receives every hidden layer's
        output (feature matching)."""
        Ta = angles.shape[-1]
        out = []
        for f, trunk, head in self._critics():
            x = emg if f == 1 else F.avg_pool1d(emg, f)
            feats = trunk(x, Ta)
            hc = self.disc_h0(h0.detach().to(feats.dtype))[..., None].expand(-1, -1, Ta)
            cond = torch.cat([feats, angles.to(feats.dtype), hc], 1)
            out.append(head(cond))
            if activations is not None:
                activations += trunk.activations(x) + head.activations(cond)
        return out[0] if len(out) == 1 else torch.stack(out)

    # -- training ---------------------------------------------------------------------------------------
    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:
        if part == "g":
            return self._generator_loss(batch)
        if part == "d" and self.use_discriminator:
            return self._discriminator_loss(batch)
        raise KeyError(f"{self.name} has no part '{part}'")

    def _conditioned(self, batch: Batch) -> tuple[Tensor, Tensor | None]:
        """Conditioning frames (angles + style) of a training batch, cached for the discriminator step."""
        style, align = self.training_style(batch)
        return self.conditioning(batch["angles"], style), align

    def _generator_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        real = batch["emg"]
        angles, align = self._conditioned(batch)
        fm, sm = frame_mask(batch), sample_mask(batch)
        fake, h0, mu, logvar = self.synthesise(angles, fm)
        self._cache = (fake.detach(), h0.detach(), angles.detach())
        kl = kl_standard_normal(mu, logvar)
        logs = {"kl": scalar(kl)}
        if self.use_discriminator:
            fake_acts: list[Tensor] | None = [] if self.fm_loss_weight > 0 else None
            adv = adv_loss(self.discriminate(fake, angles, h0, fake_acts), True, fm)
            loss = self.alpha * adv + kl
            logs["g_adv"] = scalar(adv)
            if fake_acts is not None:
                real_acts: list[Tensor] = []
                with torch.no_grad():
                    self.discriminate(real, angles, h0, real_acts)
                dfm = discriminator_feature_loss(fake_acts, real_acts)
                loss = loss + self.fm_loss_weight * dfm
                logs["d_feat_match"] = scalar(dfm)
        else:
            rec = masked_mean((fake.float() - real.float()).abs(), sm)
            loss = rec + kl
            logs["recon_l1"] = scalar(rec)
        if self.feature_loss_weight > 0:
            feat = feature_matching_loss(fake, real, sm, self.upsample)
            loss = loss + self.feature_loss_weight * feat
            logs["feat"] = scalar(feat)
        if self.stft_loss_weight > 0:
            with torch.autocast(fake.device.type, enabled=False):
                stft = multi_resolution_stft_loss(fake, real, sm, stft_sizes(fake.shape[-1]))
            loss = loss + self.stft_loss_weight * stft
            logs["stft"] = scalar(stft)
        loss = self.with_alignment(loss, align, logs)
        logs["g_loss"] = scalar(loss)
        return loss, logs

    def _discriminator_loss(self, batch: Batch) -> tuple[Tensor, dict[str, Tensor]]:
        real = batch["emg"]
        fm = frame_mask(batch)
        if self._cache is None or self._cache[0].shape[0] != real.shape[0]:
            with torch.no_grad():
                angles = self._conditioned(batch)[0]
                fake, h0, _, _ = self.synthesise(angles, fm)
        else:
            fake, h0, angles = self._cache
        self._cache = None
        real_logits = self.discriminate(real, angles, h0)
        fake_logits = self.discriminate(fake, angles, h0)
        loss = adv_loss(real_logits, True, fm) + adv_loss(fake_logits, False, fm)
        logs = {"d_real": scalar(torch.sigmoid(real_logits.float()).mean()),
                "d_fake": scalar(torch.sigmoid(fake_logits.float()).mean())}
        if self.mismatch_weight > 0 and real.shape[0] > 1:
            wrong = self.discriminate(real, angles.roll(1, 0), h0.roll(1, 0))
            loss = loss + self.mismatch_weight * adv_loss(wrong, False, fm * fm.roll(1, 0))
            logs["d_mismatch"] = scalar(torch.sigmoid(wrong.float()).mean())
        logs["d_loss"] = scalar(loss)
        return loss, logs

