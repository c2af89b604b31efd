"""The one place that turns a --device preference into a torch device, for every command (train, synthesize,
benchmark's deep decoders), so `--device cuda:1` means the same thing everywhere."""

from __future__ import annotations

import re

import torch

from emgaug.errors import EmgaugError

_PATTERN = re.compile(r"^(auto|cpu|cuda)(?::(\d+))?$")


def resolve_device(pref: str | None, local_rank: int = 0) -> torch.device:
    """'auto' (or empty) -> CUDA when present, else CPU; 'cpu'; 'cuda' -> this process's GPU (`local_rank` under
    torchrun); 'cuda:N' -> GPU N. Asking for CUDA without a visible GPU, or for a GPU index that does not exist,
    is a one-line error."""
    pref = (pref or "auto").strip().lower()
    m = _PATTERN.match(pref)
    if m is None or (m.group(2) is not None and m.group(1) != "cuda"):
        raise EmgaugError(f"unknown --device '{pref}'; choose auto, cpu, cuda or cuda:N")
    kind, index = m.group(1), m.group(2)
    if kind == "cpu" or (kind == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise EmgaugError(f"--device {pref} asked for CUDA but no GPU is visible; pass --device cpu or auto")
    gpu = int(index) if index is not None else int(local_rank)
    if gpu >= torch.cuda.device_count():
        raise EmgaugError(f"--device {pref}: GPU {gpu} does not exist (this machine has {torch.cuda.device_count()}); "
                          "pass an index below that")
    return torch.device("cuda", gpu)
