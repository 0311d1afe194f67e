"""Write the `.params` test files with real MXNet 1.9.1 (run in .venv-mxnet, from the repo root):

    .venv-mxnet/bin/python tests/data/params/make_params.py

Writes, next to this script: files MXNet's own `nd.save` / `save_checkpoint` wrote, hand-made legacy
files (V1, pre-V1 records, a GPU context) together with what MXNet's `nd.load` returned for them, and
`expected.npz` + `expected.json` holding the arrays and the key order / form of every file, so the test
suite checks ssdref's reader without needing MXNet.
"""
import json
import os
import struct

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(20240914)


def record_v1_or_prev1(array, legacy):
    """One legacy NDArray record as MXNet 0.x wrote it (cpu context)."""
    flag = {np.dtype("float32"): 0, np.dtype("float64"): 1, np.dtype("int32"): 4}[array.dtype]
    if legacy == "v1":
        head = struct.pack(f"<Ii{array.ndim}q", 0xF993FAC8, array.ndim, *array.shape)
    else:  # pre-V1: uint32 ndim and uint32 dims, no magic at all
        head = struct.pack(f"<I{array.ndim}I", array.ndim, *array.shape)
    return head + struct.pack("<iii", 1, 0, flag) + array.astype(array.dtype.newbyteorder("<")).tobytes()


def list_file(records, names=()):
    body = struct.pack("<QQQ", 0x112, 0, len(records)) + b"".join(records)
    body += struct.pack("<Q", len(names))
    for n in names:
        body += struct.pack("<Q", len(n.encode())) + n.encode()
    return body


def main():
    expected = {}       # file -> {"form": "dict"|"list", "keys": [...]}
    arrays = {}         # "<file>/<key>" -> ndarray

    def remember(fname, np_shape=False):
        with mx.util.np_shape(np_shape):
            loaded = mx.nd.load(os.path.join(HERE, fname))
        if isinstance(loaded, dict):
            keys = list(loaded.keys())
            expected[fname] = {"form": "dict", "keys": keys, "dtypes": [np.dtype(loaded[k].dtype).name for k in keys]}
            items = loaded.items()
        else:
            keys = [str(i) for i in range(len(loaded))]
            expected[fname] = {"form": "list", "keys": keys, "dtypes": [np.dtype(a.dtype).name for a in loaded]}
            items = zip(keys, loaded)
        for k, v in items:
            arrays[f"{fname}/{k}"] = v.asnumpy()

    # 1. A real checkpoint: a tiny conv + BatchNorm + FC symbol, Module-style key order.
    data = mx.sym.Variable("data")
    net = mx.sym.Convolution(data, num_filter=4, kernel=(3, 3), name="zc")
    net = mx.sym.BatchNorm(net, name="abn")
    net = mx.sym.FullyConnected(net, num_hidden=3, name="fc")
    shapes, _, aux_shapes = net.infer_shape(data=(2, 3, 6, 6))
    arg_names = [n for n in net.list_arguments() if n != "data"]
    arg_params = {n: mx.nd.array(rng.standard_normal(s).astype(np.float32))
                  for n, s in zip(net.list_arguments(), shapes) if n != "data"}
    aux_params = {n: mx.nd.array(rng.uniform(0.5, 2.0, s).astype(np.float32))
                  for n, s in zip(net.list_auxiliary_states(), aux_shapes)}
    assert list(arg_params) == arg_names
    mx.model.save_checkpoint(os.path.join(HERE, "tiny"), 3, net, arg_params, aux_params)
    remember("tiny-0003.params")

    # 2. Every dtype MXNet can create, list form and dict form.
    dtype_names = ["float32", "float64", "float16", "uint8", "int32", "int8", "int64", "bool",
                   "int16", "uint16", "uint32", "uint64"]
    made = {}
    for name in dtype_names:
        if name == "bool":
            values = rng.integers(0, 2, size=(2, 3)).astype(bool)
        elif name.startswith("float"):
            values = rng.standard_normal((2, 3)).astype(name)
        else:
            info = np.iinfo(name)
            values = rng.integers(max(info.min, -100), min(info.max, 200), size=(2, 3), endpoint=True).astype(name)
        try:
            made[name] = mx.nd.array(values, dtype=name)
        except Exception as exc:  # noqa: BLE001 - recorded, not hidden
            print(f"MXNet cannot make dtype {name}: {type(exc).__name__}: {str(exc).splitlines()[0]}")
    mx.nd.save(os.path.join(HERE, "dtypes_list.params"), list(made.values()))
    remember("dtypes_list.params")
    mx.nd.save(os.path.join(HERE, "dtypes_dict.params"), {f"x_{k}": v for k, v in made.items()})
    remember("dtypes_dict.params")
    expected["_dtypes_mxnet_makes"] = {"form": "meta", "keys": list(made)}

    # 3. Shapes: zero-size, 1 element, 5-D, unicode key; a single array; the empty dict.
    mx.nd.save(os.path.join(HERE, "shapes.params"), {
        "zero_size": mx.nd.array(np.zeros((2, 0, 3), np.float32)),
        "one": mx.nd.array([7.25]),
        "five_d": mx.nd.array(rng.standard_normal((1, 2, 1, 3, 2)).astype(np.float32)),
        "caf\u00e9:w": mx.nd.array(np.arange(4, dtype=np.float64)),
    })
    remember("shapes.params")
    mx.nd.save(os.path.join(HERE, "single.params"), mx.nd.array(np.arange(5, dtype=np.float32)))
    remember("single.params")
    mx.nd.save(os.path.join(HERE, "empty.params"), {})
    remember("empty.params")
    with mx.util.np_shape(True):  # numpy-shape mode writes V3 records: scalars and zero-size dims
        mx.nd.save(os.path.join(HERE, "v3_np_shape.params"), {
            "scalar": mx.nd.array(np.float32(3.5).reshape(())),
            "zero_size": mx.nd.zeros((2, 0, 3)),
            "w": mx.nd.array(np.arange(6, dtype=np.float32).reshape(3, 2)),
        })
    remember("v3_np_shape.params", np_shape=True)

    # 4. Hand-made old formats and a GPU context, as MXNet reads them.
    a = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = np.array([1.5, -2.0], dtype=np.float64)
    c = np.arange(4, dtype=np.int32).reshape(1, 4)
    with open(os.path.join(HERE, "legacy_v1.params"), "wb") as f:
        f.write(list_file([record_v1_or_prev1(a, "v1"), record_v1_or_prev1(b, "v1")], ["arg:a", "aux:b"]))
    remember("legacy_v1.params")
    with open(os.path.join(HERE, "legacy_prev1.params"), "wb") as f:
        f.write(list_file([record_v1_or_prev1(a, "prev1"), record_v1_or_prev1(c, "prev1")]))
    remember("legacy_prev1.params")
    gpu = struct.pack("<Iii2q", 0xF993FAC9, 0, 2, 2, 3) + struct.pack("<iii", 2, 0, 0) + a.tobytes()
    with open(os.path.join(HERE, "gpu_ctx.params"), "wb") as f:
        f.write(list_file([gpu], ["arg:on_gpu"]))
    remember("gpu_ctx.params")

    np.savez(os.path.join(HERE, "expected.npz"), **arrays)
    with open(os.path.join(HERE, "expected.json"), "w") as f:
        json.dump({"mxnet": mx.__version__, "files": expected}, f, indent=1, sort_keys=True)
    print("wrote", sorted(expected))


if __name__ == "__main__":
    main()
