"""Joint-angle -> EMG generators (SeqEMG-GAN, its ablations, GAN/DCGAN/style-transfer/transformer/WaveNet peers
and the ridge baseline) behind one interface, `EMGGenerator`; build them by name with `registry.build_model`."""
