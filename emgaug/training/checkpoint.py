"""Generator checkpoints: one torch file holding the model, everything needed to resume training exactly
(optimiser, scheduler, AMP scaler and RNG states, history) and everything needed to use it (config,
normalisation statistics, window geometry, label map, manifest path, seed, code version). Written atomically;
loaded with `weights_only=True`, so a checkpoint cannot execute code."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from emgaug.atomic import atomic_path
from emgaug.data.source import DEFAULT_KINEMATICS_KIND, kinematics_label, source_class
from emgaug.data.windows import NormStats, ResolvedWindow
from emgaug.errors import EmgaugError
from emgaug.models.base import EMGGenerator
from emgaug.models.registry import build_model
from emgaug.provenance import file_sha256

FORMAT = "emgaug-generator"
FORMAT_VERSION = 1
REQUIRED = ("format", "model_name", "model_config", "model_state", "num_channels", "num_joints", "num_classes",
            "window", "norm", "label_map", "manifest_path", "seed", "code_version", "epoch", "config")


def save_checkpoint(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write `payload` (see `REQUIRED`) to `path` atomically: a crash never leaves a partial file behind."""
    missing = [k for k in REQUIRED if k not in payload and k != "format"]
    if missing:
        raise ValueError(f"checkpoint payload lacks {missing}")
    with atomic_path(path) as tmp:
        torch.save({"format": FORMAT, "format_version": FORMAT_VERSION, **payload}, tmp)
    return Path(path)


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """Load and validate a checkpoint dict; one-line EmgaugError naming the file when it is missing or corrupt."""
    path = Path(path)
    if not path.is_file():
        raise EmgaugError(f"{path}: checkpoint not found; train one with `emgaug train` or fix the path")
    try:
        ck = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a corrupt or foreign file
        raise EmgaugError(f"{path}: not a readable emgaug checkpoint ({type(e).__name__}); re-train or restore the file") from e
    if not isinstance(ck, dict) or ck.get("format") != FORMAT:
        raise EmgaugError(f"{path}: not an emgaug generator checkpoint; pass a last.pt/best.pt written by `emgaug train`")
    missing = [k for k in REQUIRED if k not in ck]
    if missing:
        raise EmgaugError(f"{path}: checkpoint lacks {', '.join(missing)}; it is damaged or from another version, re-train")
    if ck.get("format_version", 0) > FORMAT_VERSION:
        raise EmgaugError(f"{path}: checkpoint format {ck['format_version']} is newer than this emgaug; upgrade emgaug")
    _check_finite(ck, path)
    return ck


def _check_finite(ck: dict[str, Any], path: Path) -> None:
    """Refuse weights or normalisation statistics holding NaN/inf: such a generator can only emit garbage."""
    state = ck["model_state"]
    if not isinstance(state, dict):
        raise EmgaugError(f"{path}: checkpoint model_state is not a state dict; it is damaged, re-train")
    for name, t in state.items():
        if isinstance(t, torch.Tensor) and (t.is_floating_point() or t.is_complex()) and not bool(torch.isfinite(t).all()):
            raise EmgaugError(f"{path}: weight {name} holds NaN/inf; the checkpoint is unusable, use an earlier one or "
                              "re-train (check the data, or lower --lr)")
    norm = ck["norm"] if isinstance(ck["norm"], dict) else {}
    for key in ("emg_mean", "emg_std", "angle_mean", "angle_std"):
        try:
            ok = bool(torch.isfinite(torch.as_tensor(norm[key], dtype=torch.float64)).all()) if key in norm else True
        except (TypeError, ValueError, RuntimeError):
            ok = False
        if not ok:
            raise EmgaugError(f"{path}: normalisation statistic {key} is not a finite vector; the checkpoint is damaged, "
                              "re-train")


def kinematics_declaration(source) -> dict[str, Any]:
    """What a generator is conditioned on, from its training data source: the kind ("joint_angles", "imu"), the
    channel names, the report label, and whether all-zero rows are inverse-kinematics failures (the rule
    synthesis must apply to kinematics-only inputs). Stored in checkpoints and synthetic-set metadata."""
    return {"kinematics_kind": str(source.kinematics_kind), "kinematics_names": [str(n) for n in source.kinematics_names],
            "kinematics_label": str(getattr(source, "kinematics_label", "") or kinematics_label(source.kinematics_kind)),
            "kinematics_zero_rows_are_failures": bool(source.zero_rows_are_failures)}


