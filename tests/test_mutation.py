"""Seeded mutants of tiny checkpoints: ckptkit gives TensorFlow's verdict or one ckptkit error line.

Bytes are flipped, cut and inserted in `.index` and `.data` files, and mutated with their checksums
recomputed (a block's CRC, an entry's CRC, a string tensor's length checksum) or with protobuf
fields set to edge values, so the parsers behind the checksums are reached. TensorFlow reads every
mutant in forked children of its own process (a malformed file can abort TensorFlow: some here do);
ckptkit reads it here under a deadline. Every mutant must get from ckptkit either the values
TensorFlow reads, equal byte for byte, or a `CheckpointError` of one line: never another exception,
a hang, or a value TensorFlow does not give.
"""

from __future__ import annotations

import ckptkit
from ckptkit.files import bundle
from ckptkit.files.inventory import inspect_checkpoint
from ckptkit.files.reader import open_checkpoint

import json
import random
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2

SEED = 20_240_611
MUTANTS = 200
DEADLINE = 5.0  # seconds for one checkpoint read; a tiny file takes milliseconds

# ---------------------------------------------------------------- an SSTable writer, as TensorFlow writes one


def write_varint(n: int) -> bytes:
    """A base-128 varint."""
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7F | 0x80])
        n >>= 7
    return out + bytes([n])


def _block(items: list[tuple[bytes, bytes]], restart_interval: int = 1, snappy: bool = False) -> bytes:
    """One block with its trailer: prefix-compressed keys, a restart point every `restart_interval` keys."""
    body, restarts, last = b"", [], b""
    for i, (key, value) in enumerate(items):
        shared = 0
        if i % restart_interval:
            while shared < min(len(key), len(last)) and key[shared] == last[shared]:
                shared += 1
        else:
            restarts.append(len(body))
        body += write_varint(shared) + write_varint(len(key) - shared) + write_varint(len(value))
        body += key[shared:] + value
        last = key
    restarts = restarts or [0]
    body += b"".join(r.to_bytes(4, "little") for r in restarts) + len(restarts).to_bytes(4, "little")
    if snappy:
        import cramjam

        body = bytes(cramjam.snappy.compress_raw(body))
    kind = b"\x01" if snappy else b"\x00"
    return body + kind + bundle.masked_crc32c(bundle.crc32c(body + kind)).to_bytes(4, "little")


def write_table(entries: dict[bytes, bytes], snappy: bool = False, restart_interval: int = 1) -> bytes:
    """An SSTable with one data block, an empty metaindex block and an index block, then the footer."""
    data = _block(sorted(entries.items()), restart_interval, snappy)
    meta = _block([])
    index = _block([(max(entries), write_varint(0) + write_varint(len(data) - 5))])
    handles = write_varint(len(data)) + write_varint(len(meta) - 5)
    handles += write_varint(len(data) + len(meta)) + write_varint(len(index) - 5)
    return data + meta + index + handles.ljust(40, b"\x00") + bundle.MAGIC


# ---------------------------------------------------------------- the tiny checkpoints


@pytest.fixture(scope="module")
def bases(tmp_path_factory) -> list[dict[str, bytes]]:
    """Two tiny checkpoints as {file name: bytes}: numbers, strings, an iterator; a variable in slices."""
    folder = tmp_path_factory.mktemp("bases")
    iterator = iter(tf.data.Dataset.range(3))
    next(iterator)
    plain = tf.train.Checkpoint(
        w=tf.Variable(np.linspace(-1, 1, 6, dtype=np.float32)),
        i=tf.Variable([3, -1], dtype=tf.int64),
        s=tf.Variable([b"abc", b"", b"xyz" * 5]),
        b=tf.Variable([True, False]),
        it=iterator,
    ).write(str(folder / "plain" / "ckpt"))
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=64)
    sliced = tf.train.Checkpoint(
        w=tf.Variable(np.linspace(0, 1, 48, dtype=np.float32).reshape(4, 12)),
        s=tf.Variable([b"abc", b"xyz" * 5]),
    ).write(
        str(folder / "sliced" / "ckpt"),
        options=tf.train.CheckpointOptions(experimental_sharding_callback=policy),
    )
    return [{f.name: f.read_bytes() for f in Path(p).parent.iterdir()} for p in (plain, sliced)]


def _index_entries(files: dict[str, bytes]) -> dict[bytes, bytes]:
    return bundle.read_table(files["ckpt.index"])


def _rebuilt(files: dict[str, bytes], entries: dict[bytes, bytes], rng: random.Random) -> dict[str, bytes]:
    return files | {"ckpt.index": write_table(entries, restart_interval=rng.choice([1, 3, 16]))}


