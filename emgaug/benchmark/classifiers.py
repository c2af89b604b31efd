"""Gesture classifiers used by the RR/GR/MR benchmark, behind one fit/predict interface on (N, C, T) windows.

SVM and RandomForest work on TD features, on amplitude features (log MAV / RMS / WL, floored; see
emgaug.metrics.features) or, as in the SeqEMG-GAN paper, on raw flattened windows; the two deep decoders live in
emgaug.benchmark.deep.
"""

from __future__ import annotations

from typing import Callable, Protocol

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from emgaug.errors import EmgaugError
from emgaug.metrics.features import FEATURE_KINDS, WindowFeatures

CLASSIFIERS = ("svm", "rf", "tds_rnn", "neuropose")
# the same training windows give the same model whatever the seed: their seed SD is only defined when the
# training data differ between seeds (see protocols.resample_indices)
DETERMINISTIC_CLASSIFIERS = ("svm",)


class WindowClassifier(Protocol):
    """fit on (N, C, T) windows and integer labels, predict integer labels."""

    def fit(self, emg: np.ndarray, labels: np.ndarray) -> "WindowClassifier": ...

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

    def fit(self, emg: np.ndarray, labels: np.ndarray) -> "FeatureClassifier":
        self.feature_map = WindowFeatures(self.features)
        x = self.feature_map.fit_transform(emg)
        self.estimator = self.make_estimator()
        self.estimator.fit(x, np.asarray(labels))
        return self

    def predict(self, emg: np.ndarray) -> np.ndarray:
        if self.estimator is None or self.feature_map is None:
            raise RuntimeError("classifier used before fit")
        return np.asarray(self.estimator.predict(self.feature_map.transform(emg)))


def make_classifier(name: str, seed: int, num_classes: int, features: str = "td", device: str = "cpu",
                    n_jobs: int = 1) -> WindowClassifier:
    """Build a fresh, seeded classifier by name (svm, rf, tds_rnn, neuropose)."""
    if name == "svm":
        # RBF SVM on standardised inputs; deterministic, so seeds only change the training data (the per-seed
        # resample of the training windows and the MR subsample)
        return FeatureClassifier(lambda: make_pipeline(StandardScaler(), SVC(C=1.0, kernel="rbf", gamma="scale",
                                                                             random_state=seed)), features)
    if name == "rf":
        return FeatureClassifier(lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=n_jobs), features)
    if name in ("tds_rnn", "neuropose"):
        from emgaug.benchmark.deep import DeepClassifier

        return DeepClassifier(name, num_classes=num_classes, seed=seed, device=device)
    raise EmgaugError(f"unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")


def parse_classifiers(text: str) -> list[str]:
    """'svm,rf' -> ['svm', 'rf']; 'none' or '' -> [] (similarity metrics only)."""
    names = [t.strip().lower() for t in text.split(",") if t.strip()]
    if names in ([], ["none"]):
        return []
    bad = [n for n in names if n not in CLASSIFIERS]
    if bad:
        raise EmgaugError(f"unknown classifier(s) {', '.join(bad)} in --classifiers; choose from {', '.join(CLASSIFIERS)} or 'none'")
    return list(dict.fromkeys(names))
