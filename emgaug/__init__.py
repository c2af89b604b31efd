"""emgaug: joint-angle-conditioned EMG synthesis and augmentation benchmarks."""

__version__ = "0.1.0"
