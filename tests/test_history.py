from ckptkit.runs.history import History


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


def test_branch_of_the_same_name_replaces_it_so_a_cell_can_run_twice():
    h = History()
    h.record(1, 4.0)
    h.mark_save("ck-1", 1)
    for loss in (3.0, 2.5):  # the same notebook cell run twice
        h.branch("tuned", checkpoint="ck-1")
        h.record(2, loss)
        h.mark_save("ck-2", 2)
    assert list(h.runs) == ["run 1", "tuned"]
    assert h.runs["tuned"].losses == [2.5]
    assert [(e.run, e.path) for e in h.saves()] == [("run 1", "ck-1"), ("tuned", "ck-2")]


def test_unnamed_branches_never_replace_a_run():
    h = History()
    h.record(1, 4.0)
    h.branch("run 3", at_step=1)
    h.record(2, 3.0)
    first = h.branch(at_step=2)
    second = h.branch(at_step=2)
    assert (first.name, second.name) == ("run 4", "run 5")
    assert h.runs["run 3"].losses == [3.0]


def test_replacing_the_current_branch_keeps_its_origin():
    h = History()
    h.record(1, 4.0)
    h.branch("b", at_step=1)
    h.record(2, 3.0)
    again = h.branch("b", at_step=1)
    assert (again.parent, again.start_step, again.steps) == ("run 1", 1, [])


def test_last_save_is_the_newest_save_of_that_path():
    h = History()
    h.record(1, 4.0)
    h.mark_save("ck-1", 1)
    h.record(2, 3.0)
    h.mark_save("ck-1", 2)  # the same name saved again
    assert (h.last_save("ck-1").step, h.last_save("ck-1").loss) == (2, 3.0)
    assert h.last_save("ck-2") is None
