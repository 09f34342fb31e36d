"""The notebooks' exercise checks: one module per notebook, and the `Feedback` they answer with."""