def checkpoint_kinematics(ck: dict[str, Any]) -> dict[str, Any]:
    """The conditioning declaration of a checkpoint (see `kinematics_declaration`) plus `kinematics_rate_hz` (the
    frame rate the generator sees). Checkpoints written before kinds were declared hold hand joint angles
    ("joint_angles", joint0..), at the window's angle frame rate; their zero-row rule is that of their data
    source's kind when the checkpoint names it (0 degrees is a real knee angle in UCI lower limb), else emg2pose's."""
    src = ck.get("data_source") if isinstance(ck.get("data_source"), dict) else {}
    kind = ck.get("kinematics_kind") or src.get("kinematics_kind") or DEFAULT_KINEMATICS_KIND
    names = ck.get("kinematics_names") or src.get("kinematics_names") or [f"joint{i}" for i in range(int(ck["num_joints"]))]
    zero = ck.get("kinematics_zero_rows_are_failures")
    if zero is None:
        try:
            zero = source_class(str(src.get("kind"))).zero_rows_are_failures
        except EmgaugError:
            zero = kind == "joint_angles"
    win = ck["window"]
    rate = ck.get("kinematics_rate_hz") or float(win["sample_rate"]) / int(win["angle_downsample"])
    return {"kinematics_kind": str(kind), "kinematics_names": [str(n) for n in names],
            "kinematics_label": kinematics_label(kind, ck.get("kinematics_label") or src.get("kinematics_label")),
            "kinematics_zero_rows_are_failures": bool(zero), "kinematics_rate_hz": float(rate)}


def model_from_checkpoint(ck: dict[str, Any], path: str | Path = "<checkpoint>") -> EMGGenerator:
    """Rebuild the model a checkpoint describes and load its weights (strict)."""
    window = ResolvedWindow.from_dict(ck["window"])
    model = build_model(ck["model_name"], ck["num_channels"], ck["num_joints"], window, ck["num_classes"],
                        num_users=len(ck.get("user_map") or {}), rectified=bool(ck["norm"].get("rectified", False)),
                        **ck["model_config"])
    try:
        model.load_state_dict(ck["model_state"], strict=True)
    except RuntimeError as e:
        first = str(e).splitlines()[0]
        raise EmgaugError(f"{path}: weights do not fit model '{ck['model_name']}' ({first}); re-train with this version") from e
    return model


@dataclass
class LoadedGenerator:
    """A trained generator ready for synthesis, with the provenance needed to report on it."""

    model: EMGGenerator
    model_name: str
    config: dict[str, Any]
    norm: NormStats
    window: ResolvedWindow
    label_map: dict[str, int]
    user_map: dict[str, int]  # training users -> index of their learned style (empty for older checkpoints)
    manifest_path: str
    seed: int
    code_version: str
    sha256: str
    epoch: int
    # what the generator is conditioned on (`checkpoint_kinematics`; older checkpoints: hand joint angles)
    kinematics: dict[str, Any] = field(default_factory=dict)

    @property
    def kinematics_kind(self) -> str:
        return str(self.kinematics.get("kinematics_kind", DEFAULT_KINEMATICS_KIND))

    @property
    def zero_rows_are_failures(self) -> bool:
        return bool(self.kinematics.get("kinematics_zero_rows_are_failures", True))


def load_generator(path: str | Path, device: str | torch.device = "cpu") -> LoadedGenerator:
    """Load a checkpoint's generator in eval mode on `device`."""
    ck = read_checkpoint(path)
    model = model_from_checkpoint(ck, path).to(device).eval()
    return LoadedGenerator(
        model=model, model_name=ck["model_name"], config=dict(ck["config"]), norm=NormStats.from_dict(ck["norm"]),
        window=ResolvedWindow.from_dict(ck["window"]), label_map=dict(ck["label_map"]),
        user_map=dict(ck.get("user_map") or {}),
        manifest_path=str(ck["manifest_path"]), seed=int(ck["seed"]), code_version=str(ck["code_version"]),
        sha256=file_sha256(path), epoch=int(ck["epoch"]), kinematics=checkpoint_kinematics(ck),
    )
