from ckptkit.history import History


def test_record_and_loss_at_follow_parents():
    h = History()
    for step, loss in [(1, 4.0), (2, 3.0), (3, 2.0)]:
        h.record(step, loss)
    h.mark_save("ck-1", 2)
    assert h.saves()[0].loss == 3.0
    branch = h.mark_restore("ck-1", 2)
    assert (branch.parent, branch.start_step, branch.start_checkpoint) == ("run 1", 2, "ck-1")
    h.record(3, 1.5)
    assert h.loss_at(3) == 1.5  # the branch's own value wins
    assert h.loss_at(1) == 4.0  # found through the parent
    assert h.loss_at(3, "run 1") == 2.0
    assert [e.kind for e in h.events] == ["save", "restore"]


def test_branch_from_a_checkpoint_takes_its_run_and_step():
    h = History("pretrain")
    h.record(5, 1.0)
    h.mark_save("pre-5", 5)
    run = h.branch("finetune", checkpoint="pre-5")
    assert (run.parent, run.start_step) == ("pretrain", 5)
    h.record(6, 0.5)
    h.mark_save("ft-6", 6)
    row = {"checkpoint": "ft-6", "run": "finetune", "step": 6, "loss": 0.5, "parent": "pre-5"}
    assert h.lineage()[-1] == row


def test_branch_name_must_be_new():
    h = History()
    try:
        h.branch("run 1")
    except ValueError as err:
        assert "exists already" in str(err)
    else:
        raise AssertionError("a duplicate run name was accepted")


def test_last_save_is_the_newest_save_of_that_path():
    h = History()
    h.record(1, 4.0)
    h.mark_save("ck-1", 1)
    h.record(2, 3.0)
    h.mark_save("ck-1", 2)  # the same name saved again
    assert (h.last_save("ck-1").step, h.last_save("ck-1").loss) == (2, 3.0)
    assert h.last_save("ck-2") is None
