"""The TensorFlow-free reader against TensorFlow's own, on checkpoints written here in every format."""

import ckptkit
from ckptkit.__main__ import main
from ckptkit.files import bundle
from ckptkit.files.inventory import inspect_checkpoint, list_folder
from ckptkit.files.reader import open_checkpoint, resolve_checkpoint

import os
import shutil
import subprocess
import sys
import tracemalloc
from pathlib import Path

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import tensor_bundle_pb2
from test_mutation import write_table

NUMERIC = [
    "float32",
    "float64",
    "float16",
    "bfloat16",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "bool",
    "complex64",
    "complex128",
]
# The narrow dtypes (ml_dtypes) a TensorFlow 2.21 variable can hold, its new int2, uint2, float4_e2m1fn too.
NARROW = [
    "int4",
    "uint4",
    "int2",
    "uint2",
    "float4_e2m1fn",
    "float8_e4m3fn",
    "float8_e5m2",
]


def _tf1(folder: Path, version: int) -> str:
    """A TF1 Session + Saver checkpoint with an Estimator-style global_step and a partitioned variable."""
    folder.mkdir(parents=True, exist_ok=True)
    graph = tf.Graph()
    with graph.as_default():
        w = tf.compat.v1.get_variable("w", [2, 3], initializer=tf.compat.v1.random_normal_initializer(seed=1))
        tf.compat.v1.get_variable("ints", [3], tf.int64, tf.compat.v1.constant_initializer(-5))
        tf.compat.v1.get_variable("d", [2], tf.float64, tf.compat.v1.constant_initializer(0.25))
        tf.compat.v1.get_variable("flag", [2], tf.bool, tf.compat.v1.constant_initializer(True))
        tf.compat.v1.get_variable("name", [], tf.string, tf.compat.v1.constant_initializer("hi"))
        tf.compat.v1.get_variable("half", [4], tf.float16, tf.compat.v1.ones_initializer())
        part = tf.compat.v1.fixed_size_partitioner(2)
        init = tf.compat.v1.random_normal_initializer(seed=2)
        tf.compat.v1.get_variable("part", [10, 2], initializer=init, partitioner=part)
        step = tf.compat.v1.train.get_or_create_global_step()
        saver = tf.compat.v1.train.Saver(write_version=version)
        with tf.compat.v1.Session(graph=graph) as sess, ckptkit.captured_tf_logs():
            sess.run(tf.compat.v1.global_variables_initializer())
            sess.run([step.assign(42), w.assign(w * 2)])
            return saver.save(sess, str(folder / "model.ckpt"), global_step=step)


def _dtypes(folder: Path) -> str:
    values = {
        name: tf.Variable(tf.cast(np.arange(6).reshape(2, 3) % 3 - (name[0] in "fbc"), name))
        for name in NUMERIC
    }
    for name in NARROW:
        values[name] = tf.Variable(np.array([[0, 1, 1], [1, 0, 1]], dtype=getattr(ml_dtypes, name)))
    values["nan"] = tf.Variable([np.nan, -0.0, np.inf])
    values["strings"] = tf.Variable([b"a", b"", "héllo".encode() * 40, b"\x00\xff"])
    values["scalar_string"] = tf.Variable("x")
    values["scalar"] = tf.Variable(3.5)
    values["empty"] = tf.Variable(tf.zeros([0, 4]))
    iterator = iter(tf.data.Dataset.range(10).shuffle(10, seed=1))
    next(iterator)
    values["iterator"] = iterator
    return tf.train.Checkpoint(**values).write(str(folder / "ckpt"))


def _keras_adam(folder: Path) -> str:
    from ckptkit.runs.models import MyModel, regression_data

    model, optimizer = MyModel(), tf.keras.optimizers.Adam(0.01)
    inputs, targets = regression_data()
    ckptkit.fit(model, None, optimizer, inputs, targets, 2)
    return tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(folder / "ckpt"))


def _slots(folder: Path) -> str:
    """A TF1-style optimizer in eager mode: its slots are in the object graph's slot_variables."""
    dense = tf.Variable([[1.0, 2.0]])
    optimizer = tf.compat.v1.train.AdamOptimizer(0.1)
    optimizer.minimize(lambda: tf.reduce_sum(dense * dense), var_list=[dense])
    model = tf.Module()
    model.kernel = dense
    return tf.train.Checkpoint(model=model, optimizer=optimizer).save(str(folder / "ckpt"))


