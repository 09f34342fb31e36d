import ckptkit
from ckptkit.runs.models import linear_data, linear_model, linear_variables

import numpy as np
import pytest
import tensorflow as tf


def _setup():
    w, b = linear_variables(seed=0)
    return w, b, tf.keras.optimizers.SGD(0.01), *linear_data()


def test_fit_logs_every_step_and_lowers_the_loss():
    w, b, opt, x, y = _setup()
    step, history = tf.Variable(0), ckptkit.History()
    losses = ckptkit.fit(lambda t: linear_model(t, w, b), [w, b], opt, x, y, 15, step=step, history=history)
    assert int(step) == 15 and history.run.steps == list(range(1, 16))
    assert history.run.losses == losses and losses[-1] < losses[0] / 5


def test_fit_is_deterministic():
    runs = []
    for _ in range(2):
        w, b, opt, x, y = _setup()
        runs.append(ckptkit.fit(lambda t, w=w, b=b: linear_model(t, w, b), [w, b], opt, x, y, 5))
    assert runs[0] == runs[1]


@pytest.mark.parametrize("steps", [-1, 2.5, "10", True, None])
def test_bad_step_counts_are_refused(steps):
    w, b, opt, x, y = _setup()
    with pytest.raises(ckptkit.InvalidStepsError, match="steps must be"):
        ckptkit.fit(lambda t: linear_model(t, w, b), [w, b], opt, x, y, steps)
    assert isinstance(ckptkit.InvalidStepsError("x"), ckptkit.CheckpointError)


def test_divergence_stops_before_the_update():
    w, b, _, x, y = _setup()
    opt = tf.keras.optimizers.SGD(1e6)  # far too large: the loss overflows within a few steps
    with pytest.raises(ckptkit.DivergedError, match="lower the learning rate"):
        ckptkit.fit(lambda t: linear_model(t, w, b), [w, b], opt, x, y, 50)
    assert np.isfinite(w.numpy()).all() and np.isfinite(b.numpy()).all()
