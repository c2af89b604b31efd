"""Synthesis: turn a trained generator checkpoint into a labelled synthetic EMG set on disk (Parquet),
and read such sets back in the same windowed form as real data."""

from emgaug.synthesis.dataset import SyntheticWindowDataset
from emgaug.synthesis.parquet_io import SyntheticSet, SyntheticWriter, iter_synthetic, read_metadata, read_synthetic

__all__ = ["SyntheticSet", "SyntheticWindowDataset", "SyntheticWriter", "iter_synthetic", "read_metadata",
           "read_synthetic"]
