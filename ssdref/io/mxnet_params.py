"""Read and write MXNet's `.params` / `mx.nd.save` binary format (spec: mxnet-graph-formats.md §5).

Mirrors: src/ndarray/ndarray.cc `NDArray::Save` / `NDArray::Load` / `LegacyLoad` (MXNet 1.9.1) and
python/mxnet/model.py `save_checkpoint` / `load_checkpoint` (the `arg:` / `aux:` key prefixes).

Layout, all little-endian, no padding:
    file   = uint64 0x112 | uint64 0 | uint64 N | N records | uint64 K | K x (uint64 len, UTF-8 bytes)
             K = 0 is the list form, K = N the dict form (keys in file order).
    record = uint32 magic 0xF993FAC9 (V2) | int32 storage type (0 = dense)
             | int32 ndim | int64 dims[ndim] | int32 dev_type | int32 dev_id | int32 dtype flag | raw C-order data
The loader also takes V3 (0xF993FACA, numpy-shape mode: ndim 0 is a scalar, ndim -1 "none"),
V1 (0xF993FAC8: no storage-type field) and pre-V1 records (the first uint32 is ndim itself, followed by
uint32 dims). Arrays saved on a GPU context load on the CPU, as a CPU-only MXNet does; the context is
not kept. The writer writes V2 dense records on `cpu(0)`, as `save_checkpoint` does.

Conventions that bite:
  * `{}` and `[]` give the same 32-byte file, which loads back as `[]` (MXNet does the same).
  * A single array is saved as a 1-element list.
  * An ndim-0 V2 record is a "none" array (no context, dtype or data follow); MXNet's Python `nd.load`
    fails on it, and so does this loader (ValueError), rather than inventing a value.
  * Sparse storage (row_sparse, csr) is not supported: ValueError naming the storage type.
"""
import math
import os
import struct
from collections.abc import Mapping

import numpy as np

LIST_MAGIC = 0x112
NDARRAY_V1_MAGIC = 0xF993FAC8
NDARRAY_V2_MAGIC = 0xF993FAC9
NDARRAY_V3_MAGIC = 0xF993FACA

# mshadow type flags (include/mshadow/base.h). The reader takes 0-11; bfloat16 (12) has no NumPy dtype
# and is refused. The writer writes only 0-7: MXNet 1.9.1 cannot create int16/uint16/uint32/uint64 arrays
# and its loader fails on those flags ("Unknown type enum 8", verified), so writing them would only make
# files MXNet cannot read.
DTYPE_FLAGS = {
    0: np.dtype("<f4"), 1: np.dtype("<f8"), 2: np.dtype("<f2"), 3: np.dtype("u1"),
    4: np.dtype("<i4"), 5: np.dtype("i1"), 6: np.dtype("<i8"), 7: np.dtype("?"),
    8: np.dtype("<i2"), 9: np.dtype("<u2"), 10: np.dtype("<u4"), 11: np.dtype("<u8"),
}
_FLAG_OF_KIND = {(dt.kind, dt.itemsize): flag for flag, dt in DTYPE_FLAGS.items() if flag <= 7}

_OP = "mxnet_params"
# The smallest record: a pre-V1 uint32 ndim (+ dims), int32 dev_type and dev_id, int32 dtype flag.
MIN_RECORD_BYTES = 16


class _Reader:
    """A cursor over the file's bytes that fails with a clear message when the file ends early."""

    def __init__(self, buf: bytes, source: str):
        self.buf = memoryview(buf)
        self.pos = 0
        self.source = source

    def take(self, nbytes: int, what: str) -> memoryview:
        if nbytes < 0 or self.pos + nbytes > len(self.buf):
            raise ValueError(f"{_OP}: {self.source} is truncated: needed {nbytes} bytes for {what} at "
                             f"offset {self.pos}, got {len(self.buf) - self.pos}")
        chunk = self.buf[self.pos:self.pos + nbytes]
        self.pos += nbytes
        return chunk

    def unpack(self, fmt: str, what: str):
        values = struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt), what))
        return values if len(values) > 1 else values[0]

    def dims(self, code: str, ndim: int, what: str) -> tuple:
        """`ndim` dims of struct type `code` ('q' int64, 'I' uint32) as a tuple of ints."""
        if ndim <= 0:
            return ()
        return tuple(int(d) for d in struct.unpack(f"<{ndim}{code}", self.take(ndim * struct.calcsize(code), what)))


