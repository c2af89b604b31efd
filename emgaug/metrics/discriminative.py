"""Classifier-based realism checks: can a classifier tell synthetic from real (discriminative score), and does a
classifier trained on real data recognise the synthetic windows' gestures (TRTS)."""

from __future__ import annotations

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedGroupKFold, cross_val_score

from emgaug.metrics.features import WindowFeatures


def _forest(seed: int, n_jobs: int) -> RandomForestClassifier:
    return RandomForestClassifier(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=n_jobs)


def discriminative_score(real: np.ndarray, synth: np.ndarray, seed: int = 0, folds: int = 5, n_jobs: int = 1,
                         real_features: np.ndarray | None = None, synth_features: np.ndarray | None = None,
                         features: str = "td") -> float:
    """Stratified k-fold accuracy of a RandomForest (100 trees) on window features (`features`: td by default, or
    amplitude with its floors fitted on the real windows) telling real (0) from synthetic (1).

    The classes are balanced first (the larger set is subsampled to the smaller one's size, seeded), so 0.5 is
    chance and the ideal; 1.0 means the synthetic windows are trivially separable. When both sets have the same
    size they are taken as pairs (real i <-> synthetic i) and each pair stays in one fold, so a synthetic copy of a
    training window can never sit in the test fold (identical sets score exactly 0.5, not below it).
    """
    fmap = WindowFeatures(features).fit(real) if real_features is None or synth_features is None else None
    fr = fmap.transform(real) if real_features is None else real_features
    fs = fmap.transform(synth) if synth_features is None else synth_features
    rng = np.random.default_rng(seed)
    n = min(len(fr), len(fs))
    if n < folds:
        return float("nan")
    if len(fr) != len(fs):
        fr = fr[np.sort(rng.choice(len(fr), n, replace=False))]
        fs = fs[np.sort(rng.choice(len(fs), n, replace=False))]
    x = np.concatenate([fr, fs])
    y = np.concatenate([np.zeros(n, dtype=int), np.ones(n, dtype=int)])
    groups = np.concatenate([np.arange(n), np.arange(n)])
    cv = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    return float(cross_val_score(_forest(seed, n_jobs), x, y, groups=groups, cv=cv, scoring="accuracy").mean())


def trts_accuracy(train_emg: np.ndarray, train_labels: np.ndarray, synth: np.ndarray, synth_labels: np.ndarray,
                  seed: int = 0, n_jobs: int = 1, train_features: np.ndarray | None = None,
                  synth_features: np.ndarray | None = None, features: str = "td") -> float:
    """Train on Real, Test on Synthetic: RandomForest on window features (`features`, fitted on the real training
    windows) of real windows, accuracy on synthetic windows."""
    fmap = WindowFeatures(features).fit(train_emg) if train_features is None or synth_features is None else None
    ftr = fmap.transform(train_emg) if train_features is None else train_features
    fte = fmap.transform(synth) if synth_features is None else synth_features
    clf = _forest(seed, n_jobs).fit(ftr, np.asarray(train_labels))
    return float((clf.predict(fte) == np.asarray(synth_labels)).mean())
