"""What a checkpoint costs (notebook 07): save and restore against raw I/O, async saves, cost per step.

Every timing is repeated, taking turns with what it is compared to, and reported as its median and
its 10th-90th percentile range, so that a conclusion is drawn only where two ranges do not overlap.
"""

from __future__ import annotations

from ckptkit.live.quiet import import_tensorflow
from ckptkit.runs.step import apply_step

import contextlib
import functools
import glob
import os
import re
import time
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

tf = import_tensorflow()
Actions = dict[str, Callable[[], object]]  # named timings: what each runs

__all__ = [
    "Spread",
    "async_blocking",
    "can_drop_cache",
    "cost_per_step",
    "drop_from_cache",
    "filesystem_of",
    "interleaved_times",
    "resident_fraction",
    "throughput",
    "verdict",
]


class Spread(NamedTuple):
    """Repeated measurements: their median and 10th-90th percentile range, and whether it separates."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        """The median, 10th and 90th percentiles of `values`: one stray run does not widen the range."""
        low, median, high = np.percentile(values, [10, 50, 90])
        return cls(float(median), float(low), float(high))

    def separate(self, other: Spread) -> bool:
        """True when the two ranges do not overlap: only then do the medians tell the two apart."""
        return self.high < other.low or other.high < self.low

    def __format__(self, spec: str) -> str:
        """`median [low-high]`: a spec such as `>20.1f` aligns the whole, its `.1f` formats each number."""
        width, number = re.fullmatch(r"([<>^]?\d*)(.*)", spec).groups()
        return f"{f'{self.median:{number}} [{self.low:{number}}-{self.high:{number}}]':{width}}"


def verdict(a: Spread, b: Spread, names: tuple[str, str], higher_is_better: bool) -> str:
    """Which of two spreads is better, as a ratio of medians; where their ranges overlap, neither is named."""
    if not a.separate(b):
        return f"{names[0]} vs {names[1]}: the ranges overlap, not told apart in this run"
    winner, loser = names if (a.median > b.median) == higher_is_better else names[::-1]
    ratio = max(a.median, b.median) / min(a.median, b.median)
    return f"{winner} beats {loser} by {ratio:.2f}x (ranges separate)"


def interleaved_times(actions: Actions, repeat: int, before: Actions | None = None) -> dict[str, list[float]]:
    """Milliseconds of each run of each action, run in turn round after round, after one warm-up round.

    Taking turns spreads load from other work over all actions alike; `before[name]`, when given,
    runs untimed before each run of that action.
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
            times[name].append(1000 * (time.perf_counter() - start))
    return times


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
    """True where the OS offers to evict a file from the page cache (Linux); see `resident_fraction`."""
    return hasattr(os, "posix_fadvise")