def _sharded(folder: Path) -> str:
    big = tf.Variable(np.arange(60_000, dtype=np.float32).reshape(300, 200))
    policy = tf.train.experimental.MaxShardSizePolicy(max_shard_size=60_000)
    options = tf.train.CheckpointOptions(experimental_sharding_callback=policy)
    return tf.train.Checkpoint(big=big, small=tf.Variable([1, 2])).write(
        str(folder / "ckpt"), options=options
    )


def _many(folder: Path) -> str:
    """Thousands of long keys: an index larger than TensorFlow's 256 KiB table block."""
    names = {f"layer_{i:04d}_{'weights_of_a_long_name_' * 3}": tf.Variable(float(i)) for i in range(4000)}
    return tf.train.Checkpoint(**names).write(str(folder / "ckpt"))


def _saved_model(folder: Path) -> str:
    module = tf.Module()
    module.w = tf.Variable([1.0, 2.0])
    module.table = tf.Variable(tf.zeros([2, 2], tf.int32))
    tf.saved_model.save(module, str(folder))
    return str(folder / "variables" / "variables")


MAKERS = {
    "tf1_v1": lambda f: _tf1(f, tf.compat.v1.train.SaverDef.V1),
    "tf1_v2": lambda f: _tf1(f, tf.compat.v1.train.SaverDef.V2),
    "dtypes": _dtypes,
    "keras_adam": _keras_adam,
    "slots": _slots,
    "sharded": _sharded,
    "many": _many,
    "saved_model": _saved_model,
}


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    """One checkpoint of each kind, written once for the whole module."""
    root = tmp_path_factory.mktemp("formats")
    return {name: make(root / name) for name, make in MAKERS.items()}


def _tf_value(reader, key):
    try:
        return reader.get_tensor(key)
    except Exception as err:  # TensorFlow's Python reader cannot return some stored values
        return err


@pytest.mark.parametrize("name", list(MAKERS))
def test_every_key_dtype_shape_and_value_equals_tensorflows(written, name):
    reader = tf.train.load_checkpoint(written[name])
    shapes, dtypes = reader.get_variable_to_shape_map(), reader.get_variable_to_dtype_map()
    with open_checkpoint(written[name]) as stored:
        assert set(stored.stored_keys()) | ({bundle.GRAPH_KEY} & set(shapes)) == set(shapes)
        for key in shapes:
            assert stored.shape(key) == tuple(shapes[key]) and stored.dtype(key) == dtypes[key].name, key
            mine, theirs = stored.get(key), _tf_value(reader, key)
            if dtypes[key] == tf.variant:
                assert isinstance(mine, bytes) and isinstance(theirs, Exception)  # TF's Python reader cannot
            elif isinstance(theirs, Exception):
                # TF's Python reader cannot read a V1 float16 or partitioned variable: the same graph
                # saved as V2 is the truth.
                assert name == "tf1_v1" and key in ("half", "part")
                same = tf.train.load_variable(written["tf1_v2"], key)
                assert mine.dtype == same.dtype and mine.tobytes() == same.tobytes()
            elif dtypes[key] == tf.string:
                assert np.asarray(mine, dtype=object).tolist() == np.asarray(theirs, dtype=object).tolist()
            else:
                theirs = np.asarray(theirs)
                assert mine.dtype == theirs.dtype and mine.tobytes() == theirs.tobytes(), key


def test_formats_really_cover_what_they_claim(written):
    with open_checkpoint(written["sharded"]) as stored:
        assert (
            stored._bundle.num_shards > 2
            and len(stored._bundle.entries["big/.ATTRIBUTES/VARIABLE_VALUE"].slices) > 2
        )
    table = Path(written["many"] + ".index").read_bytes()
    _, index = bundle.parse_footer(table[-bundle.FOOTER_SIZE :])
    assert len(list(bundle.block_entries(bundle.read_block(table, index)))) > 1  # several data blocks
    with open_checkpoint(written["tf1_v1"]) as stored:
        assert stored.format == "V1" and stored.step() == 42 and not stored.object_based
    with open_checkpoint(written["dtypes"]) as stored:
        assert stored.dtype("bfloat16/.ATTRIBUTES/VARIABLE_VALUE") == "bfloat16"
        assert stored.get("bfloat16/.ATTRIBUTES/VARIABLE_VALUE").dtype == ml_dtypes.bfloat16
        assert stored.shape("empty/.ATTRIBUTES/VARIABLE_VALUE") == (0, 4)


