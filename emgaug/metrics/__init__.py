"""Similarity metrics between real and synthetic EMG windows (definitions in docs/metrics.md)."""

from emgaug.metrics.similarity import PAIR_METRICS, SET_METRICS, similarity_report

__all__ = ["PAIR_METRICS", "SET_METRICS", "similarity_report"]
