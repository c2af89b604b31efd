"""Data layer: dataset sources (emg2pose HDF5, Ninapro DB1 .mat), the built-in simulator, split manifests
and the windowed torch Dataset that streams windows from disk."""
