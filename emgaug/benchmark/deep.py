"""Two small deep gesture decoders written from their published descriptions, each ending in a classification head,
plus a seeded trainer with early stopping on a held-out slice of the *training* data (never the test split).

- `TDSRNN`: vemg2pose-style (Salter et al. 2024, emg2pose): a strided convolutional featuriser, time-depth-separable
  (TDS) blocks as defined by Hannun et al. 2019 (a 2-D convolution over time on features reshaped to
  (groups, width), then a fully connected block, each residual and layer-normalised), and a recurrent (LSTM) head.
- `NeuroPoseNet`: NeuroPose-style (Liu et al. 2021): a convolutional encoder (conv + batch norm + pooling),
  a residual bottleneck and an upsampling convolutional decoder; here 1-D temporal convolutions over the EMG
  channels, and the decoder's output sequence is average-pooled into a linear classification head instead of
  regressing joint angles.
Both first reduce the window to about 100 frames with a strided convolution, so CPU training stays fast.
"""

from __future__ import annotations

import contextlib
import copy

import numpy as np
import torch
from torch import nn

from emgaug.device import resolve_device
from emgaug.errors import EmgaugError

TARGET_FRAMES = 100


def _stem(in_ch: int, out_ch: int, num_samples: int) -> nn.Module:
    stride = max(1, num_samples // TARGET_FRAMES)
    k = 2 * stride + 1 if stride > 1 else 3
    return nn.Sequential(nn.Conv1d(in_ch, out_ch, k, stride=stride, padding=k // 2), nn.ReLU())


class TDSConvBlock(nn.Module):
    """Hannun et al. TDS conv sub-block: (B, h*w, T) -> 2-D conv over time per group -> ReLU -> residual -> LayerNorm."""

    def __init__(self, groups: int, width: int, kernel: int = 5):
        super().__init__()
        self.h, self.w = groups, width
        self.conv = nn.Conv2d(groups, groups, (1, kernel), padding=(0, kernel // 2))
        self.norm = nn.LayerNorm(groups * width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, f, t = x.shape
        y = torch.relu(self.conv(x.reshape(b, self.h, self.w, t))).reshape(b, f, t)
        return self.norm((x + y).transpose(1, 2)).transpose(1, 2)


class TDSFullyConnectedBlock(nn.Module):
    """Hannun et al. TDS fully connected sub-block: Linear-ReLU-Linear per frame, residual, LayerNorm."""

    def __init__(self, features: int):
        super().__init__()
        self.fc = nn.Sequential(nn.Linear(features, features), nn.ReLU(), nn.Linear(features, features))
        self.norm = nn.LayerNorm(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = x.transpose(1, 2)
        return self.norm(z + self.fc(z)).transpose(1, 2)


class TDSRNN(nn.Module):
    """vemg2pose-style decoder: strided conv featuriser, 2 TDS blocks, LSTM, mean-pooled linear head."""

    def __init__(self, channels: int, num_samples: int, num_classes: int, groups: int = 4, width: int = 8,
                 hidden: int = 48):
        super().__init__()
        f = groups * width
        self.stem = _stem(channels, f, num_samples)
        self.tds = nn.Sequential(TDSConvBlock(groups, width), TDSFullyConnectedBlock(f),
                                 TDSConvBlock(groups, width), TDSFullyConnectedBlock(f))
        self.rnn = nn.LSTM(f, hidden, batch_first=True)
        self.head = nn.Linear(hidden, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, _ = self.rnn(self.tds(self.stem(x)).transpose(1, 2))
        return self.head(h.mean(1))


class _ResBlock(nn.Module):
    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(nn.Conv1d(ch, ch, 3, padding=1), nn.BatchNorm1d(ch), nn.ReLU(),
                                  nn.Conv1d(ch, ch, 3, padding=1), nn.BatchNorm1d(ch))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x + self.body(x))


def _down(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Conv1d(cin, cout, 5, padding=2), nn.BatchNorm1d(cout), nn.ReLU(), nn.MaxPool1d(2, ceil_mode=True))


def _up(cin: int, cout: int) -> nn.Module:
    return nn.Sequential(nn.Upsample(scale_factor=2), nn.Conv1d(cin, cout, 5, padding=2), nn.BatchNorm1d(cout), nn.ReLU())


class NeuroPoseNet(nn.Module):
    """NeuroPose-style encoder-decoder: stem, 2 down blocks, 2 residual bottleneck blocks, 2 up blocks, pooled head."""

    def __init__(self, channels: int, num_samples: int, num_classes: int, width: int = 32):
        super().__init__()
        self.stem = _stem(channels, width // 2, num_samples)
        self.encoder = nn.Sequential(_down(width // 2, width), _down(width, 2 * width))
        self.bottleneck = nn.Sequential(_ResBlock(2 * width), _ResBlock(2 * width))
        self.decoder = nn.Sequential(_up(2 * width, width), _up(width, width // 2))
        self.head = nn.Linear(width // 2, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.decoder(self.bottleneck(self.encoder(self.stem(x)))).mean(-1))


ARCHITECTURES = {"tds_rnn": TDSRNN, "neuropose": NeuroPoseNet}


class DeepClassifier:
    """Seeded training of one architecture: per-channel standardisation from the training windows, AdamW,
    cross-entropy, early stopping on a stratified 10 % validation slice of the training data, best weights kept.
    On CPU, torch runs `cpu_threads` intra-op threads during fit/predict (default 1: on a shared machine two
    spinning threads made training ~10x slower, and one thread gives the same float results on any machine)."""

    def __init__(self, arch: str, num_classes: int, seed: int = 0, device: str = "auto", max_epochs: int = 30,
                 patience: int = 5, batch_size: int = 64, lr: float = 2e-3, val_fraction: float = 0.1,
                 cpu_threads: int | None = 1):
        if arch not in ARCHITECTURES:
            raise EmgaugError(f"unknown deep classifier {arch!r}; choose from {', '.join(ARCHITECTURES)}")
        self.arch, self.num_classes, self.seed = arch, int(num_classes), int(seed)
        self.device = resolve_device(device)
        self.max_epochs, self.patience, self.batch_size, self.lr, self.val_fraction = max_epochs, patience, batch_size, lr, val_fraction
        self.cpu_threads = cpu_threads
        self.model: nn.Module | None = None
        self.epochs_run = 0

    @contextlib.contextmanager
    def _threads(self):
        if self.device.type != "cpu" or not self.cpu_threads:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(self.cpu_threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    def _standardise(self, emg: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(((emg - self.mean) / self.std).astype(np.float32))

    def _split(self, labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        val = []
        for c in np.unique(labels):
            idx = np.flatnonzero(labels == c)
            k = int(round(self.val_fraction * len(idx))) if len(idx) >= 5 else 0
            val.extend(rng.choice(idx, k, replace=False).tolist())
        val = np.array(sorted(val), dtype=np.int64)
        train = np.setdiff1d(np.arange(len(labels)), val)
        return train, val

    def fit(self, emg: np.ndarray, labels: np.ndarray) -> DeepClassifier:
        with self._threads():
            return self._fit(emg, labels)

    def _fit(self, emg: np.ndarray, labels: np.ndarray) -> DeepClassifier:
        emg = np.asarray(emg, dtype=np.float32)
        labels = np.asarray(labels, dtype=np.int64)
        if emg.shape[-1] < 4:
            raise EmgaugError(f"windows of {emg.shape[-1]} samples are too short for the deep decoders; use a longer --window-s")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.mean = emg.mean(axis=(0, 2), keepdims=True)[0]
        self.std = emg.std(axis=(0, 2), keepdims=True)[0] + 1e-6
        x = self._standardise(emg)
        y = torch.from_numpy(labels)
        tr, va = self._split(labels, rng)
        model = ARCHITECTURES[self.arch](emg.shape[1], emg.shape[2], self.num_classes).to(self.device)
        opt = torch.optim.AdamW(model.parameters(), lr=self.lr, weight_decay=1e-4)
        loss_fn = nn.CrossEntropyLoss()
        best, best_state, bad = float("inf"), copy.deepcopy(model.state_dict()), 0
        gen = torch.Generator().manual_seed(self.seed)
        for epoch in range(self.max_epochs):
            model.train()
            order = torch.from_numpy(tr)[torch.randperm(len(tr), generator=gen)]
            for i in range(0, len(order), self.batch_size):
                b = order[i:i + self.batch_size]
                if len(b) < 2:  # batch norm needs two samples
                    continue
                opt.zero_grad()
                loss = loss_fn(model(x[b].to(self.device)), y[b].to(self.device))
                loss.backward()
                opt.step()
            self.epochs_run = epoch + 1
            if len(va) == 0:
                continue
            val_loss = self._loss(model, x[va], y[va], loss_fn)
            if val_loss < best - 1e-4:
                best, best_state, bad = val_loss, copy.deepcopy(model.state_dict()), 0
            else:
                bad += 1
                if bad >= self.patience:
                    break
        if len(va):
            model.load_state_dict(best_state)
        self.model = model.eval()
        return self

    @torch.no_grad()
    def _loss(self, model: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn) -> float:
        model.eval()
        tot = 0.0
        for i in range(0, len(x), 256):
            tot += float(loss_fn(model(x[i:i + 256].to(self.device)), y[i:i + 256].to(self.device))) * len(x[i:i + 256])
        return tot / max(1, len(x))

    @torch.no_grad()
    def predict(self, emg: np.ndarray) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("classifier used before fit")
        x = self._standardise(np.asarray(emg, dtype=np.float32))
        with self._threads():
            out = [self.model(x[i:i + 256].to(self.device)).argmax(1).cpu() for i in range(0, len(x), 256)]
        return torch.cat(out).numpy()
