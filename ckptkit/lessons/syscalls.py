"""What a save does on disk, seen in its system calls (notebook 06): `strace` around a child process."""

from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["SYNC_CALLS", "traced", "traced_file_calls"]

# The system calls that would make written bytes durable; a trace counts them.
SYNC_CALLS = ("fsync", "fdatasync", "sync", "syncfs", "sync_file_range", "msync")
_FILE_CALLS = ("openat", "rename", "renameat", "renameat2", "unlink", "unlinkat", "mkdir", "mkdirat", "rmdir")


def traced(command: list[str], trace_file: str | os.PathLike[str]) -> tuple[list[str], bool]:
    """`command` run under `strace`, writing its file and sync calls to `trace_file` (notebook 06).

    Returns the command and True, or `command` unchanged and False where strace is not installed or
    not allowed to trace.
    """
    import shutil
    import subprocess

    strace = shutil.which("strace")
    # Containers often forbid tracing (ptrace): try once on a command that does nothing.
    if strace is None or subprocess.run([strace, "-o", os.devnull, "true"], check=False).returncode != 0:
        return command, False
    calls = ",".join(_FILE_CALLS + SYNC_CALLS)
    # --seccomp-bpf stops the process only at the traced calls: a traced child runs near full speed.
    return [
        strace,
        "-f",
        "-qq",
        "--seccomp-bpf",
        "-e",
        f"trace={calls}",
        "-o",
        os.fspath(trace_file),
        *command,
    ], True


def traced_file_calls(
    trace_file: str | os.PathLike[str], folder: str | os.PathLike[str], start: str
) -> tuple[list[str], int]:
    """The calls of a trace that touched `folder`, from the first naming `start` on; and all sync calls.

    Each call becomes one line, `create`, `read`, `rename A -> B`, `delete`, `mkdir` or `rmdir` with
    paths relative to `folder` and TensorFlow's random suffixes (`.tempstate<n>`, `.tmp<hex>`) cut.
    Failed calls are left out. The count covers every sync call of every thread, in any file.
    """
    root = os.path.abspath(folder) + os.sep
    lines, syncs, started = [], 0, False
    for line in Path(trace_file).read_text(encoding="utf-8", errors="replace").splitlines():
        call = re.match(r"\d+\s+(\w+)\((.*)\)\s+=\s+(-?\d+)", line)
        if call is None:
            continue
        name, args, result = call.groups()
        if name in SYNC_CALLS:
            syncs += 1
            continue
        named = (os.path.abspath(p) for p in re.findall(r'"([^"]*)"', args))  # as the child saw them
        paths = [p[len(root) :] for p in named if p.startswith(root)]
        if not paths or int(result) < 0 or not (started or start in paths[0]):
            continue
        started = True
        paths = [re.sub(r"(\.tempstate|\.tmp)\w+$", r"\1…", p) for p in paths]
        verb = {"openat": "create" if re.search(r"O_WRONLY|O_RDWR", args) else "read"}.get(name, name)
        verb = {"unlink": "delete", "unlinkat": "delete", "mkdirat": "mkdir"}.get(verb, verb)
        lines.append(f"{'rename' if verb.startswith('rename') else verb} {' -> '.join(paths)}")
    return lines, syncs