def _big_endian_strings(raw: bytes, count: int) -> tuple[bytes, int]:
    """A string tensor's bytes as a big-endian machine writes them, and their entry CRC (masked).

    The lengths stay varints; their checksum covers each length as a big-endian uint32 and is stored
    big-endian; the entry's CRC covers those lengths, the stored checksum, then the strings.
    """
    lengths, pos = [], 0
    for _ in range(count):
        n, pos = bundle.varint(raw, pos)
        lengths.append(n)
    swapped = b"".join(n.to_bytes(4, "big") for n in lengths)
    checksum = bundle.masked_crc32c(bundle.crc32c(swapped)).to_bytes(4, "big")
    out = raw[:pos] + checksum + raw[pos + 4 :]
    return out, bundle.masked_crc32c(bundle.crc32c(raw[pos + 4 :], bundle.crc32c(swapped + checksum)))


def _big_endian_copy(little: str, big: str) -> None:
    """Rewrite a little-endian checkpoint as a big-endian machine would have written it."""
    table = bundle.read_table(Path(little + ".index").read_bytes())
    header = tensor_bundle_pb2.BundleHeaderProto.FromString(table[b""])
    header.endianness = tensor_bundle_pb2.BundleHeaderProto.BIG
    data, entries = b"", {b"": header.SerializeToString()}
    raw = Path(little + ".data-00000-of-00001").read_bytes()
    for key, value in table.items():
        if not key:
            continue
        entry = tensor_bundle_pb2.BundleEntryProto.FromString(value)
        chunk, dtype = raw[entry.offset : entry.offset + entry.size], tf.dtypes.as_dtype(entry.dtype)
        crc = None
        if dtype == tf.string:
            chunk, crc = _big_endian_strings(chunk, int(np.prod([d.size for d in entry.shape.dim])))
        elif dtype.size > 1:
            unit = dtype.size // 2 if dtype.is_complex else dtype.size  # complex: each half on its own
            chunk = np.frombuffer(chunk, f"<u{unit}").astype(f">u{unit}").tobytes()
        entry.offset = len(data)
        entry.crc32c = bundle.masked_crc32c(bundle.crc32c(chunk)) if crc is None else crc
        data += chunk
        entries[key] = entry.SerializeToString()
    Path(big + ".index").write_bytes(write_table(entries))
    Path(big + ".data-00000-of-00001").write_bytes(data)


def _endian_values() -> dict[str, tf.Variable]:
    return {
        "a": tf.Variable(np.arange(6, dtype=np.float32).reshape(2, 3)),
        "b": tf.Variable(np.int64(-7)),
        "c": tf.Variable(np.array([1 + 2j, -3j], np.complex64)),
        "h": tf.Variable(np.array([1.5, -2.25], ml_dtypes.bfloat16)),
        "f": tf.Variable([True, False]),
        "s": tf.Variable([b"", b"\x00\xff", "héllo".encode() * 100]),
    }


def test_big_endian_checkpoints_read_like_little_endian_ones(tmp_path):
    little = tf.train.Checkpoint(**_endian_values()).write(str(tmp_path / "little"))
    big = str(tmp_path / "big")
    _big_endian_copy(little, big)
    reader = tf.train.load_checkpoint(big)  # TensorFlow swaps it back too: the file is right
    with open_checkpoint(big) as stored:
        assert stored._bundle.big_endian and stored.object_based
        assert set(stored.stored_keys()) | {bundle.GRAPH_KEY} == set(reader.get_variable_to_shape_map())
        for key in reader.get_variable_to_shape_map():
            mine, theirs, original = (
                stored.get(key),
                reader.get_tensor(key),
                tf.train.load_variable(little, key),
            )
            assert np.asarray(mine).tolist() == np.asarray(theirs).tolist() == np.asarray(original).tolist()
    # The object graph (a string tensor) reads too: the tree is the little-endian one's.
    assert inspect_checkpoint(big).tree == inspect_checkpoint(little).tree != []
    fresh = {name: tf.Variable(tf.zeros_like(v)) for name, v in _endian_values().items()}
    tf.train.Checkpoint(**fresh).read(big).assert_consumed()  # TensorFlow restores it by its graph
    assert fresh["s"].numpy().tolist() == [b"", b"\x00\xff", "héllo".encode() * 100]


