"""What a checkpoint costs (notebook 07): save and restore against raw I/O, async saves, cost per step."""

from __future__ import annotations

from ckptkit.live.quiet import import_tensorflow

import functools
import glob
import os
import statistics
import time
from collections.abc import Callable

import numpy as np

tf = import_tensorflow()

__all__ = [
    "async_blocking",
    "can_drop_cache",
    "cost_per_step",
    "drop_from_cache",
    "filesystem_of",
    "fixed_cost_ms",
    "interleaved_ms",
    "median_ms",
    "throughput",
]


def median_ms(action: Callable[[], object], repeat: int) -> float:
    """Median milliseconds of `action` over `repeat` runs, after one warm-up run."""
    return interleaved_ms({"action": action}, repeat)["action"]


def interleaved_ms(
    actions: dict[str, Callable[[], object]],
    repeat: int,
    before: dict[str, Callable[[], object]] | None = None,
) -> dict[str, float]:
    """Median ms of each action, run in turn round after round, so load from other work hits all alike.

    `before[name]`, when given, runs untimed before each run of that action.
    """
    before = before or {}
    for action in actions.values():
        action()  # warm-up: first calls trace functions and open files
    times: dict[str, list[float]] = {name: [] for name in actions}
    for _ in range(repeat):
        for name, action in actions.items():
            if name in before:
                before[name]()
            start = time.perf_counter()
            action()
            times[name].append(time.perf_counter() - start)
    return {name: 1000 * statistics.median(t) for name, t in times.items()}


def filesystem_of(path: str | os.PathLike[str]) -> str:
    """The type of the file system holding `path` (e.g. ext4, tmpfs), or "unknown" where psutil cannot say."""
    import psutil

    where = os.path.realpath(path)
    mounts = [
        m
        for m in psutil.disk_partitions(all=True)
        if os.path.commonpath([where, m.mountpoint]) == m.mountpoint
    ]
    best = max(mounts, key=lambda m: len(m.mountpoint), default=None)
    return best.fstype if best else "unknown"


def can_drop_cache() -> bool:
    """True where the OS lets a process evict a file from the page cache (`posix_fadvise`, Linux)."""
    return hasattr(os, "posix_fadvise")


def drop_from_cache(*paths: str) -> bool:
    """Flush each file to disk, then ask the OS to forget its cached pages; False where it cannot."""
    if not can_drop_cache():
        return False
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)  # only clean pages can be dropped
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)
    return True


def _fsync(*paths: str) -> None:
    for path in paths:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _raw_write(path: str, data: np.ndarray, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)  # from the array's buffer: no copy
        f.flush()
        if fsync:
            os.fsync(f.fileno())


def _files_of(prefix: str) -> list[str]:
    """The `.index` and `.data-*` files `Checkpoint.write(prefix)` produced (it writes no state file)."""
    return sorted(glob.glob(glob.escape(prefix) + ".*"))


def throughput(
    sizes_mb: list[int], folder: str | os.PathLike[str], repeat: int = 3
) -> list[dict[str, float]]:
    """MB/s of `Checkpoint.write`/`read` of one float32 variable per size, and of raw I/O of the same bytes.

    Like is compared with like: both writes without fsync (the OS's page cache) and both followed
    by an fsync of every file they wrote (the disk); both reads cold (the files dropped from the
    page cache first, where the OS allows) and hot (straight from the page cache).
    """
    return [_throughput_of(mb, os.fspath(folder), repeat) for mb in sizes_mb]


def fixed_cost_ms(folder: str | os.PathLike[str], repeat: int = 5) -> float:
    """Median milliseconds of `Checkpoint.write` of one scalar: the cost of a save that is not bytes."""
    ckpt = tf.train.Checkpoint(v=tf.Variable(0.0))
    prefix = f"{os.fspath(folder)}/scalar"
    ms = median_ms(lambda: ckpt.write(prefix), repeat)
    for path in _files_of(prefix):
        os.remove(path)
    return ms


def _throughput_of(mb: int, folder: str, repeat: int) -> dict[str, float]:
    values = np.random.default_rng(mb).random(mb * 2**18, dtype=np.float32)  # mb MiB of float32
    prefix, raw = f"{folder}/ckpt-{mb}mb", f"{folder}/raw-{mb}mb"
    ckpt = tf.train.Checkpoint(v=tf.Variable(values))

    def write_fsync() -> None:
        _fsync(*_files_of(ckpt.write(prefix)))

    # TensorFlow and raw I/O take turns in each comparison, so other load slows both alike.
    ms = interleaved_ms(
        {
            "raw_write": functools.partial(_raw_write, raw, values, fsync=False),
            "save": lambda: ckpt.write(prefix),
            "raw_write_fsync": functools.partial(_raw_write, raw, values, fsync=True),
            "save_fsync": write_fsync,
        },
        repeat,
    )
    del values  # one copy at a time keeps the largest size well inside a notebook's memory budget
    buffer = bytearray(mb * 2**20)  # reused: a raw read costs only the read, no allocation

    def raw_read() -> None:
        with open(raw, "rb", buffering=0) as f:
            f.readinto(buffer)

    reads = {"raw_read_hot": raw_read, "restore_hot": lambda: ckpt.read(prefix).assert_consumed()}
    befores = {}
    if can_drop_cache():
        reads |= {"raw_read_cold": reads["raw_read_hot"], "restore_cold": reads["restore_hot"]}
        befores = {
            "raw_read_cold": lambda: drop_from_cache(raw),
            "restore_cold": lambda: drop_from_cache(*_files_of(prefix)),
        }
    ms |= interleaved_ms(reads, repeat, befores)
    for path in [raw, *_files_of(prefix)]:
        os.remove(path)
    return {"mb": mb} | {f"{k}_mb_s": mb / t * 1000 for k, t in ms.items()}


