"""The exercise checks of notebook 08: right answers pass, wrong ones get a hint."""


def test_branches():
    from ckptkit.exercises.nb08 import check_branches
    from ckptkit.runs.history import History

    h = History()
    h.record(1, 1.0)
    assert not check_branches(h, wanted=2)
    h.mark_save("c", 1)
    h.mark_restore("c", 1)
    h.record(2, 0.5)
    assert check_branches(h, wanted=2)


def test_branches_of_the_playground():
    from ckptkit.exercises.nb08 import check_branches
    from ckptkit.runs.history import History

    h = History()
    h.record(1, 1.0)
    h.mark_save("ckpt-1", 1)
    h.record(2, 0.5)
    h.mark_restore("ckpt-1", 1)
    h.record(2, 0.6)
    h.mark_restore("ckpt-1", 1)  # notebook 08's starting answer: a third branch, not trained yet
    untrained = check_branches(h)
    assert not untrained and "2 branch(es) with training so far, 1 without" in untrained.message
    assert "restore_button" not in untrained.message  # a hint, not the solution
    assert "pass the lab's history" in check_branches(None).message
    assert "pass the lab's history" in check_branches(h.runs["run 1"]).message  # one run, not the history
    h.record(2, 0.7)
    assert check_branches(h)
