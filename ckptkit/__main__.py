"""`python -m ckptkit inspect|diff|ls|train|migrate`: read, compare, list, train with exact resume, migrate.

Arguments are parsed without TensorFlow. `inspect`, `diff` and `ls` read the files directly and never
import it; `train` (but not the process that launches `--workers`) and `migrate` do.
"""

from __future__ import annotations

from ckptkit.errors import CheckpointError, ClusterError
from ckptkit.files.diff import compare
from ckptkit.files.inventory import inspect_checkpoint, list_folder
from ckptkit.files.text import text_table
from ckptkit.runs import launcher
from ckptkit.runs.loop import INGREDIENTS, KILL_POINTS, RUN_MODELS, check_steps, check_workdir, say_flushed

import argparse
import json
import os
import sys
from pathlib import Path

__all__ = ["main"]

# What `pip install ckptkit[lab]` adds to the light install; `train` and `migrate` need it.
_LAB_EXTRA = ("tensorflow", "keras", "matplotlib", "ipywidgets", "psutil", "h5py")


def _inspect(args: argparse.Namespace) -> int:
    inventory = inspect_checkpoint(args.path)
    print(json.dumps(inventory.to_dict(), indent=2) if args.json else inventory.text())
    return 0


def _diff(args: argparse.Namespace) -> int:
    d = compare(args.a, args.b, bitwise=args.bitwise)
    if args.json:
        rows = [
            {
                "name": r.name,
                "status": r.status,
                "reason": r.reason,
                "shape_a": None if r.shape_a is None else list(r.shape_a),
                "shape_b": None if r.shape_b is None else list(r.shape_b),
                "dtype_a": r.dtype_a,
                "dtype_b": r.dtype_b,
                "max_abs": r.max_abs,
                "mean_abs": r.mean_abs,
            }
            for r in d.rows
        ]
        out = {"a": args.a, "b": args.b, "identical": d.identical, "rule": d.rule, "notes": list(d.notes)}
        print(json.dumps(out | {"values": rows}, indent=2))
    else:
        print(d.summary())
        print(d.header())
        print(d.table())
    return 0 if d.identical else 1


def _ls(args: argparse.Namespace) -> int:
    rows = list_folder(args.folder)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    marked = any("selected" in r for r in rows)  # `ls PREFIX`: a `*` marks that checkpoint
    table = [["checkpoint", "save_counter", "step", "note"]]
    for r in rows:
        if r.get("missing"):
            note = "listed in the state file, missing on disk"
        elif "error" in r:
            note = "unreadable: " + r["error"]
        else:
            note = "" if r["listed"] else "not in the state file"
        name = ("* " if r.get("selected") else "  ") * marked + r["checkpoint"]
        table.append([name, r.get("save_counter", "-"), r.get("step", "-"), note])
    print("\n".join(text_table(table, right={1, 2}, widths={0: len("checkpoint") + 2 * marked, 2: 6})))
    return 0


def _train(args: argparse.Namespace) -> int:
    check_steps(args.steps)  # bad numbers are refused before the seconds TensorFlow takes to load
    check_steps(args.save_every)
    drop = tuple(name for name in INGREDIENTS if getattr(args, f"no_save_{name}"))
    if args.strategy or args.max_shard_mb is not None:
        return _train_distributed(args, drop)
    if args.kill_point is not None and args.kill_during_save is None:
        raise ValueError("--kill-point says where inside a save to die: add --kill-during-save STEP")
    check_workdir(args.workdir)  # and so is a folder of someone else's files
    from ckptkit.runs.trainer import train  # imports TensorFlow: only this command needs it

    result = train(
        args.model,
        args.steps,
        args.save_every,
        args.seed,
        args.workdir,
        drop=drop,
        kill_at_step=args.kill_at_step,
        kill_during_save=args.kill_during_save,
        kill_point=args.kill_point or "merge",
    )
    print(f"final-weights-sha256: {result.sha256}", flush=True)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from ckptkit.live.migrate import migrate_kit_model  # imported here: no other command needs it

    print(migrate_kit_model(args.model, args.source, args.out).text())
    return 0


