"""A benchmark that streams and caches (issue 18 item 3): features from cached per-window statistics give the same
models as features from the windows; the cache is keyed by the windows' fingerprint and reused by a second run;
a synthetic set is streamed (never loaded) for SVM / RandomForest and memory-guarded where windows are held;
RandomForest honours --jobs; the Nystroem SVM scales where the exact one cannot."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pyarrow.parquet as pq
import pytest
from test_benchmark import WINDOW_S, _window, write_fake_synthetic

from emgaug.benchmark.classifiers import EXACT_SVM_MAX_TRAIN, make_classifier, usable_cpus
from emgaug.benchmark.data import SyntheticSource, load_split_windows, synthetic_windows
from emgaug.benchmark.feature_cache import FeatureStore, StatsFeatures, window_stats
from emgaug.benchmark.runner import run_benchmark
from emgaug.errors import EmgaugError
from emgaug.metrics.features import WindowFeatures
from emgaug.synthesis.parquet_io import read_synthetic


def _toy(n=120, C=3, T=64, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    x = rng.standard_normal((n, C, T)).astype(np.float32) * (1 + y[:, None, None]).astype(np.float32)
    x[:5] = 0.0  # constant windows exercise the amplitude floors
    return x, y


@pytest.mark.parametrize("kind", ["td", "amplitude"])
def test_features_from_cached_statistics_equal_features_from_windows(kind):
    x, _ = _toy()
    train, test = x[:80], x[80:]
    ref = WindowFeatures(kind).fit(train)
    got = StatsFeatures(kind).fit(window_stats(train, kind))
    np.testing.assert_array_equal(got.transform(window_stats(test, kind)), ref.transform(test))
    np.testing.assert_array_equal(got.transform(window_stats(train, kind)), ref.transform(train))


@pytest.mark.parametrize("name", ["svm", "rf", "svm_nystroem"])
def test_classifiers_on_statistics_predict_what_they_predict_on_windows(name):
    x, y = _toy()
    a = make_classifier(name, seed=1, num_classes=3, features="amplitude").fit(x[:80], y[:80])
    b = make_classifier(name, seed=1, num_classes=3, features="amplitude")
    b.fit_stats(window_stats(x[:80], "amplitude"), y[:80])
    np.testing.assert_array_equal(b.predict_stats(window_stats(x[80:], "amplitude")), a.predict(x[80:]))
    assert (a.predict(x[80:]) == y[80:]).mean() > 0.6


def test_random_forest_honours_jobs_and_the_exact_svm_states_its_cap():
    assert make_classifier("rf", 0, 3, n_jobs=None).make_estimator().n_jobs == usable_cpus()
    assert make_classifier("rf", 0, 3, n_jobs=2).make_estimator().n_jobs == 2
    x = np.zeros((EXACT_SVM_MAX_TRAIN + 1, 2))
    svc = make_classifier("svm", 0, 2).make_estimator()[-1]
    with warnings.catch_warnings(record=True) as caught, pytest.raises(ValueError):
        warnings.simplefilter("always")
        svc.fit(x, np.zeros(len(x)))  # one class: libsvm refuses, after the warning
    assert any("svm_nystroem" in str(w.message) for w in caught)


def test_feature_store_round_trip_and_stale_or_damaged_entries_are_recomputed(tmp_path):
    x, _ = _toy()
    calls = []

    def compute():
        calls.append(1)
        return window_stats(x, "td")

    one = FeatureStore(tmp_path)
    a = one.get("k1", "td", len(x), compute)
    assert one.computed == 1 and len(calls) == 1
    files = list(tmp_path.glob("*.parquet"))
    assert len(files) == 1 and json.loads(pq.read_schema(files[0]).metadata[b"emgaug.features"])["key"] == "k1"
    two = FeatureStore(tmp_path)
    np.testing.assert_array_equal(two.get("k1", "td", len(x), compute), a)
    assert two.hits == 1 and len(calls) == 1  # read back, not recomputed
    two.get("k1", "td", len(x), compute)
    assert two.hits == 1  # held in memory within a run
    files[0].write_bytes(files[0].read_bytes()[:50])  # damaged: recomputed and replaced
    three = FeatureStore(tmp_path)
    np.testing.assert_array_equal(three.get("k1", "td", len(x), compute), a)
    assert three.computed == 1 and len(calls) == 2
    assert FeatureStore(tmp_path).get("k1", "td", len(x) - 1, lambda: a[:-1]).shape[0] == len(x) - 1  # other rows


def test_a_synthetic_set_streams_its_statistics_loads_only_the_rows_asked_and_is_memory_guarded(sim_manifest,
                                                                                                 tmp_path):
    out = write_fake_synthetic(sim_manifest, tmp_path / "syn")
    whole = read_synthetic(out)
    src = SyntheticSource(out)
    assert len(src) == len(whole) and (src.labels["row_id"] == whole.labels["row_id"]).all()
    m, win = _window(sim_manifest)
    lazy = synthetic_windows(src, m, win, m.data_source.num_channels)
    assert not lazy.loaded and lazy.window_shape == whole.emg.shape[1:]
    np.testing.assert_array_equal(lazy.stats("td"), window_stats(whole.emg, "td"))
    assert not lazy.loaded  # the statistics were streamed
    rows = np.array([7, 0, 3, len(whole) - 1])
    np.testing.assert_array_equal(lazy.subset(rows).emg, whole.emg[rows])
    assert not lazy.loaded
    tiny = SyntheticSource(out, max_gb=src.gib(3))
    view = synthetic_windows(tiny, m, win, m.data_source.num_channels)
    with pytest.raises(EmgaugError, match=r"would need .* GiB in memory .*--max-train-windows 3\b"):
        _ = view.emg
    assert view.subset(np.arange(3)).emg.shape[0] == 3


def test_a_second_run_reads_the_features_back_and_gives_the_same_results(sim_manifest, tmp_path, monkeypatch):
    syn = write_fake_synthetic(sim_manifest, tmp_path / "syn")
    kw = dict(classifiers=["svm", "rf"], seeds=2, metrics=False, stride_s=WINDOW_S, show_progress=False,
              out=tmp_path / "out")

    def never(self, rows):
        raise AssertionError("SVM / RandomForest must not load the synthetic windows")

    monkeypatch.setattr(SyntheticSource, "load", never)
    first = run_benchmark([sim_manifest], [syn], **kw)
    # train, test and synthetic statistics: computed once each for 2 classifiers x 3 conditions x 2 seeds
    assert first["feature_cache"]["computed"] == 3 and first["feature_cache"]["from_cache"] == 0
    second = run_benchmark([sim_manifest], [syn], **kw)
    assert second["feature_cache"]["computed"] == 0 and second["feature_cache"]["from_cache"] == 3
    strip = lambda rs: [{k: v for k, v in r.items() if k != "fit_seconds"} for r in rs]  # noqa: E731
    assert strip(first["runs"][0]["results"]) == strip(second["runs"][0]["results"])
    # another synthetic set (other noise): its own entry; the real windows' entries are reused
    other = write_fake_synthetic(sim_manifest, tmp_path / "other", seed=5)
    third = run_benchmark([sim_manifest], [other], **kw)
    assert third["feature_cache"]["computed"] == 1 and third["feature_cache"]["from_cache"] == 2
    # amplitude features: other entries (the statistics differ), same reuse
    amp = run_benchmark([sim_manifest], [syn], **{**kw, "classifiers": ["svm"]}, features="amplitude")
    assert amp["feature_cache"]["computed"] == 3
    assert len(list((tmp_path / "out" / "feature_cache").glob("*.parquet"))) == 7


def test_features_of_the_windows_and_of_the_cache_give_the_same_benchmark(sim_manifest, tmp_path):
    """The cached path (td statistics) reproduces the old per-fit path (features recomputed from the windows)."""
    from emgaug.benchmark import conditions

    m, win = _window(sim_manifest)
    train, test = load_split_windows(m, "train", win), load_split_windows(m, "test", win)
    names = [s for s, _ in sorted(m.label_map().items(), key=lambda kv: kv[1])]
    cached = conditions.run_conditions(train, test, None, ["svm", "rf"], [0, 1], names, conditions=("RR",))

    class WindowsOnly:  # the pre-cache behaviour: features recomputed from the windows on every fit and predict
        def __init__(self, clf):
            self.clf = clf

        def fit(self, emg, labels):
            self.clf.fit(emg, labels)
            return self

        def predict(self, emg):
            return self.clf.predict(emg)

    orig = conditions.make_classifier
    conditions.make_classifier = lambda *a, **k: WindowsOnly(orig(*a, **k))
    try:
        direct = conditions.run_conditions(train, test, None, ["svm", "rf"], [0, 1], names, conditions=("RR",))
    finally:
        conditions.make_classifier = orig
    assert [r["accuracy"] for r in cached] == [r["accuracy"] for r in direct]
    assert [r["confusion"] for r in cached] == [r["confusion"] for r in direct]