def test_snappy_compressed_index_blocks(tmp_path):
    plain = tf.train.Checkpoint(w=tf.Variable(np.zeros(50, np.float32))).write(str(tmp_path / "plain"))
    packed = str(tmp_path / "packed")
    Path(packed + ".index").write_bytes(
        write_table(bundle.read_table(Path(plain + ".index").read_bytes()), True)
    )
    shutil.copy(plain + ".data-00000-of-00001", packed + ".data-00000-of-00001")
    table = Path(packed + ".index").read_bytes()
    _, index = bundle.parse_footer(table[-bundle.FOOTER_SIZE :])
    ((_, handle),) = bundle.block_entries(bundle.read_block(table, index))
    size = bundle.varint(handle, bundle.varint(handle, 0)[1])[0]
    assert table[size] == 1  # the data block's type byte: snappy
    key = "w/.ATTRIBUTES/VARIABLE_VALUE"
    with open_checkpoint(packed) as stored:
        assert (
            stored.get(key).tolist()
            == tf.train.load_checkpoint(packed).get_tensor(key).tolist()
            == [0.0] * 50
        )


def test_object_tree_names_every_value_and_optimizer_slots(written):
    inventory = inspect_checkpoint(written["slots"])
    reached = {key for _, key in inventory.tree}
    assert reached == {v.key for v in inventory.values}
    slot = "model/kernel/.OPTIMIZER_SLOT/optimizer/m"
    assert inventory.paths_to(slot + "/.ATTRIBUTES/VARIABLE_VALUE") == [slot]
    count = len(inventory.values)
    assert f"paths reach {count} of the {count} stored values" in inventory.tree_text()
    for name in ("keras_adam", "dtypes"):  # dtypes holds a tf.data iterator
        other = inspect_checkpoint(written[name])
        assert {key for _, key in other.tree} == {v.key for v in other.values}


def _rewrite_entry(prefix: str, key: bytes, change) -> None:
    """Change one `.index` entry with `change(BundleEntryProto)`, the table rebuilt around it."""
    table = bundle.read_table(Path(prefix + ".index").read_bytes())
    entry = tensor_bundle_pb2.BundleEntryProto.FromString(table[key])
    change(entry)
    table[key] = entry.SerializeToString()
    Path(prefix + ".index").write_bytes(write_table(table))


@pytest.mark.parametrize("number", [34, 99])
def test_an_unknown_dtype_is_unsupported_not_damaged(small, tmp_path, number):
    prefix = _copy(small, tmp_path / "copy")
    _rewrite_entry(prefix, b"w/.ATTRIBUTES/VARIABLE_VALUE", lambda e: setattr(e, "dtype", number))
    with open_checkpoint(prefix) as stored, pytest.raises(ckptkit.CheckpointError) as info:
        stored.get("w/.ATTRIBUTES/VARIABLE_VALUE")
    message = str(info.value)
    assert f"unsupported dtype {number}" in message and "damaged" not in message and "\n" not in message
    assert not isinstance(info.value, ckptkit.CorruptCheckpointError)
    done = _cli("inspect", prefix)
    assert (
        done.returncode == 2 and f"unsupported dtype {number}" in done.stderr and done.stderr.count("\n") == 1
    )


def _extents(proto) -> tuple[tuple[int, int], ...]:
    return tuple((e.start, e.length if e.HasField("length") else -1) for e in proto.extent)