def _stand_in_training(mb: int, seed: int = 0) -> tuple[tf.Variable, Callable[[], None]]:
    """A linear layer whose `mb` MB kernel a real SGD step rewrites entirely: CPU-bound, like training."""
    rng = np.random.default_rng(seed)
    outputs = 1024
    kernel = tf.Variable(rng.standard_normal((mb * 2**18 // outputs, outputs), dtype=np.float32) * 0.01)
    x = tf.constant(rng.standard_normal((64, kernel.shape[0]), dtype=np.float32))
    y = tf.constant(rng.standard_normal((64, outputs), dtype=np.float32))
    optimizer = tf.keras.optimizers.SGD(learning_rate=0.1)

    @tf.function
    def step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((x @ kernel - y) ** 2)
        optimizer.apply_gradients([(tape.gradient(loss, kernel), kernel)])

    return kernel, step


def async_blocking(
    folder: str | os.PathLike[str], mb: int = 8, saves: int = 4, steps_between: int = 2
) -> dict[str, object]:
    """How long a save stops a CPU-bound training loop, sync against `CheckpointOptions(enable_async=True)`.

    Sync and async saves alternate, so a machine busy with other work slows both alike. Training
    runs `steps_between` real SGD steps before each save and one right after it (timed: it runs
    beside the async write), so every value changes while that write may still be running; each
    mode's last checkpoint is then read back and compared with the values it was saved from.
    """
    kernel, step = _stand_in_training(mb)
    step()  # trace once, outside the timings
    modes = {"sync": None, "async": tf.train.CheckpointOptions(enable_async=True)}
    ckpts = {mode: tf.train.Checkpoint(kernel=kernel) for mode in modes}
    prefixes = {mode: f"{os.fspath(folder)}/{mode}" for mode in modes}
    for mode, options in modes.items():
        ckpts[mode].save(prefixes[mode], options=options)  # warm-up: the first async save starts its thread
    blocked: dict[str, list[float]] = {mode: [] for mode in modes}
    after: dict[str, list[float]] = {mode: [] for mode in modes}
    last: dict[str, tuple[str, np.ndarray]] = {}
    for _ in range(saves):
        for mode, options in modes.items():
            ckpts["async"].sync()  # untimed: no earlier write still running when this save starts
            for _ in range(steps_between):
                step()
            at_save = kernel.numpy()  # what this save must hold, copied before the clock starts
            begin = time.perf_counter()
            path = ckpts[mode].save(prefixes[mode], options=options)
            blocked[mode].append(1000 * (time.perf_counter() - begin))
            begin = time.perf_counter()
            step()  # training goes on at once, beside an async write, and changes every value
            after[mode].append(1000 * (time.perf_counter() - begin))
            last[mode] = (path, at_save)
            del at_save
    ckpts["async"].sync()  # wait for the last background write before reading it
    result: dict[str, object] = {"mb": mb}
    for mode, (path, at_save) in last.items():
        stored = tf.train.load_checkpoint(path).get_tensor("kernel/.ATTRIBUTES/VARIABLE_VALUE")
        result[f"{mode}_block_ms"] = statistics.median(blocked[mode])
        result[f"{mode}_next_step_ms"] = statistics.median(after[mode])
        result[f"{mode}_holds_save_time_values"] = bool(np.array_equal(stored, at_save))
        result[f"{mode}_live_values_changed"] = bool(tf.reduce_any(kernel != at_save))
        result[f"{mode}_checkpoint"] = os.path.basename(path)
        del stored, at_save
    del last
    result["async_block_ratio"] = result["async_block_ms"] / result["sync_block_ms"]
    return result


def cost_per_step(
    intervals: list[int], folder: str | os.PathLike[str], steps: int = 40, repeat: int = 5
) -> dict[str, object]:
    """Milliseconds per training step of a small Keras model with Adam when it saves every `interval` steps.

    Also the parts: the median of one training step and of one `CheckpointManager.save` alone,
    from which `step + save / interval` predicts each row.
    """
    from ckptkit.runs.models import MyModel, regression_data

    x, y = regression_data(seed=0)
    model, optimizer = MyModel(), tf.keras.optimizers.Adam(learning_rate=0.01)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0, dtype=tf.int64))

    @tf.function
    def train_step() -> None:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        ckpt.step.assign_add(1)

    def manager(name: str) -> tf.train.CheckpointManager:
        return tf.train.CheckpointManager(ckpt, f"{os.fspath(folder)}/{name}", max_to_keep=3)

    parts = {"step_ms": median_ms(train_step, repeat), "save_ms": median_ms(manager("alone").save, repeat)}
    rows = []
    for interval in intervals:
        saver = manager(f"every-{interval}")
        saver.save()  # warm-up: the folder and the state file exist before the clock starts
        start = time.perf_counter()
        for done in range(1, steps + 1):
            train_step()
            if done % interval == 0:
                saver.save()
        measured = 1000 * (time.perf_counter() - start) / steps
        predicted = parts["step_ms"] + parts["save_ms"] / interval
        rows.append({"interval": interval, "ms_per_step": measured, "predicted_ms_per_step": predicted})
    return parts | {"rows": rows}
