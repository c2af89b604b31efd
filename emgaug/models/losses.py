"""Loss terms: masked adversarial BCE, the Gaussian KL of the global latent, optional spectral/envelope
feature matching, and the style-transfer feature pipelines (raw, FFT, envelope FFT, Haar wavelet)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from emgaug.models.base import masked_mean


def adv_loss(logits: Tensor, real: bool, mask: Tensor) -> Tensor:
    """Per-frame binary cross-entropy with logits against the 'real'/'fake' target, masked (B, Ta)."""
    target = torch.ones_like(logits) if real else torch.zeros_like(logits)
    return masked_mean(F.binary_cross_entropy_with_logits(logits.float(), target.float(), reduction="none"), mask)


def kl_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)), summed over latent dims, averaged over the batch (Eq. 9)."""
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(1).mean()


def log_envelope(x: Tensor, block: int) -> Tensor:
    """Log RMS per channel over blocks of `block` samples: (B, C, T) -> (B, C, T // block)."""
    B, C, T = x.shape
    n = T // block
    e2 = x[..., : n * block].float().pow(2).reshape(B, C, n, block).mean(-1)
    return 0.5 * torch.log(e2 + 1e-6)


def log_spectrum(x: Tensor) -> Tensor:
    """Log power spectrum per window and channel (B, C, T // 2 + 1), computed in float32."""
    return torch.log(torch.fft.rfft(x.float(), dim=-1).abs().pow(2) / x.shape[-1] + 1e-6)


def feature_matching_loss(fake: Tensor, real: Tensor, sample_mask: Tensor, block: int) -> Tensor:
    """Paired L1 between log envelopes and between log spectra of generated and real windows (masked)."""
    m = sample_mask.float()
    fake, real = fake.float() * m, real.float() * m
    fmask = m[..., : (m.shape[-1] // block) * block].reshape(m.shape[0], 1, -1, block).amin(-1)
    env = masked_mean((log_envelope(fake, block) - log_envelope(real, block)).abs(), fmask)
    spec = (log_spectrum(fake) - log_spectrum(real)).abs().mean()
    return env + spec


def _gram(x: Tensor) -> Tensor:
    """Channel Gram matrix (B, C, C) normalised by length."""
    x = x.float()
    return x @ x.transpose(1, 2) / x.shape[-1]


def haar_energies(x: Tensor, levels: int = 5) -> Tensor:
    """Log energy of the Haar wavelet detail coefficients per level: (B, C, levels)."""
    out = []
    a = x.float()
    for _ in range(levels):
        if a.shape[-1] < 2:
            break
        n = a.shape[-1] // 2 * 2
        even, odd = a[..., 0:n:2], a[..., 1:n:2]
        d = (even - odd) / 2**0.5
        a = (even + odd) / 2**0.5
        out.append(torch.log(d.pow(2).mean(-1) + 1e-6))
    return torch.stack(out, -1)


def style_loss(fake: Tensor, real: Tensor, block: int) -> dict[str, Tensor]:
    """Batch-level style statistics of four feature pipelines (after Anicet Zanini & Colombini 2020):
    raw EMG (channel Gram matrix), FFT (mean log spectrum), envelope FFT (mean log spectrum of the
    log envelope) and wavelet decomposition (mean Haar level energies). L1 between generated and real."""
    env_f, env_r = log_envelope(fake, block), log_envelope(real, block)
    return {
        "raw": (_gram(fake).mean(0) - _gram(real).mean(0)).abs().mean(),
        "fft": (log_spectrum(fake).mean(0) - log_spectrum(real).mean(0)).abs().mean(),
        "env_fft": (log_spectrum(env_f - env_f.mean(-1, keepdim=True)).mean(0)
                    - log_spectrum(env_r - env_r.mean(-1, keepdim=True)).mean(0)).abs().mean(),
        "wavelet": (haar_energies(fake).mean(0) - haar_energies(real).mean(0)).abs().mean(),
    }


def stft_sizes(T: int, count: int = 3) -> list[int]:
    """FFT sizes of the multi-resolution STFT loss for windows of T samples: T/16, T/8, T/4 (powers of two, >= 8)."""
    out = []
    for k in range(count):
        n = 1 << max(3, int(T / (16 >> k)).bit_length() - 1)
        if n <= T and n not in out:
            out.append(n)
    return out or [max(2, T)]


def multi_resolution_stft_loss(fake: Tensor, real: Tensor, sample_mask: Tensor, sizes: list[int]) -> Tensor:
    """Multi-resolution STFT loss (Yamamoto et al. 2020, Parallel WaveGAN): per FFT size (Hann window, hop n/4),
    spectral convergence ||S_real - S_fake||_F / ||S_real||_F plus the mean |log S_real - log S_fake| (magnitudes
    floored at 1e-3 of the real mean, so empty bins cannot dominate the gradient), averaged over sizes. Paired: fake
    and real share their conditioning. Masked samples are zeroed in both."""
    m = sample_mask.float()
    f = (fake.float() * m).flatten(0, 1)
    r = (real.float() * m).flatten(0, 1)
    total = fake.new_zeros((), dtype=torch.float32)
    for n in sizes:
        win = torch.hann_window(n, device=fake.device)
        sf = torch.stft(f, n, hop_length=max(1, n // 4), window=win, return_complex=True).abs()
        sr = torch.stft(r, n, hop_length=max(1, n // 4), window=win, return_complex=True).abs()
        sc = torch.linalg.norm(sr - sf) / torch.linalg.norm(sr).clamp_min(1e-7)
        eps = 1e-3 * sr.mean().detach().clamp_min(1e-7)  # relative floor: log of near-empty bins stays tame
        mag = (torch.log(sr + eps) - torch.log(sf + eps)).abs().mean()
        total = total + sc + mag
    return total / len(sizes)


def discriminator_feature_loss(fake_feats: list[Tensor], real_feats: list[Tensor]) -> Tensor:
    """Feature matching (Kumar et al. 2019, MelGAN): mean L1 between the discriminator's activations on fake and
    on real windows (real detached), averaged over layers."""
    terms = [(f.float() - r.detach().float()).abs().mean() for f, r in zip(fake_feats, real_feats)]
    return torch.stack(terms).mean()