def _read_record(reader: _Reader, index: int) -> np.ndarray:
    where = f"array {index}"
    magic = reader.unpack("I", f"{where} magic")
    if magic in (NDARRAY_V2_MAGIC, NDARRAY_V3_MAGIC):
        stype = reader.unpack("i", f"{where} storage type")
        if stype != 0:
            raise ValueError(f"{_OP}: {where} must have dense storage (type 0), got storage type {stype} "
                             "(row_sparse/csr records are not supported)")
        ndim = reader.unpack("i", f"{where} ndim")
        if ndim < -1:
            raise ValueError(f"{_OP}: {where} must have ndim >= -1, got {ndim}")
        shape = reader.dims("q", ndim, f"{where} dims")
        # V2: ndim 0 means "none"; V3 (numpy shape semantics): ndim -1 or an unknown dim means "none".
        is_none = (ndim == 0) if magic == NDARRAY_V2_MAGIC else (ndim == -1 or any(d < 0 for d in shape))
    else:
        if magic == NDARRAY_V1_MAGIC:
            ndim = reader.unpack("i", f"{where} ndim")
            if ndim < 0:
                raise ValueError(f"{_OP}: {where} must have ndim >= 0, got {ndim}")
            shape = reader.dims("q", ndim, f"{where} dims")
        else:
            # Pre-V1: the uint32 just read is ndim itself, and the dims are uint32.
            ndim = magic
            if ndim > 32:
                raise ValueError(f"{_OP}: {where} must start with an NDArray magic (0xF993FAC8/9/A) or a "
                                 f"small pre-V1 ndim, got 0x{magic:08X}")
            shape = reader.dims("I", ndim, f"{where} dims")
        is_none = ndim == 0
    if is_none:
        raise ValueError(f"{_OP}: {where} is an empty (none) NDArray record with no data; MXNet's "
                         "nd.load rejects it too")
    if any(d < 0 for d in shape):
        raise ValueError(f"{_OP}: {where} must have non-negative dims, got shape {shape}")
    reader.unpack("ii", f"{where} context")   # dev_type, dev_id: everything loads on the CPU
    flag = reader.unpack("i", f"{where} dtype flag")
    if flag not in DTYPE_FLAGS:
        name = "bfloat16" if flag == 12 else "unknown"
        raise ValueError(f"{_OP}: {where} must have a dtype flag in {sorted(DTYPE_FLAGS)}, got {flag} ({name})")
    dtype = DTYPE_FLAGS[flag]
    count = math.prod(shape)              # Python ints: dims whose product overflows int64 stay exact
    if count == 0 and math.prod(d for d in shape if d) >= 2**62:    # NumPy cannot shape it
        raise ValueError(f"{_OP}: {reader.source}: {where} must have dims whose product fits in "
                         f"int64 (zero dims aside), got shape {shape} (a corrupt record)")
    left = len(reader.buf) - reader.pos
    if count * dtype.itemsize > left:
        raise ValueError(f"{_OP}: {reader.source}: {where} must fit in the file: shape {shape} of "
                         f"{dtype.name} needs {count * dtype.itemsize} bytes of data, got {left} bytes "
                         f"left (a truncated file or corrupt dims)")
    data = reader.take(count * dtype.itemsize, f"{where} data ({count} x {dtype.name})")
    # Native byte order in the result; the copy detaches it from the file buffer.
    return np.frombuffer(data, dtype=dtype, count=count).astype(dtype.newbyteorder("="), copy=True).reshape(shape)


