"""Gesture classifiers used by the RR/GR/MR benchmark, behind one fit/predict interface on (N, C, T) windows.

SVM and RandomForest work on TD features, on amplitude features (log MAV / RMS / WL, floored; see
emgaug.metrics.features) or, as in the SeqEMG-GAN paper, on raw flattened windows; the two deep decoders live in
emgaug.benchmark.deep. TD and amplitude features come from per-window statistics computed once per window set and
cached (emgaug.benchmark.feature_cache), so every classifier, condition and seed reuses them.

`svm` is the exact RBF SVM (libsvm): its fit grows as about n^2 in the training windows (measured: README,
Performance), which makes it practical up to EXACT_SVM_MAX_TRAIN windows; beyond that `svm_nystroem`, the RBF
kernel approximated by NYSTROEM_COMPONENTS Nystroem features under a linear SVM (SGD), scales linearly in time and
holds one chunk of kernel features at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import os
import warnings

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.kernel_approximation import Nystroem
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emgaug.errors import EmgaugError
from emgaug.metrics.features import FEATURE_KINDS, WindowFeatures

CLASSIFIERS = ("svm", "rf", "tds_rnn", "neuropose", "svm_nystroem")
DEFAULT_CLASSIFIERS = ("svm", "rf", "tds_rnn", "neuropose")
# the exact RBF SVM's practical cap (training windows): fit time grows as ~n^2 (docs/metrics.md); above it, warned
EXACT_SVM_MAX_TRAIN = 20_000
NYSTROEM_COMPONENTS = 1000
NYSTROEM_EPOCHS = 10
NYSTROEM_CHUNK = 8192
# the same training windows give the same model whatever the seed: their seed SD is only defined when the
# training data differ between seeds (see protocols.resample_indices)
DETERMINISTIC_CLASSIFIERS = ("svm",)


class WindowClassifier(Protocol):
    """fit on (N, C, T) windows and integer labels, predict integer labels."""

    def fit(self, emg: np.ndarray, labels: np.ndarray) -> WindowClassifier: ...

    def predict(self, emg: np.ndarray) -> np.ndarray: ...


class FeatureClassifier:
    """A scikit-learn estimator on TD features, amplitude features or raw flattened windows; the feature map (the
    amplitude floors) is fitted on the training windows and reused for prediction."""

    def __init__(self, make_estimator: Callable[[], object], features: str = "td"):
        if features not in FEATURE_KINDS:
            raise EmgaugError(f"unknown --features {features!r}; choose one of {', '.join(FEATURE_KINDS)}")
        self.make_estimator = make_estimator
        self.features = features
        self.feature_map: WindowFeatures | None = None
        self.estimator = None

    @property
    def uses_stats(self) -> bool:
        """Trains on cached per-window statistics (`fit_stats`) instead of the windows (raw features: the windows)."""
        return self.features in ("td", "amplitude")

    def fit(self, emg: np.ndarray, labels: np.ndarray) -> FeatureClassifier:
        self.feature_map = WindowFeatures(self.features)
        x = self.feature_map.fit_transform(emg)
        self.estimator = self.make_estimator()
        self.estimator.fit(x, np.asarray(labels))
        return self

    def predict(self, emg: np.ndarray) -> np.ndarray:
        if self.estimator is None or self.feature_map is None:
            raise RuntimeError("classifier used before fit")
        if isinstance(self.feature_map, WindowFeatures):
            return np.asarray(self.estimator.predict(self.feature_map.transform(emg)))
        raise RuntimeError("fitted on statistics: predict with predict_stats")

    def fit_stats(self, stats: np.ndarray, labels: np.ndarray) -> FeatureClassifier:
        """Fit on per-window statistics (`feature_cache.window_stats` of the training windows): the same model as
        `fit` on the windows, without recomputing their features."""
        from emgaug.benchmark.feature_cache import StatsFeatures

        self.feature_map = StatsFeatures(self.features).fit(stats)
        self.estimator = self.make_estimator()
        self.estimator.fit(self.feature_map.transform(stats), np.asarray(labels))
        return self

    def predict_stats(self, stats: np.ndarray) -> np.ndarray:
        if self.estimator is None or self.feature_map is None:
            raise RuntimeError("classifier used before fit")
        return np.asarray(self.estimator.predict(self.feature_map.transform(stats)))


def usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


class ExactSVM(SVC):
    """libsvm's RBF SVM, with one warning when the training set is past its practical size."""

    def fit(self, X, y, sample_weight=None):
        if len(X) > EXACT_SVM_MAX_TRAIN:
            warnings.warn(f"exact RBF SVM on {len(X):,} training windows (practical up to {EXACT_SVM_MAX_TRAIN:,}; fit "
                          "time grows as ~n^2): use --classifiers svm_nystroem or --max-train-windows", stacklevel=2)
        return super().fit(X, y, sample_weight)


