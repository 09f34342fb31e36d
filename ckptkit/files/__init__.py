"""Checkpoint files read without TensorFlow: the `.index` table, shards, values, paths, inventory, diff."""