def loads_ndarrays(buf: bytes, source: str = "buffer"):
    """Parse the bytes of a `.params` file: a dict {name: ndarray} in file order, or a list."""
    reader = _Reader(bytes(buf), source)
    header, reserved = reader.unpack("QQ", "list header")
    if header != LIST_MAGIC:
        raise ValueError(f"{_OP}: {source} must start with the NDArray list magic 0x112, got 0x{header:X} "
                         "(Invalid NDArray file format)")
    del reserved  # written as 0, never checked by MXNet's loader
    count = reader.unpack("Q", "array count")
    left = len(reader.buf) - reader.pos
    if count > left // MIN_RECORD_BYTES:
        raise ValueError(f"{_OP}: {source}: the array count must fit in the file (each record takes "
                         f"{MIN_RECORD_BYTES} bytes or more, {left} bytes are left), got {count}")
    arrays = []
    for i in range(count):
        try:
            arrays.append(_read_record(reader, i))
        except ValueError as exc:
            if count > 1:      # a wrong count makes the names read as records: say how many were due
                raise ValueError(f"{exc} (array {i} of the {count} the file's header declares)") from None
            raise
    num_names = reader.unpack("Q", "name count")
    if num_names not in (0, count):
        raise ValueError(f"{_OP}: {source} must have 0 or {count} names (one per array), got {num_names} "
                         "(Invalid NDArray file format)")
    names = []
    for i in range(num_names):
        length = reader.unpack("Q", f"length of name {i}")
        raw = bytes(reader.take(length, f"name {i}"))
        try:
            names.append(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise ValueError(f"{_OP}: {source}: name {i} must be UTF-8 text, got {raw[:40]!r} "
                             f"({exc.reason})") from None
    if reader.pos != len(reader.buf):
        raise ValueError(f"{_OP}: {source} has {len(reader.buf) - reader.pos} trailing bytes after the names")
    if num_names == 0:
        return arrays
    if len(set(names)) != len(names):
        raise ValueError(f"{_OP}: {source} must have distinct names, got duplicates in {names}")
    return dict(zip(names, arrays))


def load_ndarrays(path):
    """`mx.nd.load(path)`: a dict {name: ndarray} (file order) for the dict form, a list otherwise."""
    with open(path, "rb") as f:
        return loads_ndarrays(f.read(), source=os.fspath(path))


def _as_numpy(name, value) -> np.ndarray:
    if hasattr(value, "asnumpy"):          # an MXNet NDArray, if one is handed in
        value = value.asnumpy()
    if not isinstance(value, np.ndarray):
        if isinstance(value, (np.generic, int, float, bool)):
            value = np.asarray(value)
        else:
            raise TypeError(f"{_OP}: {name} must be a numpy array, got {type(value).__name__}")
    if value.ndim == 0:
        raise ValueError(f"{_OP}: {name} must have at least 1 dimension (a V2 record with ndim 0 is a "
                         "'none' array in MXNet), got shape ()")
    key = (value.dtype.kind, value.dtype.itemsize)
    if key not in _FLAG_OF_KIND or value.dtype.kind not in "fiub":
        raise TypeError(f"{_OP}: {name} must have a dtype MXNet 1.9.1 can load (float32, float64, float16, "
                        f"uint8, int32, int8, int64, bool), got {value.dtype}")
    return value


def _record_bytes(name, value) -> bytes:
    value = _as_numpy(name, value)
    flag = _FLAG_OF_KIND[(value.dtype.kind, value.dtype.itemsize)]
    little = np.ascontiguousarray(value, dtype=DTYPE_FLAGS[flag])
    header = struct.pack(f"<Iii{value.ndim}q", NDARRAY_V2_MAGIC, 0, value.ndim, *value.shape)
    return header + struct.pack("<iii", 1, 0, flag) + little.tobytes(order="C")


def dumps_ndarrays(data) -> bytes:
    """The bytes `mx.nd.save` writes for a dict {str: array} (in iteration order), a list, or one array."""
    if isinstance(data, Mapping):
        names = list(data.keys())
        for name in names:
            if not isinstance(name, str):
                raise TypeError(f"{_OP}: keys must be str, got {type(name).__name__} {name!r}")
        arrays = [data[n] for n in names]
    elif isinstance(data, (list, tuple)):
        names, arrays = [], list(data)
    elif isinstance(data, np.ndarray) or hasattr(data, "asnumpy"):
        names, arrays = [], [data]
    else:
        raise TypeError(f"{_OP}: data must be a dict of str to arrays, a list of arrays or one array, "
                        f"got {type(data).__name__}")
    labels = names or [f"array {i}" for i in range(len(arrays))]
    parts = [struct.pack("<QQQ", LIST_MAGIC, 0, len(arrays))]
    parts += [_record_bytes(label, a) for label, a in zip(labels, arrays)]
    parts.append(struct.pack("<Q", len(names)))
    for name in names:
        encoded = name.encode("utf-8")
        parts.append(struct.pack("<Q", len(encoded)) + encoded)
    return b"".join(parts)


def save_ndarrays(path, data) -> None:
    """`mx.nd.save(path, data)`: dict {str: array} (dict form), list of arrays, or a single array."""
    payload = dumps_ndarrays(data)
    with open(path, "wb") as f:
        f.write(payload)


def save_params(path, arg_params: Mapping, aux_params: Mapping | None = None) -> None:
    """Write a checkpoint's `.params` file: keys 'arg:'+name (in arg order), then 'aux:'+name."""
    if not isinstance(arg_params, Mapping):
        raise TypeError(f"{_OP}: arg_params must be a dict of name to array, got {type(arg_params).__name__}")
    aux_params = {} if aux_params is None else aux_params
    if not isinstance(aux_params, Mapping):
        raise TypeError(f"{_OP}: aux_params must be a dict of name to array, got {type(aux_params).__name__}")
    merged = {f"arg:{k}": v for k, v in arg_params.items()}
    merged.update({f"aux:{k}": v for k, v in aux_params.items()})
    save_ndarrays(path, merged)


def split_params(save_dict) -> tuple[dict, dict]:
    """`load_checkpoint`'s split of a loaded dict: 'arg:x' -> arg_params['x'], 'aux:y' -> aux_params['y'].

    Keys are split on the first ':'; other prefixes are ignored, as MXNet ignores them. An empty file
    gives two empty dicts (MXNet logs a warning). A key without ':' (or a non-empty list-form file) is a
    ValueError, where MXNet fails with an unpacking error.
    """
    if isinstance(save_dict, list) and not save_dict:
        return {}, {}
    if not isinstance(save_dict, Mapping):
        raise ValueError(f"{_OP}: a checkpoint must be a dict-form .params file with 'arg:'/'aux:' keys, "
                         f"got the list form ({len(save_dict)} unnamed arrays)")
    arg_params, aux_params = {}, {}
    for key, value in save_dict.items():
        kind, sep, name = key.partition(":")
        if not sep:
            raise ValueError(f"{_OP}: checkpoint keys must look like 'arg:name' or 'aux:name', got {key!r}")
        if kind == "arg":
            arg_params[name] = value
        elif kind == "aux":
            aux_params[name] = value
    return arg_params, aux_params


def load_params(path) -> tuple[dict, dict]:
    """Read a checkpoint's `.params` file into (arg_params, aux_params), as `mx.model.load_checkpoint`."""
    return split_params(load_ndarrays(path))


def checkpoint_params_path(prefix: str, epoch: int) -> str:
    """'<prefix>-%04d.params', the name `save_checkpoint(prefix, epoch, ...)` writes."""
    from ssdref.errors import check_int
    return f"{prefix}-{check_int('run-checkpoint', 'epoch', epoch, minimum=0):04d}.params"