@pytest.mark.parametrize("change", ["missing", "overlapping", "outside"])
def test_cut_variables_need_every_slice_as_tensorflow_does(written, tmp_path, change):
    prefix = _copy(written["sharded"], tmp_path / "copy")
    key = b"big/.ATTRIBUTES/VARIABLE_VALUE"
    table = bundle.read_table(Path(prefix + ".index").read_bytes())
    entry = tensor_bundle_pb2.BundleEntryProto.FromString(table[key])
    moved = entry.slices[1]
    old = bundle.slice_key(key, _extents(moved))
    if change == "missing":  # the slice and its entry both gone: the others leave a hole
        del table[old], entry.slices[1]
    else:  # the slice moved (its key too): onto its neighbour, or past the end of the variable
        extent = moved.extent[0] if moved.extent[0].HasField("length") else moved.extent[1]
        extent.start += -1 if change == "overlapping" else 1000
        table[bundle.slice_key(key, _extents(moved))] = table.pop(old)
    table[key] = entry.SerializeToString()
    Path(prefix + ".index").write_bytes(write_table(table))
    with pytest.raises(Exception) as theirs:
        tf.train.load_checkpoint(prefix).get_tensor(key.decode())
    expected = {"missing": "Does not have sufficient slices", "overlapping": "Overlapping slices"}
    assert expected.get(change, "out of bounds") in str(theirs.value)
    reason = {"missing": "does not have sufficient slices", "overlapping": "overlaps another"}
    with open_checkpoint(prefix) as stored, pytest.raises(ckptkit.CorruptCheckpointError) as ours:
        stored.get(key.decode())  # never a half-filled array of leftover memory
    assert reason.get(change, "outside its shape") in str(ours.value)


def _v1_many(folder: Path, count: int) -> str:
    """A TF1 V1 checkpoint of `count` float32 variables of 64 KiB each."""
    folder.mkdir()
    graph = tf.Graph()
    with graph.as_default():
        for i in range(count):
            tf.compat.v1.get_variable(f"v{i:03d}", [16_384], initializer=tf.compat.v1.constant_initializer(i))
        saver = tf.compat.v1.train.Saver(write_version=tf.compat.v1.train.SaverDef.V1)
        with tf.compat.v1.Session(graph=graph) as sess, ckptkit.captured_tf_logs():
            sess.run(tf.compat.v1.global_variables_initializer())
            return saver.save(sess, str(folder / "model.ckpt"), write_meta_graph=False)


def _peak_reading_every_value(prefix: str) -> int:
    """The most memory Python held while reading every value of a checkpoint, one at a time."""
    tracemalloc.start()
    try:
        with open_checkpoint(prefix) as stored:
            for key in stored.stored_keys():
                assert stored.get(key)[0] == int(key[1:])
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_v1_files_are_read_one_tensor_at_a_time(tmp_path):
    small, large = _v1_many(tmp_path / "small", 8), _v1_many(tmp_path / "large", 64)
    with open_checkpoint(large) as stored:
        assert stored.format == "V1" and os.path.getsize(large) > 4_000_000
    peaks = _peak_reading_every_value(small), _peak_reading_every_value(large)
    # Eight times the file, the same memory: a few 256 KiB table blocks and one 64 KiB tensor, not 4 MB.
    assert peaks[1] < 1.2 * peaks[0] and peaks[1] < os.path.getsize(large) / 4, peaks


# ---------------------------------------------------------------- paths


def test_paths_resolve_to_prefixes(written, tmp_path):
    prefix = written["keras_adam"]
    assert resolve_checkpoint(prefix + ".index") == prefix
    assert resolve_checkpoint(prefix + ".data-00000-of-00001") == prefix
    assert resolve_checkpoint(os.path.dirname(prefix)) == prefix  # the state file's latest
    saved_model = os.path.dirname(os.path.dirname(written["saved_model"]))
    assert resolve_checkpoint(saved_model) == written["saved_model"]
    v1 = written["tf1_v1"]
    assert resolve_checkpoint(v1) == v1 and resolve_checkpoint(os.path.dirname(v1)) == v1
    lone = tmp_path / "lone"  # no state file, one checkpoint: it is the answer
    tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(lone / "only"))
    assert resolve_checkpoint(lone) == str(lone / "only")


def test_folder_without_state_file_names_what_it_holds(tmp_path):
    for name in ("first", "second"):
        tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(tmp_path / name))
    with pytest.raises(ckptkit.CheckpointNotFoundError, match=r"no state file.*first, second.*second'"):
        resolve_checkpoint(tmp_path)