def _data_names(files: dict[str, bytes]) -> list[str]:
    return sorted(name for name in files if ".data-" in name)


# ---------------------------------------------------------------- mutations


def _flip(raw: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(raw))
    return raw[:at] + bytes([raw[at] ^ (1 << rng.randrange(8))]) + raw[at + 1 :]


def flip_bytes(files, rng):
    name = rng.choice(["ckpt.index", *_data_names(files)])
    return f"flip {name}", files | {name: _flip(files[name], rng)}


def cut_bytes(files, rng):
    name = rng.choice(["ckpt.index", *_data_names(files)])
    return f"cut {name}", files | {name: files[name][: rng.randrange(len(files[name]))]}


def insert_bytes(files, rng):
    name = rng.choice(["ckpt.index", *_data_names(files)])
    at, extra = rng.randrange(len(files[name]) + 1), rng.randbytes(rng.randint(1, 8))
    return f"insert into {name}", files | {name: files[name][:at] + extra + files[name][at:]}


def block_with_crc(files, rng):
    """Flip a bit inside one block of the index and recompute that block's CRC: the block parser decides."""
    raw = files["ckpt.index"]
    _, index_handle = bundle.parse_footer(raw[-bundle.FOOTER_SIZE :])
    handles = [index_handle]
    for _, value in bundle.block_entries(bundle.read_block(raw, index_handle)):
        offset, pos = bundle.varint(value, 0)
        handles.append((offset, bundle.varint(value, pos)[0]))
    offset, size = rng.choice(handles)
    body = _flip(raw[offset : offset + size], rng) + raw[offset + size : offset + size + 1]
    crc = bundle.masked_crc32c(bundle.crc32c(body)).to_bytes(4, "little")
    return "block re-checksummed", files | {
        "ckpt.index": raw[:offset] + body + crc + raw[offset + size + 5 :]
    }


def entry_bytes(files, rng):
    """Flip a bit of one index value (a protobuf), the table rebuilt around it: the proto parser decides."""
    entries = _index_entries(files)
    key = rng.choice(sorted(entries))
    return f"entry bytes of {key[:30]!r}", _rebuilt(files, entries | {key: _flip(entries[key], rng)}, rng)


def _string_lengths_crc(raw: bytes, count: int) -> bytes | None:
    """A string tensor's bytes with its lengths checksum recomputed, or None if its lengths do not parse."""
    crc, pos = 0, 0
    try:
        for _ in range(count):
            n, pos = bundle.varint(raw, pos)
            crc = bundle.crc32c(n.to_bytes(4 if n < 1 << 32 else 8, "little"), crc)
    except bundle.DamagedError:
        return None
    return raw[:pos] + bundle.masked_crc32c(crc).to_bytes(4, "little") + raw[pos + 4 :]


def value_with_crc(files, rng):
    """Flip a bit of one stored tensor and recompute its checksums: both readers see the new value."""
    entries = _index_entries(files)
    keys = []
    for key, value in entries.items():
        entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
        if key and entry.size and not entry.slices and entry.dtype != tf.variant.as_datatype_enum:
            keys.append(key)
    key = rng.choice(sorted(keys))
    entry = tensor_bundle_pb2.BundleEntryProto.FromString(entries[key])
    name = _data_names(files)[entry.shard_id]
    raw = files[name][entry.offset : entry.offset + entry.size]
    raw = _flip(raw, rng)
    if entry.dtype == tf.string.as_datatype_enum:
        count = int(np.prod([d.size for d in entry.shape.dim]))
        raw = _string_lengths_crc(raw, count) or raw
    entry.crc32c = bundle.masked_crc32c(bundle.crc32c(raw))
    data = files[name][: entry.offset] + raw + files[name][entry.offset + entry.size :]
    mutated = _rebuilt(files | {name: data}, entries | {key: entry.SerializeToString()}, rng)
    return f"value of {key[:30]!r} re-checksummed", mutated


_EDGES: dict[str, Callable] = {
    "dtype": lambda e, rng: setattr(e, "dtype", rng.choice([0, 2, 3, 7, 10, 14, 19, 20, 21, 29, 31, 34, 99])),
    "shard_id": lambda e, rng: setattr(e, "shard_id", rng.choice([-1, 1, 3, 7])),
    "offset": lambda e, rng: setattr(e, "offset", e.offset + rng.choice([-1, 1, 4, 1 << 40])),
    "size": lambda e, rng: setattr(e, "size", rng.choice([0, e.size - 1, e.size + 1, e.size + 4, 1 << 40])),
    "crc32c": lambda e, rng: setattr(e, "crc32c", rng.getrandbits(32)),
}


