"""`BenchmarkConfig`: every setting of one `emgaug benchmark` run, built once by `run_benchmark` and passed down whole;
`asdict(config)` is what results.json records under "config"."""

from __future__ import annotations

from dataclasses import dataclass

from emgaug.benchmark.classifiers import DEFAULT_CLASSIFIERS
from emgaug.benchmark.conditions import CONDITIONS, DEFAULT_RESAMPLE_FRACTION


@dataclass(frozen=True)
class BenchmarkConfig:
    manifests: tuple[str, ...]
    synthetic: tuple[str, ...] = ()  # paths, "<in-memory>" for sets passed as objects
    classifiers: tuple[str, ...] = DEFAULT_CLASSIFIERS
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    conditions: tuple[str, ...] = CONDITIONS
    augment: tuple[str, ...] = ()  # canonical 'name@key=value;...' specs, every parameter filled in
    mix_ratio: float = 1.0
    features: str = "td"
    resample_fraction: float = DEFAULT_RESAMPLE_FRACTION
    rr_full: bool | None = None  # the RR-full reference (reads the pool's withheld EMG); None = on for scarce manifests
    metrics: bool = True
    max_test_windows: int | None = None
    max_train_windows: int | None = None
    window_s: float | None = None
    stride_s: float | None = None
    device: str = "cpu"  # resolved (auto -> cpu / cuda)
    dtw_method: str = "exact"
    dtw_band: float | None = 0.1
    n_jobs: int | None = None
    max_memory_gb: float | None = 8.0

    @property
    def similarity_features(self) -> str:
        """Features of the discriminative score and TRTS: the classifiers' (td or amplitude); td when they use raw."""
        return self.features if self.features in ("td", "amplitude") else "td"