def make_classifier(name: str, seed: int, num_classes: int, features: str = "td", device: str = "cpu",
                    n_jobs: int | None = 1) -> WindowClassifier:
    """Build a fresh, seeded classifier by name (svm, rf, tds_rnn, neuropose, svm_nystroem); `n_jobs` None = every
    usable CPU (RandomForest's trees in parallel)."""
    if name == "svm":
        # RBF SVM on standardised inputs; deterministic, so seeds only change the training data (the per-seed
        # resample of the training windows and the MR subsample)
        return FeatureClassifier(lambda: make_pipeline(StandardScaler(), ExactSVM(C=1.0, kernel="rbf", gamma="scale",
                                                                                  random_state=seed)), features)
    if name == "svm_nystroem":
        # the same RBF kernel (gamma "scale" = 1 / n_features on standardised inputs) through NYSTROEM_COMPONENTS
        # seeded landmarks, then a linear SVM trained by SGD: linear in the training windows
        return FeatureClassifier(lambda: _NystroemSVM(seed), features)
    if name == "rf":
        jobs = usable_cpus() if n_jobs is None else int(n_jobs)
        return FeatureClassifier(lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=jobs), features)
    if name in ("tds_rnn", "neuropose"):
        from emgaug.benchmark.deep import DeepClassifier

        return DeepClassifier(name, num_classes=num_classes, seed=seed, device=device)
    raise EmgaugError(f"unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")


class _NystroemSVM:
    """StandardScaler -> Nystroem RBF features (gamma = 1 / n_features, as gamma='scale' on standardised inputs;
    n_components = min(NYSTROEM_COMPONENTS, n_train) seeded landmarks) -> a linear SVM (hinge loss, L2 penalty
    alpha = 1 / n_train, i.e. C = 1) trained by averaged SGD over NYSTROEM_EPOCHS shuffled passes. The Nystroem
    features are made NYSTROEM_CHUNK windows at a time, so memory stays flat in the number of training windows
    (liblinear's LinearSVC copies the whole (n, 1000) design into its own format: 4.8 GB at 160k windows)."""

    def __init__(self, seed: int):
        self.seed = seed
        self.scaler = self.nystroem = self.sgd = None

    def _features(self, X: np.ndarray) -> np.ndarray:
        return self.nystroem.transform(self.scaler.transform(X)).astype(np.float32, copy=False)

    def fit(self, X, y):
        from sklearn.linear_model import SGDClassifier

        X, y = np.asarray(X, dtype=np.float32), np.asarray(y)
        rng = np.random.default_rng(self.seed)
        self.scaler = StandardScaler().fit(X)
        k = min(NYSTROEM_COMPONENTS, len(X))
        self.nystroem = Nystroem(kernel="rbf", gamma=1.0 / max(1, X.shape[1]), n_components=k,
                                 random_state=self.seed).fit(self.scaler.transform(X))
        self.sgd = SGDClassifier(loss="hinge", alpha=1.0 / len(X), average=True, random_state=self.seed)
        classes = np.unique(y)
        for _ in range(NYSTROEM_EPOCHS):
            order = rng.permutation(len(X))
            for lo in range(0, len(X), NYSTROEM_CHUNK):
                rows = np.sort(order[lo:lo + NYSTROEM_CHUNK])
                self.sgd.partial_fit(self._features(X[rows]), y[rows], classes=classes)
        return self

    def predict(self, X):
        X = np.asarray(X, dtype=np.float32)
        return np.concatenate([self.sgd.predict(self._features(X[lo:lo + NYSTROEM_CHUNK]))
                               for lo in range(0, len(X), NYSTROEM_CHUNK)]) if len(X) else np.zeros(0, np.int64)


def parse_classifiers(text: str) -> list[str]:
    """'svm,rf' -> ['svm', 'rf']; 'none' or '' -> [] (similarity metrics only)."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if names in ([], ["none"]):
        return []
    bad = [n for n in names if n not in CLASSIFIERS]
    if bad:
        raise EmgaugError(f"unknown classifier(s) {', '.join(bad)} in --classifiers; choose from {', '.join(CLASSIFIERS)} or 'none'")
    return list(dict.fromkeys(names))
