"""Notebook 09's exercise check: the reference passes; wrong answers and placeholders get a hint."""

from __future__ import annotations

from ckptkit.exercises.nb09 import CLUSTERS, check_write_dir

import os
import tempfile
import uuid
from pathlib import Path

import pytest

from helpers import spells_out

# Calls and names the reference solution uses: no ❌ may spell one of them out.
SOLUTION_CALLS = ('tf_config["task"]', 'tf_config["cluster"]', "os.path.join(", "workertemp_")


def write_dir(workdir, tf_config):
    """The reference: the chief task if the cluster has one, else worker 0, writes into workdir."""
    if not tf_config:  # no cluster: the process runs alone
        return workdir
    task, cluster = tf_config["task"], tf_config["cluster"]
    chief = task["type"] == "chief" or (
        "chief" not in cluster and task["type"] == "worker" and task["index"] == 0
    )
    return workdir if chief else os.path.join(workdir, f"workertemp_{task['type']}_{task['index']}")


def the_kits_layout(workdir, tf_config):
    """Also right: notebook 09's `workertemp_<index>` (a chief task and worker 0 never both go to a temp)."""
    if "task" not in tf_config:
        return workdir
    task, cluster = tf_config["task"], tf_config["cluster"]
    chief = task["type"] == "chief" or ("chief" not in cluster and task["index"] == 0)
    return workdir if chief else os.path.join(workdir, f"workertemp_{task['index']}")


def a_new_folder_elsewhere(workdir, tf_config):
    """Also right: a worker's own folder anywhere, as long as it is new (its deletion takes nothing else)."""
    folder = write_dir(workdir, tf_config)
    if folder == workdir:
        return workdir
    return os.path.join(tempfile.gettempdir(), f"ckptkit-test-{uuid.uuid4().hex}", os.path.basename(folder))


def as_a_path(workdir, tf_config):
    return Path(write_dir(workdir, tf_config))


def beside_workdir(workdir, tf_config):
    """Also right: TensorFlow's preemption handler's layout, a folder beside workdir."""
    folder = write_dir(workdir, tf_config)
    return folder if folder == workdir else os.path.join(os.path.dirname(workdir), os.path.basename(folder))


def with_tensorflows_rule(workdir, tf_config):
    """Also right: TensorFlow's own chief rule, shown in the notebook, for a task of a cluster."""
    from tensorflow.python.distribute import multi_worker_util

    if not tf_config:  # is_chief answers for a task of a cluster only
        return workdir
    task = tf_config["task"]
    if multi_worker_util.is_chief(tf_config["cluster"], task["type"], task["index"]):
        return workdir
    return os.path.join(workdir, f"workertemp_{task['index']}")


def cell_43_copied(workdir, tf_config):
    """TensorFlow's rule alone: a process with no TF_CONFIG has no task to look up."""
    from tensorflow.python.distribute import multi_worker_util

    task = tf_config["task"]
    if multi_worker_util.is_chief(tf_config["cluster"], task["type"], task["index"]):
        return workdir
    return os.path.join(workdir, f"workertemp_{task['index']}")


def is_chief_without_a_task(workdir, tf_config):
    """TensorFlow's rule asked about no task: is_chief says False, so the lone process saves apart."""
    from tensorflow.python.distribute import multi_worker_util

    task = tf_config.get("task", {})
    if multi_worker_util.is_chief(tf_config.get("cluster", {}), task.get("type"), task.get("index")):
        return workdir
    return os.path.join(workdir, f"workertemp_{task.get('index')}")


def _chief(tf_config):
    task, cluster = tf_config["task"], tf_config["cluster"]
    return task["type"] == "chief" or ("chief" not in cluster and task["index"] == 0)


def parent_of_workdir(workdir, tf_config):
    """Worker 1 writes into workdir's parent: deleting it would delete the chief's checkpoints."""
    index = tf_config["task"]["index"]
    if _chief(tf_config):
        return workdir
    return os.path.dirname(workdir) if index == 1 else os.path.join(workdir, f"workertemp_{index}")


def nested(workdir, tf_config):
    """Each worker's folder inside the previous one's: deleting one deletes the next."""
    index = tf_config["task"]["index"]
    return workdir if _chief(tf_config) else os.path.join(workdir, *["workertemp"] * index)


def index_zero(workdir, tf_config):
    """Worker 0 is the chief, even when the cluster names a chief task."""
    index = tf_config["task"]["index"]
    return workdir if index == 0 else os.path.join(workdir, f"workertemp_{index}")