def _train_distributed(args: argparse.Namespace, drop: tuple[str, ...]) -> int:
    strategy = args.strategy or "none"
    wrong = [f"--no-save-{name.replace('_', '-')}" for name in drop]
    wrong += [
        flag
        for flag in ("--kill-during-save", "--kill-point")
        if getattr(args, flag[2:].replace("-", "_")) is not None
    ]
    wrong += ["--devices"] if args.devices is not None and strategy != "mirrored" else []
    multi = {"--workers": args.workers, "--cluster": args.cluster, "--kill-worker": args.kill_worker}
    wrong += [flag for flag, value in multi.items() if value is not None and strategy != "multiworker"]
    if wrong:
        raise ValueError(f"{', '.join(wrong)} cannot be used with --strategy {strategy}")
    common = {"model": args.model, "steps": args.steps, "save_every": args.save_every, "seed": args.seed}
    common |= {"workdir": args.workdir, "max_shard_mb": args.max_shard_mb}
    if strategy == "multiworker" and (args.workers is None) == (args.cluster is None):
        raise ValueError("--strategy multiworker needs either --workers N (this machine) or --cluster FILE")
    if strategy == "multiworker" and args.workers is not None:
        return _launch(args)  # this process only waits for the workers: no TensorFlow in it
    from ckptkit.runs import distributed  # imports TensorFlow

    if strategy != "multiworker":
        made = distributed.make_strategy(strategy, args.devices or 2)
        result = distributed.train(made, kill_at_step=args.kill_at_step, say=say_flushed, **common)
        print(f"final-weights-sha256: {result.sha256}", flush=True)
        return 0
    try:
        config = json.loads(Path(args.cluster).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read the cluster file {args.cluster}: {err}") from None
    try:
        result = distributed.run_worker(config, args.timeout, kill_at_step=args.kill_at_step, **common)
        print(f"final-weights-sha256: {result.sha256}", flush=True)
        code = 0
    except ClusterError as err:
        print(f"ckptkit train: {err}", file=sys.stderr, flush=True)
        code = 3
    # Everything is written and flushed; the multi-worker runtime's shutdown can take seconds
    # (or wait for a dead peer), so leave without it.
    os._exit(code)


def _launch(args: argparse.Namespace) -> int:
    """`--workers N`: start the workers on this machine and wait for them."""
    extra = ["--model", args.model, "--steps", str(args.steps), "--save-every", str(args.save_every)]
    extra += ["--seed", str(args.seed)]
    extra += ["--max-shard-mb", str(args.max_shard_mb)] if args.max_shard_mb is not None else []
    if args.kill_at_step is not None and args.kill_worker is None:
        raise ValueError("with --workers, --kill-at-step S needs --kill-worker I (which worker dies)")
    spec = {"workers": args.workers, "workdir": args.workdir, "train_args": extra}
    spec |= {"kill_worker": args.kill_worker, "kill_at_step": args.kill_at_step, "timeout": args.timeout}
    return launcher.launch_and_report(**spec)


def _parser() -> argparse.ArgumentParser:
    """The command line's parser: every command and flag, no TensorFlow needed."""
    parser = argparse.ArgumentParser(prog="python -m ckptkit", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("inspect", help="every stored value with shape, dtype, size; the object tree")
    p.add_argument("path", help="a checkpoint prefix (e.g. ckpts/ckpt-3), one of its files, or a folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_inspect)
    p = sub.add_parser("diff", help="compare two checkpoints value by value (dtype, shape, values)")
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--bitwise", action="store_true", help="equal bytes decide: -0.0 and 0.0 differ")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_diff)
    p = sub.add_parser("ls", help="every checkpoint in a folder (or a checkpoint's folder), newest first")
    p.add_argument("folder")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=_ls)
    _train_flags(
        sub.add_parser(
            "train", help="train with everything exact resumption needs; resume if DIR has a checkpoint"
        )
    )
    p = sub.add_parser("migrate", help="rewrite a Keras 2 (tf-keras) checkpoint of a kit model for Keras 3")
    p.add_argument("--model", choices=["keras"], default="keras", help="the kit model it holds (MyModel)")
    p.add_argument("source", help="the Keras 2 checkpoint prefix (e.g. old/ckpt-3) or its folder")
    p.add_argument("out", help="the new checkpoint's prefix (e.g. new/ckpt); must not exist yet")
    p.set_defaults(run=_migrate)
    return parser


def _train_flags(p: argparse.ArgumentParser) -> None:
    """The `train` command's flags."""
    p.add_argument("--model", choices=list(RUN_MODELS), default="keras")
    p.add_argument("--steps", type=int, default=60)
    p.add_argument("--save-every", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--workdir", required=True)
    for name in INGREDIENTS:
        flag = name.replace("_", "-")
        p.add_argument(
            f"--no-save-{flag}", action="store_true", help=f"leave the {flag} out of the checkpoint"
        )
    p.add_argument("--kill-at-step", type=int, help="SIGKILL this process after that step (a crash)")
    p.add_argument("--kill-during-save", type=int, help="SIGKILL this process inside the save at that step")
    p.add_argument(
        "--kill-point",
        choices=KILL_POINTS,
        help="with --kill-during-save: the save stage it dies in (default: merge, after the shard)",
    )
    p.add_argument(
        "--strategy",
        choices=["none", "mirrored", "multiworker"],
        help="train under tf.distribute (the step picks each batch, so any replica count sees the same data)",
    )
    p.add_argument("--devices", type=int, help="mirrored: logical CPUs to mirror over (default 2)")
    p.add_argument("--workers", type=int, help="multiworker: start N workers on 127.0.0.1")
    p.add_argument("--cluster", help="multiworker: join the cluster in this TF_CONFIG-style JSON file")
    p.add_argument("--kill-worker", type=int, help="with --workers: the worker that --kill-at-step kills")
    p.add_argument("--max-shard-mb", type=float, help="split checkpoint data files at this many MB")
    p.add_argument(
        "--timeout", type=float, default=30.0, help="multiworker: give up if the others do not answer (s)"
    )
    p.set_defaults(run=_train)


def main(argv: list[str] | None = None) -> int:
    """Run the command line: exit 0 on success (diff: identical), 1 when diff differs, 2 on error."""
    args = _parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return args.run(args)
    except ModuleNotFoundError as err:  # the light install: no TensorFlow for train and migrate
        if (err.name or "").split(".")[0] not in _LAB_EXTRA:
            raise
        print(
            f"ckptkit {args.command}: needs TensorFlow ({err}): pip install 'ckptkit[lab]'", file=sys.stderr
        )
        return 2
    except (CheckpointError, ValueError, OSError) as err:
        print(f"ckptkit {args.command}: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