def _flush(path: str, drop: bool = False) -> None:
    """fsync a file or folder; with `drop`, then ask the OS to forget its (now clean) cached pages."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
        if drop:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def drop_from_cache(*paths: str) -> bool:
    """Flush each file to disk, then ask the OS to forget its cached pages; False where it cannot."""
    for path in paths if can_drop_cache() else ():
        _flush(path, drop=True)
    return can_drop_cache()


def resident_fraction(path: str) -> float | None:
    """The share of `path`'s pages in the page cache, asked of the kernel with `mincore`; None if unknown."""
    import ctypes
    import ctypes.util

    size = os.path.getsize(path)
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    if size == 0 or not hasattr(libc, "mincore"):
        return None
    page = os.sysconf("SC_PAGE_SIZE")
    libc.mmap.restype, libc.mmap.argtypes = ctypes.c_void_p, [ctypes.c_void_p, ctypes.c_size_t]
    libc.mmap.argtypes += [ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    fd = os.open(path, os.O_RDONLY)
    try:
        address = libc.mmap(None, size, 1, 1, fd, 0)  # PROT_READ, MAP_SHARED: maps, reads nothing
        if address in (None, ctypes.c_void_p(-1).value):
            return None
        pages = (ctypes.c_ubyte * ((size + page - 1) // page))()
        failed = libc.mincore(ctypes.c_void_p(address), ctypes.c_size_t(size), pages)
        libc.munmap(ctypes.c_void_p(address), ctypes.c_size_t(size))
    finally:
        os.close(fd)
    return None if failed else sum(p & 1 for p in pages) / len(pages)


def _files_of(prefix: str) -> list[str]:
    """The `.index` and `.data-*` files `Checkpoint.write(prefix)` produced (it writes no state file)."""
    return sorted(glob.glob(glob.escape(prefix) + ".*"))


def _remove(*paths: str) -> None:
    """Remove each file that exists: the timings' own scratch files."""
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.remove(path)


def _raw_write(path: str, data: np.ndarray, fsync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)  # from the array's buffer: no copy
        f.flush()
        if fsync:
            os.fsync(f.fileno())
    if fsync:
        _flush(os.path.dirname(path))  # as for a checkpoint: the folder too, so both buy the same


def throughput(
    sizes_mb: list[int], folder: str | os.PathLike[str], repeat: int = 5
) -> list[dict[str, object]]:
    """MB/s of `Checkpoint.write`/`read` of one float32 variable per size, and of raw I/O of the same bytes.

    Like with like: both writes without fsync (page cache) and both followed by an fsync of every file
    written and of the folder (disk); both reads cold (dropped from the page cache first, where the OS
    allows; `cold_resident` is the largest share of pages still cached before a cold read) and hot.
    `<kind>_mb_s` is the median, `<kind>` a `Spread` in MB/s.
    """
    return [_throughput_of(mb, os.fspath(folder), repeat) for mb in sizes_mb]


def _throughput_of(mb: int, folder: str, repeat: int) -> dict[str, object]:
    values = np.random.default_rng(mb).random(mb * 2**18, dtype=np.float32)  # mb MiB of float32
    prefix, raw = f"{folder}/ckpt-{mb}mb", f"{folder}/raw-{mb}mb"
    ckpt = tf.train.Checkpoint(v=tf.Variable(values))

    def write_fsync() -> None:
        for path in [*_files_of(ckpt.write(prefix)), folder]:  # TensorFlow renamed new files into it
            _flush(path)

    # TensorFlow and raw I/O take turns in each comparison, so other load slows both alike. Each write
    # makes new files (the old ones are removed untimed): replacing a file adds work inside the call
    # (the old file is freed; on ext4, auto_da_alloc starts the new one's write-back).
    writes = {
        "raw_write": functools.partial(_raw_write, raw, values, fsync=False),
        "save": lambda: ckpt.write(prefix),
        "raw_write_fsync": functools.partial(_raw_write, raw, values, fsync=True),
        "save_fsync": write_fsync,
    }
    fresh = {"raw": lambda: _remove(raw), "save": lambda: _remove(*_files_of(prefix))}
    times = interleaved_times(writes, repeat, {kind: fresh[kind.split("_")[0]] for kind in writes})
    del values  # one copy at a time keeps the largest size well inside a notebook's memory budget
    buffer = bytearray(mb * 2**20)  # reused: a raw read costs only the read, no allocation

    def raw_read() -> None:
        with open(raw, "rb", buffering=0) as f:
            f.readinto(buffer)

    reads = {"raw_read_hot": raw_read, "restore_hot": lambda: ckpt.read(prefix).assert_consumed()}
    resident: list[float] = []

    def dropped(*paths: str) -> None:
        drop_from_cache(*paths)
        resident.extend(f for f in map(resident_fraction, paths) if f is not None)

    befores = {}
    if can_drop_cache():
        reads |= {"raw_read_cold": reads["raw_read_hot"], "restore_cold": reads["restore_hot"]}
        befores = {"raw_read_cold": lambda: dropped(raw), "restore_cold": lambda: dropped(*_files_of(prefix))}
    times |= interleaved_times(reads, repeat, befores)
    _remove(raw, *_files_of(prefix))
    row: dict[str, object] = {"mb": mb, "cold_resident": max(resident) if resident else None}
    for kind, ms in times.items():
        row[kind] = Spread.of([mb / t * 1000 for t in ms])
        row[f"{kind}_mb_s"] = row[kind].median
    return row


def _small_run(seed: int = 0) -> tuple[tf.train.Checkpoint, Callable[[], None]]:
    """Notebook 07's small Keras model with Adam and a step: its checkpoint and a compiled training step."""
    from ckptkit.runs.models import MyModel, regression_data

    x, y = regression_data(seed=seed)
    model, optimizer = MyModel(), tf.keras.optimizers.Adam(learning_rate=0.01)
    ckpt = tf.train.Checkpoint(model=model, optimizer=optimizer, step=tf.Variable(0, dtype=tf.int64))

    @tf.function
    def train_step() -> None:
        apply_step(model, None, optimizer, x, y)
        ckpt.step.assign_add(1)

    train_step()  # builds the model and Adam's slots
    return ckpt, train_step


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
        apply_step(lambda inputs: inputs @ kernel, [kernel], optimizer, x, y)

    return kernel, step


class _Loop(NamedTuple):
    """One timed training loop: its whole ms, and the ms of each save and each step in it."""

    ms: float
    saves: list[float]
    after_save: list[float]  # steps right after a save (beside an async write)
    plain: list[float]  # every other step


def _timed_loop(step: Callable, save: Callable, sync: Callable, steps: int, every: int) -> _Loop:
    """One training loop of `steps` steps saving every `every`, timed whole (its final sync included)."""
    loop, start = _Loop(0.0, [], [], []), time.perf_counter()
    for n in range(1, steps + 1):
        begin = time.perf_counter()
        step()
        kind = loop.after_save if n > 1 and (n - 1) % every == 0 else loop.plain
        kind.append(1000 * (time.perf_counter() - begin))
        if n % every == 0:
            begin = time.perf_counter()
            save()
            loop.saves.append(1000 * (time.perf_counter() - begin))
    sync()  # the last background write is part of the loop's cost: nothing waits for it untimed
    return loop._replace(ms=1000 * (time.perf_counter() - start))


def _pooled(loops: list[_Loop], field: str) -> Spread:
    """The spread of one kind of timing (`saves`, `after_save`, `plain`) over every loop."""
    return Spread.of([ms for loop in loops for ms in getattr(loop, field)])


def async_blocking(
    folder: str | os.PathLike[str], mb: int = 8, steps: int = 6, every: int = 2, repeat: int = 5
) -> dict[str, object]:
    """A CPU-bound training loop with saves every `every` steps, sync against async checkpointing.

    Each loop is timed whole: `steps` real SGD steps, the saves, and for async the wait for its last
    background write; a new loop starts with no write pending. The two kinds take turns `repeat`
    times. Also timed: each save (how long it blocks the loop), each step right after a save (it
    runs beside an async write) and every other step. Last, each kind saves once more and trains on
    at once; that checkpoint is read back and compared with the values it was saved from.
    """
    kernel, step = _stand_in_training(mb)
    modes = {"sync": None, "async": tf.train.CheckpointOptions(enable_async=True)}
    ckpts = {mode: tf.train.Checkpoint(kernel=kernel) for mode in modes}
    # as training saves: a manager numbers the checkpoints and keeps one, so disk use stays bounded
    managers = {
        mode: tf.train.CheckpointManager(ckpts[mode], f"{os.fspath(folder)}/{mode}", 1) for mode in modes
    }
    runs: dict[str, list[_Loop]] = {mode: [] for mode in modes}
    for _ in range(repeat + 1):  # the first round warms up: traces the step, starts the async thread
        for mode, options in modes.items():
            save = functools.partial(managers[mode].save, options=options)
            runs[mode].append(_timed_loop(step, save, ckpts[mode].sync, steps, every))
    result: dict[str, object] = {"mb": mb, "steps": steps, "every": every}
    for mode, options in modes.items():
        loops = runs[mode][1:]
        result[f"{mode}_loop"] = Spread.of([loop.ms for loop in loops])
        for key, field in (("block", "saves"), ("after_save", "after_save"), ("plain_step", "plain")):
            result[f"{mode}_{key}"] = _pooled(loops, field)
        result[f"{mode}_block_ms"] = result[f"{mode}_block"].median
        result[f"{mode}_next_step_ms"] = result[f"{mode}_after_save"].median
        at_save = kernel.numpy()
        path = managers[mode].save(options=options)
        step()  # changes every value while an async write may still run
        ckpts[mode].sync()
        stored = tf.train.load_checkpoint(path).get_tensor("kernel/.ATTRIBUTES/VARIABLE_VALUE")
        result[f"{mode}_holds_save_time_values"] = bool(np.array_equal(stored, at_save))
        result[f"{mode}_live_values_changed"] = bool(tf.reduce_any(kernel != at_save))
        result[f"{mode}_checkpoint"] = os.path.basename(path)
    result["async_block_ratio"] = result["async_block_ms"] / result["sync_block_ms"]
    return result


def _drawn_loops(steps_ms: list[float], saves_ms: list[float], steps: int, every: int) -> Spread:
    """ms per step of 1,000 loops drawn from timed steps and saves: `steps` steps, a save every `every`."""
    rng = np.random.default_rng(0)  # the same draws every run: only the timings vary
    loops = rng.choice(steps_ms, (1000, steps)).sum(axis=1)
    loops += rng.choice(saves_ms, (1000, steps // every)).sum(axis=1)
    return Spread.of(list(loops / steps))


def cost_per_step(
    intervals: list[int], folder: str | os.PathLike[str], steps: int = 40, repeat: int = 3
) -> dict[str, object]:
    """Milliseconds per training step of a small Keras model with Adam when it saves every `interval` steps.

    Each interval's loop runs `repeat` times, the intervals taking turns (`Spread` per row). Each step
    and each save inside the loops is timed too; `predicted` is the `Spread` of `step + save / interval`
    over 1,000 loops drawn from those timings (percentiles do not add, so the loops are drawn whole).
    """
    ckpt, train_step = _small_run()
    managers = {n: tf.train.CheckpointManager(ckpt, f"{os.fspath(folder)}/every-{n}", 3) for n in intervals}
    loops: dict[int, list[_Loop]] = {n: [] for n in intervals}
    for _ in range(repeat + 1):  # the first round warms up: the first saves create the folders
        for n in intervals:
            loops[n].append(_timed_loop(train_step, managers[n].save, lambda: None, steps, n))
    timed = [loop for n in intervals for loop in loops[n][1:]]
    steps_ms = [ms for loop in timed for ms in loop.after_save + loop.plain]
    saves_ms = [ms for loop in timed for ms in loop.saves]
    step, save = Spread.of(steps_ms), Spread.of(saves_ms)
    rows = []
    for n in intervals:
        per_step = Spread.of([loop.ms / steps for loop in loops[n][1:]])
        predicted = _drawn_loops(steps_ms, saves_ms, steps, n)
        rows.append({"interval": n, "per_step": per_step, "ms_per_step": per_step.median})
        rows[-1] |= {"predicted": predicted, "predicted_ms_per_step": predicted.median}
    return {"step_ms": step.median, "save_ms": save.median, "step": step, "save": save, "rows": rows}
