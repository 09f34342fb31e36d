"""The interactive lab: `CheckpointLab` (no widgets), `CheckpointPanel` (ipywidgets), plots, the Voila app."""
