"""Every generator by name, including the four SeqEMG-GAN ablations of the paper's Table 4.

`seqemg_gan` is the default SeqEMG-GAN (conditioned on the person when the data names users); `seqemg_gan_paper`
is the paper's model exactly (no person conditioning), kept so the paper's row can always be reproduced."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.base import EMGGenerator
from emgaug.models.flow import FlowMatchingGenerator
from emgaug.models.gan import ConditionalDCGAN, StyleTransferDCGAN, UnconditionalGAN
from emgaug.models.ridge import RidgeEnvelope, RidgeUser
from emgaug.models.seqemg_gan import SeqEMGGAN
from emgaug.models.transformer import TransformerSeq2Seq
from emgaug.models.wavenet import WaveNetRegressor

# name -> (class, fixed keyword arguments, what it is, the paper or peer it follows)
_SPECS: dict[str, tuple[Callable[..., EMGGenerator], dict[str, Any], str, str]] = {
    "flow": (FlowMatchingGenerator, {}, "conditional flow matching, 1-D U-Net, person + kinematics",
             "rectified flow (Liu 2022, Lipman 2023); EMGFlow 2026"),
    "seqemg_gan": (SeqEMGGAN, {}, "SeqEMG-GAN conditioned on the person (our default)", "Li et al. 2025"),
    "seqemg_gan_paper": (SeqEMGGAN, {"subject": False}, "SeqEMG-GAN exactly as published", "Li et al. 2025"),
    "seqemg_gan_no_angle_encoder": (SeqEMGGAN, {"angle_encoder": False}, "ablation: no angle encoder",
                                    "Li et al. 2025, Table 4"),
    "seqemg_gan_no_gru": (SeqEMGGAN, {"gru": False}, "ablation: no GRU context layer", "Li et al. 2025, Table 4"),
    "seqemg_gan_no_ang2gist": (SeqEMGGAN, {"ang2gist": False}, "ablation: no Ang2Gist unit", "Li et al. 2025, Table 4"),
    "seqemg_gan_no_discriminator": (SeqEMGGAN, {"discriminator": False}, "ablation: L1 + KL, no discriminator",
                                    "Li et al. 2025, Table 4"),
    "gan": (UnconditionalGAN, {}, "unconditional GAN", "Li et al. 2025 baseline"),
    "dcgan": (ConditionalDCGAN, {}, "conditional DCGAN (label + angles)", "Wu, Chen & Meng 2020"),
    "styletransfer_dcgan": (StyleTransferDCGAN, {}, "DCGAN + raw/FFT/envelope/wavelet style losses",
                            "Anicet Zanini & Colombini 2020"),
    "transformer_seq2seq": (TransformerSeq2Seq, {}, "transformer encoder-decoder, autoregressive", "Seq2Seq-EMG"),
    "wavenet": (WaveNetRegressor, {}, "dilated causal convolutions over sliding windows", "Basak et al. 2025"),
    "ridge": (RidgeEnvelope, {}, "floor: pooled ridge to log envelopes, deterministic", "-"),
    "ridge_user": (RidgeUser, {}, "floor: one ridge per person (a new person's from a clip)", "-"),
}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)


def build_model(name: str, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int, *,
                num_users: int = 0, rectified: bool = False, **overrides: Any) -> EMGGenerator:
    """Construct model `name`; `overrides` set constructor options (stored in `model.config` for checkpoints).

    `num_users` (training users, for person conditioning) and `rectified` (non-negative envelope EMG) describe
    the data; checkpoints store them with the user map and the normalisation statistics."""
    if name not in _SPECS:
        raise EmgaugError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}")
    cls, fixed = _SPECS[name][:2]
    clash = set(fixed) & set(overrides)
    if clash:
        raise EmgaugError(f"model '{name}' fixes {', '.join(sorted(clash))}; do not override it")
    try:
        model = cls(num_channels, num_joints, window, num_classes, num_users, rectified, **fixed, **overrides)
    except (TypeError, ValueError) as e:
        raise EmgaugError(f"model '{name}': bad option ({e}); see the model's docstring for its options") from e
    except RuntimeError as e:  # torch's own check of a shape option (e.g. --set hidden=-5); without options: a bug
        if not overrides:
            raise
        raise EmgaugError(f"model '{name}': options {overrides} cannot build it ({str(e).splitlines()[0]}); check the "
                          "--set values") from e
    model.name = name
    model.config = dict(overrides)
    return model


_STYLE_OPTIONS = ("subject", "style_dim", "style_ref_prob", "style_drop_prob", "style_align_weight")


@dataclass(frozen=True)
class ModelOption:
    """One `--set KEY=VALUE` option of a model: its name, type and default (read from the constructor)."""

    name: str
    type: str
    default: Any


@dataclass(frozen=True)
class ModelInfo:
    name: str
    summary: str
    follows: str
    options: tuple[ModelOption, ...]


def model_info(name: str) -> ModelInfo:
    """What a model is and the options it takes: its constructor's keyword arguments (and the person-style
    options of the base class where the model uses them), minus what its registry entry fixes."""
    cls, fixed, summary, follows = _SPECS[name]
    skip = {"self", "num_channels", "num_joints", "window", "num_classes", "num_users", "rectified", *fixed}
    params = list(inspect.signature(cls.__init__).parameters.values())
    if any(p.kind == p.VAR_KEYWORD for p in params):  # **style: the base class's person-style options
        params += list(inspect.signature(EMGGenerator.__init__).parameters.values())
    opts: dict[str, ModelOption] = {}
    for p in params:
        if p.name in skip or p.kind in (p.VAR_KEYWORD, p.VAR_POSITIONAL) or p.name in opts:
            continue
        ann = p.annotation if isinstance(p.annotation, str) else getattr(p.annotation, "__name__", str(p.annotation))
        opts[p.name] = ModelOption(p.name, ann, p.default)
    if fixed.get("subject") is False or name == "gan":  # no person conditioning: its style options mean nothing
        opts = {k: v for k, v in opts.items() if k not in _STYLE_OPTIONS}
    return ModelInfo(name, summary, follows, tuple(opts.values()))