def _edge_shape(entry, rng) -> None:
    dims = [d.size for d in entry.shape.dim] or [1]
    choice = rng.randrange(5)
    if choice == 0:
        dims.append(rng.choice([0, 1, 2]))
    elif choice == 1:
        dims.pop()
    elif choice == 2:
        dims[rng.randrange(len(dims))] = rng.choice([-1, 0, 1 << 40, 1 << 62])
    elif choice == 3:
        entry.shape.unknown_rank = True
    else:
        dims[0] += rng.choice([-1, 1])
    del entry.shape.dim[:]
    for d in dims:
        entry.shape.dim.add().size = d


def _edge_slices(entry, rng) -> None:
    if not entry.slices:
        extent = entry.slices.add().extent.add()
        extent.start, extent.length = 0, 1
        return
    choice, at = rng.randrange(4), rng.randrange(len(entry.slices))
    if choice == 0:
        del entry.slices[at]
    elif choice == 1:
        entry.slices.add().CopyFrom(entry.slices[at])
    else:
        extent = rng.choice(entry.slices[at].extent)
        if choice == 2:
            extent.start = max(extent.start + rng.choice([-1, 1]), -1)
        else:
            extent.length = max(extent.length + rng.choice([-1, 1]), 0)


def _edge_header(header, rng) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        header.num_shards = rng.choice([-1, 0, 1, 2, 5, 9])
    elif choice == 1:
        header.endianness = tensor_bundle_pb2.BundleHeaderProto.BIG
    elif choice == 2:
        header.version.min_consumer = rng.choice([1, 2])
    else:
        header.version.bad_consumers.append(rng.choice([0, 1]))
    return "header field"


def field_edge(files, rng):
    """Set one protobuf field of the index to an edge value (dtype, shape, range, shard, slices, header)."""
    entries = _index_entries(files)
    key = rng.choice(sorted(entries))
    if not key:
        header = tensor_bundle_pb2.BundleHeaderProto.FromString(entries[key])
        what = _edge_header(header, rng)
        return what, _rebuilt(files, entries | {key: header.SerializeToString()}, rng)
    entry = tensor_bundle_pb2.BundleEntryProto.FromString(entries[key])
    name = rng.choice([*_EDGES, "shape", "slices"])
    {"shape": _edge_shape, "slices": _edge_slices, **_EDGES}[name](entry, rng)
    return f"{name} of {key[:30]!r}", _rebuilt(files, entries | {key: entry.SerializeToString()}, rng)


KINDS = [
    (flip_bytes, 40),
    (cut_bytes, 25),
    (insert_bytes, 25),
    (block_with_crc, 25),
    (entry_bytes, 25),
    (value_with_crc, 25),
    (field_edge, 35),
]


def _mutants(bases: list[dict[str, bytes]], folder: Path) -> list[tuple[str, str]]:
    """Write the seeded mutants under `folder`: (description, checkpoint prefix) each."""
    rng = random.Random(SEED)
    plan = [kind for kind, n in KINDS for _ in range(n)]
    assert len(plan) == MUTANTS
    made = []
    for number, kind in enumerate(plan):
        base = number % len(bases)
        what, files = kind(bases[base], rng)
        where = folder / f"m{number:03d}"
        where.mkdir(parents=True)
        for name, raw in files.items():
            (where / name).write_bytes(raw)
        made.append((f"#{number} base {base}: {what}", str(where / "ckpt")))
    return made


# ---------------------------------------------------------------- the two verdicts

# TensorFlow's verdict on each checkpoint, read in forked children: a malformed file can abort TensorFlow.
# A child reads mutants in turn until one kills it; the next child starts after that one.
_TF_WORKER = r"""
import json, os, select, signal, sys
import tensorflow as tf

def represent(value):
    if isinstance(value, bytes):
        return ["s", [value.hex()]]
    if value.dtype.kind in "OS":
        return ["s", [bytes(x).hex() for x in value.ravel().tolist()]]
    return ["n", value.tobytes().hex()]

def verdict(prefix):
    try:
        reader = tf.train.load_checkpoint(prefix)
        dtypes = reader.get_variable_to_dtype_map()
        read = {}
        for key, shape in reader.get_variable_to_shape_map().items():
            value = None if dtypes[key] == tf.variant else represent(reader.get_tensor(key))
            read[key] = [dtypes[key].name, list(shape), value]
        return {"read": read}
    except Exception as err:
        return {"error": type(err).__name__ + ": " + (str(err).splitlines() or [""])[0][:160]}

def read_from(prefixes):
    out, into = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(out)
        for prefix in prefixes:
            os.write(into, (json.dumps(verdict(prefix)) + "\n").encode())
        os._exit(0)
    os.close(into)
    buffer, lines = b"", []
    while select.select([out], [], [], 20)[0]:
        chunk = os.read(out, 1 << 16)
        if not chunk:
            break
        *done, buffer = (buffer + chunk).split(b"\n")
        lines += done
    else:
        os.kill(pid, signal.SIGKILL)  # no answer in 20 s: a hang is a verdict too
    os.close(out)
    os.waitpid(pid, 0)
    return [json.loads(line) for line in lines]

prefixes, results = json.load(open(sys.argv[1])), []
while len(results) < len(prefixes):
    results += read_from(prefixes[len(results):])
    if len(results) < len(prefixes):
        results.append({"error": "TensorFlow died or hung reading it"})
json.dump(results, open(sys.argv[2], "w"))
"""


