"""Synthesis: turn a trained generator checkpoint into a labelled synthetic EMG set on disk (Parquet),
and read such sets back in the same windowed form as real data.

The Parquet reader/writer need only numpy/pandas/pyarrow; the torch Dataset is imported on first use."""

from typing import Any

from emgaug.synthesis.parquet_io import (
    SyntheticSet, SyntheticWriter, is_synthetic_set, iter_synthetic, read_metadata, read_synthetic,
)

__all__ = ["SyntheticSet", "SyntheticWindowDataset", "SyntheticWriter", "is_synthetic_set", "iter_synthetic",
           "read_metadata", "read_synthetic"]


def __getattr__(name: str) -> Any:
    if name == "SyntheticWindowDataset":
        from emgaug.synthesis.dataset import SyntheticWindowDataset

        return SyntheticWindowDataset
    raise AttributeError(f"module 'emgaug.synthesis' has no attribute {name!r}")
