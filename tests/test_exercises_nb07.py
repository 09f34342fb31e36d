"""The exercise checks of notebook 07: the reference solutions pass; cheats and wrong answers get a hint."""

from ckptkit.exercises.nb07 import (
    INTERVAL_CASES,
    _drawn_cases,
    _fewest_steps,
    check_save_durably,
    check_save_interval,
)
from ckptkit.lessons import performance

import glob
import math
import os
from fractions import Fraction
from os import fsync

from helpers import spells_out

# What the reference solutions call: no ❌ may spell these out.
SOLUTION_CALLS = ("os.fsync", "os.open", "O_RDONLY", "math.ceil", "(1 - budget)")


def _flush(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_durably(ckpt, prefix):
    path = ckpt.write(prefix)
    for name in glob.glob(glob.escape(path) + ".*"):
        _flush(name)
    _flush(os.path.dirname(path))  # the folder holds the names the renames created
    return path


def save_interval(step_ms, save_ms, budget):
    # save / (n * step + save) <= budget  <=>  n >= save * (1 - budget) / (budget * step)
    return math.ceil(save_ms * (1 - budget) / (budget * step_ms))


def placeholder(*args):
    raise NotImplementedError


def _failed(feedback, *words):
    assert not feedback, feedback
    assert all(word in feedback.message for word in words), feedback
    assert not spells_out(feedback.message, SOLUTION_CALLS), feedback
    return feedback


def test_save_durably():
    assert check_save_durably(save_durably)

    def by_alias(ckpt, prefix):  # right too: fsync by a name bound before the check began
        path = ckpt.write(prefix)
        for name in [*glob.glob(glob.escape(path) + ".*"), os.path.dirname(path)]:
            fd = os.open(name, os.O_RDONLY)
            try:
                fsync(fd)
            finally:
                os.close(fd)
        return path

    assert check_save_durably(by_alias), check_save_durably(by_alias).message
    assert fsync is os.fsync  # the check put its watcher back on both names

    def folder_then_files(ckpt, prefix):  # the notebook says "in either order": both after the write
        path = ckpt.write(prefix)
        _flush(os.path.dirname(path))
        for name in glob.glob(glob.escape(path) + ".*"):
            _flush(name)
        return path

    assert check_save_durably(folder_then_files)

    def with_save(ckpt, prefix):  # durable, but save() also writes a state file: the exercise asks for write
        path = ckpt.save(prefix)
        for name in [*glob.glob(path + ".*"), os.path.join(os.path.dirname(path), "checkpoint")]:
            _flush(name)
        _flush(os.path.dirname(path))
        return path

    def whole_system(ckpt, prefix):  # os.sync() flushes everything: durable, but not the lesson
        path = ckpt.write(prefix)
        os.sync()
        return path

    assert "use ckpt.write" in check_save_durably(with_save).message
    assert "os.sync() flushes every file system" in check_save_durably(whole_system).message

    def files_only(ckpt, prefix):
        path = ckpt.write(prefix)
        for name in glob.glob(path + ".*"):
            _flush(name)
        return path

    def folder_first(ckpt, prefix):  # flushed before the save created anything
        _flush(os.path.dirname(prefix))
        return ckpt.write(prefix)

    def save_without_state_file(ckpt, prefix):
        path = ckpt.save(prefix)
        for name in [*glob.glob(path + ".*"), os.path.dirname(path)]:
            _flush(name)
        return path

    def the_helper(ckpt, prefix):  # the lesson module's cache dropper flushes files, not the folder
        path = ckpt.write(prefix)
        performance.drop_from_cache(*glob.glob(path + ".*"))
        return path

    cheats_and_wrong = [
        (lambda ckpt, prefix: ckpt.write(prefix), "was not flushed"),
        (files_only, "not the folder"),
        (folder_first, "was not flushed"),
        (save_without_state_file, "state file"),
        (with_save, "state file"),
        (the_helper, "called ckptkit's drop_from_cache"),
        (lambda ckpt, prefix: None, "must return the path"),
        (lambda ckpt, prefix: prefix, "no checkpoint files"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_save_durably(answer), words)
    _failed(check_save_durably(the_helper), "flush the files and the folder yourself")
    _failed(check_save_durably(placeholder), "still the placeholder")
    _failed(check_save_durably(lambda ckpt, prefix: 1 / 0), "raised ZeroDivisionError")


def test_interval_cases_have_no_exact_tie():  # the notebook says so: no answer hinges on rounding
    for step_ms, save_ms, budget in INTERVAL_CASES:
        step, save, share = (Fraction(str(v)) for v in (step_ms, save_ms, budget))
        bound = save * (1 - share) / (share * step)  # the exact smallest real n within budget
        assert bound.denominator != 1 and abs(bound - round(bound)) > Fraction(1, 100), (step_ms, bound)


def test_drawn_cases_have_no_near_tie():  # a right answer's rounding never decides a drawn case
    for case in _drawn_cases(200):
        step, save, share = (Fraction(str(v)) for v in case)
        bound = save * (1 - share) / (share * step)
        assert abs(bound - round(bound)) > Fraction(1, 10**7), case
        assert save_interval(*case) == _fewest_steps(*case), case  # the formula and counting up agree


def test_save_interval():
    assert check_save_interval(save_interval)

    def counting(step_ms, save_ms, budget):  # counting up is as right as the formula
        n = 1
        while save_ms / (n * step_ms + save_ms) > budget:
            n += 1
        return n

    assert check_save_interval(counting)

    def share_of_training(step_ms, save_ms, budget):  # save / (n * step) <= budget: training time only
        return math.ceil(save_ms / (budget * step_ms))

    def rounded(step_ms, save_ms, budget):
        return round(save_ms * (1 - budget) / (budget * step_ms))

    def float_answer(step_ms, save_ms, budget):
        return float(save_interval(step_ms, save_ms, budget))

    def oracle(step_ms, save_ms, budget):  # asks the check itself, number by number
        return next(n for n in range(1, 10_000) if check_save_interval(lambda *args, n=n: n))

    table = {case: save_interval(*case) for case in INTERVAL_CASES}  # the fixed cases, learned by heart

    cheats_and_wrong = [
        (lambda *case: table[case], "raised KeyError"),
        (share_of_training, "a shorter interval fits too"),
        (rounded, "over budget"),
        (float_answer, "whole number"),
        (lambda step_ms, save_ms, budget: 48, "over budget"),  # the notebook's numbers, copied
        (oracle, "raised StopIteration"),
        (lambda step_ms, save_ms, budget: 0, "over budget"),
        (lambda *args: int(save_interval(*args) * (args[1] > 2)), "over budget"),  # 0 for cheap saves
        (lambda step_ms, save_ms, budget: True, "whole number"),
    ]
    for answer, words in cheats_and_wrong:
        _failed(check_save_interval(answer), words)
    _failed(check_save_interval(placeholder), "still the placeholder")
