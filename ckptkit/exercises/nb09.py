"""The exercise check of notebook 09_distributed.ipynb: which folder each task of a cluster saves into."""

from __future__ import annotations

from ckptkit.exercises.feedback import Feedback, drawn_order, placeholder_or_error

import copy
import os
import tempfile

__all__ = ["check_write_dir"]

SECTION = "section 'Two workers on loopback, one killed', where it says who writes where"


def _cluster(workers: int, chief: bool) -> dict[str, list[str]]:
    """`workers` workers, and a chief listed after them at the highest address: neither says who leads."""
    cluster = {"worker": [f"10.0.0.{i + 2}:2222" for i in range(workers)]}
    return {**cluster, "chief": ["10.0.0.9:2222"]} if chief else cluster


# The check's own clusters: (cluster, the tasks asked about), and which task TensorFlow makes the chief:
# the `chief` task when the cluster has one, else worker 0 (TensorFlow 2.21, multi_worker_util.is_chief).
CLUSTERS = [
    (_cluster(3, chief=False), [("worker", 0), ("worker", 1), ("worker", 2)], ("worker", 0)),
    (_cluster(2, chief=True), [("worker", 0), ("worker", 1), ("chief", 0)], ("chief", 0)),
    (_cluster(1, chief=False), [("worker", 0)], ("worker", 0)),
]


def _folder(write_dir: object, workdir: str, config: dict) -> str | Feedback:
    """Call `write_dir` on a copy of `config`; its folder, normalised, or one sentence on what went wrong."""
    task = f"{config['task']['type']} {config['task']['index']}" if config else "a process with no TF_CONFIG"
    try:
        folder = write_dir(workdir, copy.deepcopy(config))
    except Exception as err:
        return placeholder_or_error(f"write_dir for {task}", err)
    if made := os.listdir(os.path.dirname(workdir)):  # workdir's parent starts empty: the check's own
        return Feedback(
            False,
            f"write_dir for {task} created {made[0]}: return the folder without creating it "
            "(the save creates it)",
        )
    if folder is None:
        return placeholder_or_error("write_dir", None)
    try:
        return os.path.abspath(os.fsdecode(folder))  # a relative folder lies under the current one
    except (TypeError, ValueError):  # not a path, or a path-like object that fails to give one
        return Feedback(
            False, f"write_dir returned a {type(folder).__name__} for {task}: return a folder path"
        )


def _judge(folders: dict[tuple[str, int], str], workdir: str, chief: tuple[str, int], has_chief: bool) -> str:
    """What is wrong with one cluster's folders, or "" when the chief alone writes `workdir`."""
    who = {task for task, folder in folders.items() if folder == workdir}
    if chief not in who:
        where = "a cluster with a chief task" if has_chief else "a cluster of workers only"
        return f"in {where}, {chief[0]} {chief[1]} is the chief, and it must write into workdir itself"
    if who != {chief}:
        others = ", ".join(f"{t} {i}" for t, i in sorted(who - {chief}))
        why = ": a chief task makes every worker, worker 0 too, an ordinary one" if has_chief else ""
        return f"{others} would write into workdir beside the chief{why}"
    if len(set(folders.values())) < len(folders):
        return "two workers share one folder: each non-chief worker needs a folder of its own"
    # A worker deletes its folder after each save: that folder must not hold the chief's or another's,
    # nor be one that exists already (the home folder, say), whose files the deletion would take too.
    for task, folder in folders.items():
        held = [other for other in folders.values() if other != folder and _inside(other, folder)]
        if task != chief and held:
            what = "workdir" if workdir in held else "another worker's folder"
            return (
                f"{task[0]} {task[1]}'s folder holds {what}: a worker deletes its own folder after "
                "each save, so it must hold nothing else"
            )
        if task != chief and os.path.exists(folder):
            return (
                f"{task[0]} {task[1]} would save into a folder that already exists: a worker deletes its "
                "folder after each save, with whatever else it holds, so name a new one"
            )
    return ""


def _inside(path: str, folder: str) -> bool:
    """True when `path` lies inside `folder` (both normalised)."""
    return os.path.commonpath([path, folder]) == folder


def check_write_dir(write_dir: object) -> Feedback:
    """Notebook 09, exercise 1: `write_dir(workdir, tf_config)` gives the folder a task saves into.

    The chief saves into `workdir`; every other worker saves into a folder of its own, which it
    deletes, so that folder holds neither `workdir` nor another worker's. The check asks for every task
    of three clusters of its own, one of them with a `chief` task (so worker 0 is not the chief; it is
    listed last, at the highest address), and
    for a process with no TF_CONFIG (`{}`), which runs alone and saves into `workdir`. `workdir` lies
    in an empty temporary folder: an answer that creates a folder there (beside or under `workdir`) fails,
    and so does a worker's folder that already exists anywhere.
    """
    if not callable(write_dir):
        return Feedback(False, "write_dir must be a function of (workdir, tf_config)")
    with tempfile.TemporaryDirectory(prefix="ckptkit-nb09-") as root:  # workdir's parent, kept empty
        return _check(write_dir, os.path.join(os.path.realpath(root), "job"))


def _check(write_dir: object, workdir: str) -> Feedback:
    """The verdict on `write_dir` for `workdir`, a folder that does not exist."""
    questions = [(n, task) for n, (_, tasks, _) in enumerate(CLUSTERS) for task in tasks] + [(None, None)]
    answers = {}
    for n, task in drawn_order(questions):
        config = {} if n is None else {"cluster": CLUSTERS[n][0], "task": {"type": task[0], "index": task[1]}}
        answers[(n, task)] = folder = _folder(write_dir, workdir, config)
        if isinstance(folder, Feedback) and os.listdir(os.path.dirname(workdir)):
            return folder  # it created a folder: every later call would be blamed for it too
    for n, (cluster, tasks, chief) in enumerate(CLUSTERS):  # judged in a fixed order: one answer, one hint
        folders = {task: answers[(n, task)] for task in tasks}
        problem = next((f for f in folders.values() if isinstance(f, Feedback)), None)
        if problem is not None:  # a Feedback is falsy when it fails
            return problem
        if wrong := _judge(folders, workdir, chief, "chief" in cluster):
            return Feedback(False, f"{wrong} ({SECTION})")
    if isinstance(alone := answers[(None, None)], Feedback):
        return alone
    if alone != workdir:
        return Feedback(
            False,
            "with no TF_CONFIG (tf_config is {}) a process has no cluster and runs alone: it is the only "
            "one to save, so it saves into workdir itself (section 'Two workers on loopback, one killed', "
            "where this kernel's strategy is asked whether it saves)",
        )
    return Feedback(
        True,
        f"right: {len(questions) - 1} tasks in {len(CLUSTERS)} clusters of the check's own (one with a chief "
        "task, where worker 0 is an ordinary worker) and a process with no TF_CONFIG: the chief, or the lone "
        "process, writes into workdir, every other worker apart",
    )
