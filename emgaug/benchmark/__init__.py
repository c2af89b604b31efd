"""RR / GR / MR gesture-classifier benchmark of synthetic EMG, with similarity metrics and a report."""

from emgaug.benchmark.runner import run_benchmark
from emgaug.metrics.similarity import similarity_report

__all__ = ["run_benchmark", "similarity_report"]
