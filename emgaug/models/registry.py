"""Every generator by name, including the four SeqEMG-GAN ablations of the paper's Table 4.

`seqemg_gan` is the default SeqEMG-GAN (conditioned on the person when the data names users); `seqemg_gan_paper`
is the paper's model exactly (no person conditioning), kept so the paper's row can always be reproduced."""

from __future__ import annotations

from typing import Any, Callable

from emgaug.data.windows import ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.base import EMGGenerator
from emgaug.models.flow import FlowMatchingGenerator
from emgaug.models.gan import ConditionalDCGAN, StyleTransferDCGAN, UnconditionalGAN
from emgaug.models.ridge import RidgeEnvelope, RidgeUser
from emgaug.models.seqemg_gan import SeqEMGGAN
from emgaug.models.transformer import TransformerSeq2Seq
from emgaug.models.wavenet import WaveNetRegressor

# name -> (class, fixed keyword arguments)
_SPECS: dict[str, tuple[Callable[..., EMGGenerator], dict[str, Any]]] = {
    "seqemg_gan": (SeqEMGGAN, {}),
    "seqemg_gan_paper": (SeqEMGGAN, {"subject": False}),
    "seqemg_gan_no_angle_encoder": (SeqEMGGAN, {"angle_encoder": False}),
    "seqemg_gan_no_gru": (SeqEMGGAN, {"gru": False}),
    "seqemg_gan_no_ang2gist": (SeqEMGGAN, {"ang2gist": False}),
    "seqemg_gan_no_discriminator": (SeqEMGGAN, {"discriminator": False}),
    "gan": (UnconditionalGAN, {}),
    "dcgan": (ConditionalDCGAN, {}),
    "styletransfer_dcgan": (StyleTransferDCGAN, {}),
    "transformer_seq2seq": (TransformerSeq2Seq, {}),
    "wavenet": (WaveNetRegressor, {}),
    "flow": (FlowMatchingGenerator, {}),
    "ridge": (RidgeEnvelope, {}),
    "ridge_user": (RidgeUser, {}),
}

MODEL_NAMES: tuple[str, ...] = tuple(_SPECS)


def build_model(name: str, num_channels: int, num_joints: int, window: ResolvedWindow, num_classes: int, *,
                num_users: int = 0, rectified: bool = False, **overrides: Any) -> EMGGenerator:
    """Construct model `name`; `overrides` set constructor options (stored in `model.config` for checkpoints).

    `num_users` (training users, for person conditioning) and `rectified` (non-negative envelope EMG) describe
    the data; checkpoints store them with the user map and the normalisation statistics."""
    if name not in _SPECS:
        raise EmgaugError(f"unknown model '{name}'; choose one of {', '.join(MODEL_NAMES)}")
    cls, fixed = _SPECS[name]
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