@pytest.mark.parametrize("where", ["deleted", "other_machine"])
def test_state_file_pointing_elsewhere_names_the_checkpoints_present(tmp_path, where):
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), tmp_path, max_to_keep=5)
    manager.save(), manager.save()
    if where == "deleted":
        for f in tmp_path.glob("ckpt-2.*"):
            f.unlink()
    else:
        state = (tmp_path / "checkpoint").read_text()
        (tmp_path / "checkpoint").write_text(state.replace('"ckpt-', '"/home/someone/run/ckpt-'))
        for f in tmp_path.glob("ckpt-2.*"):
            f.unlink()
    with pytest.raises(ckptkit.StateFileError) as info:
        resolve_checkpoint(tmp_path)
    message = str(info.value)
    assert "ckpt-1" in message and str(tmp_path / "ckpt-1") in message
    assert ("was deleted" if where == "deleted" else "not on this disk") in message


@pytest.mark.parametrize("writer", ["utf8", "octal", "hex"])
def test_state_files_with_non_ascii_paths_as_any_writer_escapes_them(tmp_path, writer):
    folder = tmp_path / 'données "été" \\ l\'an'  # quotes and a backslash: escaped by every writer
    prefix = tf.train.Checkpoint(v=tf.Variable(1.0)).write(str(folder / "modèle-1"))
    tf.compat.v1.train.update_checkpoint_state(str(folder), prefix)  # an absolute path, as TF1's Saver writes
    state = (folder / "checkpoint").read_bytes()
    assert "données".encode() in state  # TensorFlow 2.21 writes UTF-8
    if writer != "utf8":  # older protobuf text writers (and C++) escape every byte past ASCII
        escape = (lambda b: f"\\{b:03o}") if writer == "octal" else (lambda b: f"\\x{b:02x}")
        state = b"".join(escape(b).encode() if b > 127 else bytes([b]) for b in state)
        (folder / "checkpoint").write_bytes(state)
    assert tf.train.get_checkpoint_state(str(folder)).model_checkpoint_path == prefix  # TensorFlow agrees
    assert resolve_checkpoint(folder) == prefix
    assert list_folder(folder)[0]["checkpoint"] == "modèle-1"


# ---------------------------------------------------------------- damage, same verdict as TensorFlow


def _copy(prefix: str, folder: Path) -> str:
    folder.mkdir()
    for f in Path(prefix).parent.glob(Path(prefix).name + ".*"):
        shutil.copy(f, folder / f.name)
    return str(folder / Path(prefix).name)


def _tf_verdict(prefix: str) -> str | None:
    """What TensorFlow says when reading every value: None if all reads pass, else its error's class."""
    try:
        reader = tf.train.load_checkpoint(prefix)
        dtypes = reader.get_variable_to_dtype_map()
        for key in reader.get_variable_to_shape_map():
            if dtypes[key] != tf.variant:
                reader.get_tensor(key)
    except Exception as err:
        return type(err).__name__
    return None


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """A small checkpoint with numbers and strings, to damage in copies."""
    folder = tmp_path_factory.mktemp("small")
    values = {
        "w": tf.Variable(np.linspace(0, 1, 64, dtype=np.float32)),
        "s": tf.Variable([b"abc" * 20, b"xyz"]),
    }
    return tf.train.Checkpoint(**values).write(str(folder / "ckpt"))


def _flip(path: str, at: int) -> None:
    raw = bytearray(Path(path).read_bytes())
    raw[at] ^= 0x01
    Path(path).write_bytes(bytes(raw))


def _offset(prefix: str, key: str) -> tuple[int, int]:
    entry = open_checkpoint(prefix)._bundle.entries[key]
    return entry.offset, entry.size