def _represent(value: np.ndarray) -> list:
    if value.dtype.kind in "OS":
        return ["s", [bytes(x).hex() for x in value.ravel().tolist()]]
    return ["n", value.tobytes().hex()]


class _Late(Exception):
    pass


@contextmanager
def deadline(seconds: float):
    def late(*_):
        raise _Late

    previous = signal.signal(signal.SIGALRM, late)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _ckptkit_verdict(prefix: str) -> dict:
    """What ckptkit reads: every key's dtype, shape and value, then the inventory (which parses the graph)."""
    try:
        with deadline(DEADLINE):
            with open_checkpoint(prefix) as stored:
                keys = stored.stored_keys() + ([bundle.GRAPH_KEY] if stored.object_based else [])
                read = {}
                for key in keys:
                    value = stored.get(key)
                    shown = None if stored.dtype(key) == "variant" else _represent(np.asarray(value))
                    read[key] = [stored.dtype(key), list(stored.shape(key)), shown]
            inspect_checkpoint(prefix)
    except ckptkit.CheckpointError as err:
        return {"error": str(err)}
    except _Late:
        return {"failure": f"no answer within {DEADLINE} s"}
    except Exception as err:  # anything else is a bug: reported with the mutant
        return {"failure": f"{type(err).__name__}: {err}"}
    return {"read": read}


def _judge(what: str, mine: dict, theirs: dict) -> tuple[str, str | None]:
    """(outcome, what is wrong or None) for one mutant: ckptkit's verdict against TensorFlow's."""
    if "failure" in mine:
        return "failure", f"{what}: {mine['failure']}"
    if "error" in mine:
        if "\n" in mine["error"]:
            return "error", f"{what}: a ckptkit error of several lines: {mine['error']!r}"
        if "error" in theirs:
            return "both refuse", None
        # TensorFlow's Python reader never reads a variant (a tf.data iterator's state): ckptkit checks its
        # checksums. Any other refusal of a checkpoint TensorFlow reads is a bug.
        if "variant" in mine["error"]:
            return "ckptkit refuses a damaged variant", None
        return "error", f"{what}: ckptkit refuses what TensorFlow reads: {mine['error']}"
    if "error" in theirs:
        return "error", f"{what}: ckptkit reads values, TensorFlow says {theirs['error']}"
    if mine["read"] != theirs["read"]:
        keys = mine["read"].keys() | theirs["read"].keys()
        differ = sorted(k for k in keys if mine["read"].get(k) != theirs["read"].get(k))
        return "error", f"{what}: ckptkit and TensorFlow read different values for {differ}"
    return "same values", None


def test_mutants_get_tensorflows_verdict_or_one_ckptkit_error(bases, tmp_path):
    mutants = _mutants(bases, tmp_path / "mutants")
    (tmp_path / "prefixes.json").write_text(json.dumps([prefix for _, prefix in mutants]))
    worker = subprocess.Popen(
        [sys.executable, "-c", _TF_WORKER, str(tmp_path / "prefixes.json"), str(tmp_path / "tf.json")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    ours = [_ckptkit_verdict(prefix) for _, prefix in mutants]  # while TensorFlow reads them too
    assert worker.wait(timeout=300) == 0
    theirs = json.loads((tmp_path / "tf.json").read_text())
    judged = [_judge(what, *pair) for (what, _), *pair in zip(mutants, ours, theirs, strict=True)]
    wrong = [problem for _, problem in judged if problem]
    assert not wrong, "\n".join(wrong)
    # Both kinds of agreement happened: the mutants reach values as well as errors.
    tally = Counter(outcome for outcome, _ in judged)
    assert tally["same values"] >= 20 and tally["both refuse"] >= 100, tally
