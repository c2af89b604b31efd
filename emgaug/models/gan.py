"""The paper's GAN peers (Table 1), on the same convolutional upsampling generator and strided discriminator:

- `gan`: unconditional GAN (the paper's "no conditional generation" baseline). It ignores angles and labels;
  only the requested length is taken from the angle tensor.
- `dcgan`: conditional DCGAN (BatchNorm + ReLU generator, after Wu, Chen & Meng 2020). Conditioned on the stage
  label (embedding) AND the angle frames, so it is controllable by joint angles but, being label-conditioned,
  cannot generate stages it never saw: `generate` refuses unseen labels. The paper's version renders EMG as a
  grayscale image; here the channel x time array is convolved along time with channels as feature maps.
- `styletransfer_dcgan`: the same conditional DCGAN plus style losses on four feature pipelines (raw EMG,
  FFT, envelope FFT, wavelet decomposition), in the spirit of Anicet Zanini & Colombini 2020.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from emgaug.data.windows import ResolvedWindow
from emgaug.models.base import Batch, EMGGenerator, check_angles, frame_mask, scalar, randn
from emgaug.models.blocks import DownsampleTrunk, FrameCritic, UpsampleDecoder
from emgaug.models.losses import adv_loss, style_loss


class FrameGAN(EMGGenerator):
    """A GAN whose generator maps frame-rate (z, conditions) to EMG and whose critic scores every frame."""

    parts = ("g", "d")
    discriminator_prefixes = ("disc_", "d_label")
    fast_lr = {"g": 2e-4, "d": 2e-4}
    use_angles = False
    use_labels = False
    uses_style = False
    norm = "none"  # per-sample norms would erase window amplitude; the DCGAN peers use BatchNorm

    def __init__(self, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int,
                 num_users: int = 0, rectified: bool = False, *, z_dim: int = 64, frame_noise_dim: int = 8,
                 label_dim: int = 16, gen_width: int = 128, disc_width: int = 32, style_weight: float = 1.0, **style):
        if not self.use_angles:
            style["subject"] = False  # the unconditional baseline stays unconditional
        super().__init__(num_channels, num_joints, window, num_classes, num_users, rectified, **style)
        self.conditions_on_angles = self.use_angles
        self.conditions_on_labels = self.use_labels
        self.z_dim, self.frame_noise_dim, self.style_weight = z_dim, frame_noise_dim, float(style_weight)
        cond = (self.cond_dim if self.use_angles else 0) + (label_dim if self.use_labels else 0)
        self.g_label = nn.Embedding(max(1, num_classes), label_dim) if self.use_labels else None
        self.d_label = nn.Embedding(max(1, num_classes), label_dim) if self.use_labels else None
        self.generator_net = UpsampleDecoder(z_dim + frame_noise_dim + cond, num_channels, self.upsample,
                                             width=gen_width, norm=self.norm, noise=True)
        self.disc_trunk = DownsampleTrunk(num_channels, self.upsample, width=disc_width)
        self.disc_head = FrameCritic(self.disc_trunk.out_channels + cond)
        self._cache: tuple[Tensor, Tensor] | None = None  # (fake, conditioning) of the last generator step

    def _conditions(self, angles: Tensor, labels: Tensor | None, emb: nn.Embedding | None) -> list[Tensor]:
        B, _, Ta = angles.shape
        out = []
        if self.use_angles:
            out.append(angles.float())
        if self.use_labels:
            out.append(emb(labels)[..., None].expand(-1, -1, Ta))
        return out

    def synthesise(self, angles: Tensor, labels: Tensor | None, generator: torch.Generator | None = None) -> Tensor:
        B, _, Ta = angles.shape
        z = randn((B, self.z_dim, 1), angles, generator).expand(-1, -1, Ta)
        fn = randn((B, self.frame_noise_dim, Ta), angles, generator)
        x = torch.cat([z, fn, *self._conditions(angles, labels, self.g_label)], 1)
        return self.generator_net(x, generator)

    def generate(self, angles: Tensor, labels: Tensor | None = None, generator: torch.Generator | None = None,
                 style: Tensor | None = None) -> Tensor:
        check_angles(self, angles)
        if self.use_labels:
            labels = self.check_labels(labels, angles.shape[0]).to(angles.device)
        return self.synthesise(self.conditioning(angles, style), labels, generator)

    def discriminate(self, emg: Tensor, angles: Tensor, labels: Tensor | None) -> Tensor:
        Ta = angles.shape[-1]
        feats = self.disc_trunk(emg, Ta)
        conds = [c.to(feats.dtype) for c in self._conditions(angles, labels, self.d_label)]
        return self.disc_head(torch.cat([feats, *conds], 1))

    def _labels(self, batch: Batch) -> Tensor | None:
        return batch["label"].clamp_min(0) if self.use_labels else None

    def forward(self, batch: Batch, part: str) -> tuple[Tensor, dict[str, Tensor]]:
        real, labels, fm = batch["emg"], self._labels(batch), frame_mask(batch)
        if part == "g":
            style, align = self.training_style(batch)
            angles = self.conditioning(batch["angles"], style)
            fake = self.synthesise(angles, labels)
            self._cache = (fake.detach(), angles.detach())
            adv = adv_loss(self.discriminate(fake, angles, labels), True, fm)
            loss, logs = adv, {"g_adv": scalar(adv)}
            if self.uses_style and self.style_weight > 0:
                with torch.autocast(real.device.type, enabled=False):
                    terms = style_loss(fake.float(), real.float(), self.upsample)
                style = sum(terms.values())
                loss = loss + self.style_weight * style
                logs.update({f"style_{k}": scalar(v) for k, v in terms.items()})
            loss = self.with_alignment(loss, align, logs)
            logs["g_loss"] = scalar(loss)
            return loss, logs
        if part == "d":
            if self._cache is not None and self._cache[0].shape[0] == real.shape[0]:
                fake, angles = self._cache
            else:
                with torch.no_grad():
                    angles = self.conditioning(batch["angles"], self.training_style(batch)[0])
                    fake = self.synthesise(angles, labels)
            self._cache = None
            rl, fl = self.discriminate(real, angles, labels), self.discriminate(fake, angles, labels)
            loss = adv_loss(rl, True, fm) + adv_loss(fl, False, fm)
            return loss, {"d_loss": scalar(loss), "d_real": scalar(torch.sigmoid(rl.float()).mean()),
                          "d_fake": scalar(torch.sigmoid(fl.float()).mean())}
        raise KeyError(f"{self.name} has no part '{part}'")



class UnconditionalGAN(FrameGAN):
    """Unconditional GAN: noise in, EMG out; angles only set the output length."""

    name = "gan"


class ConditionalDCGAN(FrameGAN):
    """DCGAN conditioned on the stage label and the angle frames (BatchNorm generator)."""

    name = "dcgan"
    use_angles = True
    use_labels = True
    norm = "batch"


class StyleTransferDCGAN(ConditionalDCGAN):
    """Conditional DCGAN plus style-statistics losses over raw / FFT / envelope-FFT / wavelet features."""

    name = "styletransfer_dcgan"
    uses_style = True