@pytest.mark.parametrize(
    "damage", ["number", "string_bytes", "string_length", "index_block", "truncated", "lfs"]
)
def test_damage_gets_the_verdict_tensorflow_gives(small, tmp_path, damage):
    prefix = _copy(small, tmp_path / "copy")
    data, index = prefix + ".data-00000-of-00001", prefix + ".index"
    if damage == "number":
        offset, size = _offset(prefix, "w/.ATTRIBUTES/VARIABLE_VALUE")
        _flip(data, offset + size // 2)
    elif damage == "string_bytes":
        offset, size = _offset(prefix, "s/.ATTRIBUTES/VARIABLE_VALUE")
        _flip(data, offset + size - 2)
    elif damage == "string_length":
        offset, _ = _offset(prefix, "s/.ATTRIBUTES/VARIABLE_VALUE")
        _flip(data, offset + 1)
    elif damage == "index_block":
        _flip(index, 20)
    elif damage == "truncated":
        Path(data).write_bytes(Path(data).read_bytes()[:100])
    else:
        Path(index).write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\nsize 1029\n")
    assert _tf_verdict(prefix) is not None  # TensorFlow refuses it too
    expected = ckptkit.LfsPointerError if damage == "lfs" else ckptkit.CorruptCheckpointError
    with pytest.raises(expected) as info:
        inspect_checkpoint(prefix)
    message = str(info.value)
    assert "\n" not in message
    assert ("git lfs pull" in message) if damage == "lfs" else ("damaged" in message)
    if damage in ("number", "string_bytes", "string_length", "truncated"):
        assert "data-00000-of-00001" in message


def test_missing_shard_is_named(written, tmp_path):
    prefix = _copy(written["sharded"], tmp_path / "copy")
    shards = sorted(Path(prefix).parent.glob("ckpt.data-*"))
    missing = shards[1]
    missing.unlink()
    assert _tf_verdict(prefix) is not None
    with pytest.raises(ckptkit.MissingShardError, match=missing.name):
        inspect_checkpoint(prefix)


def test_unreadable_file_is_not_called_damaged(small, monkeypatch):
    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(bundle, "open", refuse, raising=False)
    with pytest.raises(ckptkit.CheckpointPermissionError, match="permission denied"):
        open_checkpoint(small)


# ---------------------------------------------------------------- the command line


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ckptkit", *args], capture_output=True, text=True)


def test_cli_never_imports_tensorflow_and_errors_are_one_line(small, tmp_path):
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ckptkit", "inspect", small],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0 and "tensorflow" not in done.stderr and "object tree" in done.stdout
    prefix = _copy(small, tmp_path / "lfs")
    Path(prefix + ".index").write_text("version https://git-lfs.github.com/spec/v1\noid sha256:abc\n")
    for command in (["inspect", prefix], ["diff", small, prefix], ["inspect", str(tmp_path / "nowhere")]):
        bad = _cli(*command)
        assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and bad.stdout == ""
        assert bad.stderr.startswith(f"ckptkit {command[0]}: ") and "tensorflow" not in bad.stderr.lower()


def test_ls_lists_every_checkpoint_marking_damaged_ones(tmp_path, capsys):
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(step=tf.Variable(5)), tmp_path / "run", max_to_keep=5
    )
    paths = [manager.save() for _ in range(3)]
    _flip(paths[0] + ".index", 10)
    Path(paths[1] + ".index").write_text("version https://git-lfs.github.com/spec/v1\n")
    assert main(["ls", str(tmp_path / "run")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines[1:]] == ["ckpt-3", "ckpt-2", "ckpt-1"]
    assert "git lfs pull" in lines[2] and "damaged" in lines[3] and lines[1].split()[1:] == ["3", "5"]
    assert main(["ls", paths[2]]) == 0  # a prefix: its folder, that row marked
    assert capsys.readouterr().out.splitlines()[1].startswith("* ckpt-3")


def test_ls_shows_global_step_for_tf1_checkpoints(written):
    rows = list_folder(os.path.dirname(written["tf1_v1"]))
    assert [(r["checkpoint"], r.get("step")) for r in rows] == [("model.ckpt-42", 42)]
    rows = list_folder(os.path.dirname(written["tf1_v2"]))
    assert [(r["checkpoint"], r.get("step")) for r in rows] == [("model.ckpt-42", 42)]


def test_diff_between_formats_and_folders(written, tmp_path, capsys):
    assert main(["diff", written["tf1_v1"], written["tf1_v2"]]) == 0
    out = capsys.readouterr().out
    assert out.startswith("tf1_v1/model.ckpt-42 vs tf1_v2/model.ckpt-42: 8 unchanged") and "note" not in out
    tf2 = tf.train.Checkpoint(w=tf.Variable(tf.zeros([2, 3]))).write(str(tmp_path / "tf2"))
    assert main(["diff", written["tf1_v2"], tf2, "--json"]) == 1
    import json

    result = json.loads(capsys.readouterr().out)
    w = next(r for r in result["values"] if r["name"] == "w")
    assert w["shape_a"] == w["shape_b"] == [2, 3] and w["dtype_a"] == w["dtype_b"] == "float32"
    assert "name-based" in result["notes"][0] and "object-based" in result["notes"][0]
