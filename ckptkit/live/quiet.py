"""TensorFlow imported quietly: log level set first, C++ start-up lines muted, exit logs off in a kernel.

This module itself imports no TensorFlow: `ckptkit/__init__.py` installs the import hook, so a
notebook's own `import tensorflow` is quiet too.
"""

from __future__ import annotations

import atexit
import importlib.abc
import importlib.util
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager

# Set before TensorFlow is imported: TF reads them once, at import.
# Level 3 hides C++ INFO/WARNING/ERROR lines that would land in notebook outputs as stderr.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# oneDNN picks kernels by CPU features, which changes the last bits of float results from one
# machine to the next; committed notebook outputs must match on any machine.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

__all__ = ["captured_tf_logs", "import_tensorflow", "install_import_hook", "stderr_muted"]


@contextmanager
def stderr_muted() -> Iterator[None]:
    """Send file descriptor 2 to /dev/null, so C++ lines printed before logging is set up vanish."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


class _QuietTensorFlow(importlib.abc.MetaPathFinder):
    """Mute file descriptor 2 while TensorFlow loads, however it is imported (`import tensorflow`, keras).

    A few start-up lines (the CUDA stub, absl's pre-init banner) ignore `TF_CPP_MIN_LOG_LEVEL` and
    would land in notebook outputs as red stderr text.
    """

    def find_spec(self, name: str, path: object = None, target: object = None) -> object:
        """Hand back TensorFlow's own spec, its loading wrapped in a muted stderr."""
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        load = spec.loader.exec_module

        def quiet_load(module: object) -> None:
            with stderr_muted():
                load(module)
                # Device discovery prints once more. Physical devices only: logical ones would start
                # TensorFlow's runtime, after which logical CPUs and collective ops cannot be set up.
                module.config.list_physical_devices()

        spec.loader.exec_module = quiet_load
        return spec


def _mute_tf_logger() -> None:
    """Turn TensorFlow's Python logger off if this process is a Jupyter kernel (registered to run at exit)."""
    # A script's stderr is still open at exit, where TensorFlow's warning reaches the reader: keep it.
    if type(sys.stderr).__module__.startswith("ipykernel."):
        logging.getLogger("tensorflow").disabled = True


def install_import_hook() -> None:
    """Make the next `import tensorflow`, wherever it happens, quiet; in a kernel, mute its exit logs."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietTensorFlow) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietTensorFlow())
    # At exit, an object still holding values a restore left unmatched warns as it is collected. In a
    # Jupyter kernel that happens after the output stream has closed, so each warning lands in the
    # server's terminal as a "Logging error" traceback, when nothing can act on it. Exit handlers run
    # last-registered first, and the kernel imports ckptkit after IPython registered its own, which
    # clears the notebook's variables: so this one runs before it. Unregistering first keeps it to one.
    atexit.unregister(_mute_tf_logger)
    atexit.register(_mute_tf_logger)


def import_tensorflow():  # returns the tensorflow module itself
    """Import TensorFlow with its start-up C++ log lines silenced and return the module."""
    install_import_hook()
    import tensorflow as tf

    return tf


@contextmanager
def captured_tf_logs() -> Iterator[list[str]]:
    """Collect what TensorFlow's Python loggers say inside the block, instead of printing it."""
    # Two loggers: most of TensorFlow logs to "tensorflow", but its async checkpoint writer and
    # functional saver log through absl's own logger.
    loggers = [import_tensorflow().get_logger(), logging.getLogger("absl")]
    lines: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    saved = [(logger.handlers, logger.propagate) for logger in loggers]
    for logger in loggers:
        logger.handlers, logger.propagate = [_Collect()], False
    try:
        yield lines
    finally:
        for logger, (handlers, propagate) in zip(loggers, saved, strict=True):
            logger.handlers, logger.propagate = handlers, propagate