def everyone(workdir, tf_config):
    return workdir


def one_temp(workdir, tf_config):
    task = tf_config["task"]
    return workdir if task == {"type": "worker", "index": 0} else os.path.join(workdir, "workertemp")


def chief_task_only(workdir, tf_config):
    task = tf_config["task"]
    return workdir if task["type"] == "chief" else os.path.join(workdir, f"workertemp_{task['index']}")


def creates_it(workdir, tf_config):
    """Right folders, but each one made on disk: the exercise asks for the path only."""
    folder = write_dir(workdir, tf_config)
    os.makedirs(folder, exist_ok=True)
    return folder


def first_listed_type(workdir, tf_config):
    """Index 0 of the task type listed first leads: not when the chief task is listed last."""
    if not tf_config:
        return workdir
    task = tf_config["task"]
    first = next(iter(tf_config["cluster"]))
    leads = task["type"] == first and task["index"] == 0
    return workdir if leads else os.path.join(workdir, f"workertemp_{task['type']}_{task['index']}")


def lowest_address(workdir, tf_config):
    """The task at the lowest address leads: the chief's address may be any."""
    if not tf_config:
        return workdir
    task, cluster = tf_config["task"], tf_config["cluster"]
    lowest = min(address for addresses in cluster.values() for address in addresses)
    leads = cluster[task["type"]][task["index"]] == lowest
    return workdir if leads else os.path.join(workdir, f"workertemp_{task['type']}_{task['index']}")


def home_folder(workdir, tf_config):
    """Worker 1 saves into the home folder, which it would delete after each save."""
    if not tf_config or _chief(tf_config):
        return workdir
    index = tf_config["task"]["index"]
    return os.path.expanduser("~") if index == 1 else os.path.join(workdir, f"workertemp_{index}")


def placeholder(workdir, tf_config): ...


def not_implemented(workdir, tf_config):
    raise NotImplementedError


def test_right_answers():
    for answer in (
        write_dir,
        the_kits_layout,
        as_a_path,
        beside_workdir,
        with_tensorflows_rule,
        a_new_folder_elsewhere,
    ):
        feedback = check_write_dir(answer)
        assert feedback, (answer.__name__, feedback.message)
        assert "7 tasks in 3 clusters" in feedback.message


@pytest.mark.parametrize(
    ("answer", "words"),
    [
        (cell_43_copied, "a process with no TF_CONFIG raised KeyError"),
        (is_chief_without_a_task, "runs alone: it is the only one to save"),
        (index_zero, "worker 0 would write into workdir beside the chief"),
        (everyone, "would write into workdir beside the chief"),
        (one_temp, "share one folder"),
        (parent_of_workdir, "worker 1's folder holds workdir"),
        (nested, "holds another worker's folder"),
        (chief_task_only, "worker 0 is the chief"),
        (creates_it, "created job: return the folder without creating it"),
        (first_listed_type, "chief 0 is the chief"),
        (lowest_address, "chief 0 is the chief"),
        (home_folder, "worker 1 would save into a folder that already exists"),
        (placeholder, "still the placeholder"),
        (not_implemented, "still the placeholder"),
        (lambda workdir, tf_config: 3, "returned a int"),
        (lambda workdir, tf_config: tf_config["task"]["name"], "raised KeyError"),
    ],
)
def test_wrong_answers(answer, words):
    feedback = check_write_dir(answer)
    assert not feedback and words in feedback.message, feedback.message
    assert "\n" not in feedback.message
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback.message


def test_answers_learnt_by_call_count_fail():
    # The right folders in the order the check used to ask, handed out by call count: tf_config unread.
    configs = [
        {"cluster": cluster, "task": {"type": t, "index": i}}
        for cluster, tasks, _ in CLUSTERS
        for t, i in tasks
    ]
    by_heart, calls = [write_dir("/w", config) for config in [*configs, {}]], []

    def by_call_count(workdir, tf_config):
        calls.append(tf_config)
        return by_heart[(len(calls) - 1) % len(by_heart)].replace("/w", workdir, 1)

    assert not check_write_dir(by_call_count)


def test_the_check_cannot_be_changed_through_its_argument():
    """A function that edits the TF_CONFIG it is given changes only its own copy."""

    def vandal(workdir, tf_config):
        tf_config["cluster"].clear()
        return write_dir(workdir, {"cluster": {"worker": ["a"]}, "task": tf_config["task"]})

    assert not check_write_dir(vandal)
    assert check_write_dir(write_dir)


def test_not_a_function():
    assert "must be a function" in check_write_dir("workdir").message
