"""Training: the lessons' models and data, the one training step, resumable and distributed runs."""
