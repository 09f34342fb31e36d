"""Training: the seed article's models and data, the one training step, resumable and distributed runs."""
