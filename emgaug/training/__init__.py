"""Training: optimiser profiles, the epoch loop (CPU or CUDA with AMP, optional DDP via torchrun),
validation metrics, and atomic checkpoints that resume exactly."""
