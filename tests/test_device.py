"""One device resolver for every command: `--device cuda:1` means the same for synthesize (through training's
distributed context) and for benchmark's deep decoders (issue 14: they used to disagree)."""

from __future__ import annotations

import pytest
import torch

from emgaug import device as device_module
from emgaug.errors import EmgaugError


def _fake_gpus(monkeypatch, n: int) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: n > 0)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: n)


def test_every_command_resolves_devices_through_one_function():
    from emgaug.benchmark import deep
    from emgaug.training import distributed

    assert deep.resolve_device is device_module.resolve_device
    assert distributed.resolve_device is device_module.resolve_device


def test_cuda_index_auto_and_errors(monkeypatch):
    resolve = device_module.resolve_device
    _fake_gpus(monkeypatch, 2)
    assert resolve("cuda:1") == torch.device("cuda", 1)
    assert resolve("cuda", local_rank=1) == torch.device("cuda", 1)
    assert resolve("auto") == torch.device("cuda", 0) and resolve("cpu") == torch.device("cpu")
    with pytest.raises(EmgaugError, match="GPU 2 does not exist"):
        resolve("cuda:2")
    with pytest.raises(EmgaugError, match="unknown --device"):
        resolve("cpu:1")
    _fake_gpus(monkeypatch, 0)
    assert resolve("auto") == torch.device("cpu")
    with pytest.raises(EmgaugError, match="no GPU is visible"):
        resolve("cuda:1")
