"""`.params` files ssdref writes load in real MXNet 1.9.1 with identical arrays (make conformance).

Runs MXNet in a child process: the current interpreter when it has mxnet (under `make conformance`,
i.e. .venv-mxnet), else `.venv-mxnet/bin/python` when that venv exists. Without MXNet the test skips
with the reason, except with SSDREF_REQUIRE_MXNET=1, where a missing MXNet is a failure.
"""
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

from ssdref.io import save_ndarrays, save_params

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, os.pardir))

CHILD = r"""
import json, sys
import numpy as np
import mxnet as mx
cases = json.loads(sys.argv[1])
with np.load(sys.argv[2]) as npz:
    want = {k: npz[k] for k in npz.files}
problems = []
for path, meta in cases.items():
    loaded = mx.nd.load(path)
    if meta["form"] == "dict":
        items = list(loaded.items()) if isinstance(loaded, dict) else None
    else:
        items = [(str(i), a) for i, a in enumerate(loaded)] if isinstance(loaded, list) else None
    if items is None:
        problems.append(f"{path}: MXNet loaded a {type(loaded).__name__}, expected the {meta['form']} form")
        continue
    if [k for k, _ in items] != meta["keys"]:
        problems.append(f"{path}: keys {[k for k, _ in items]} != {meta['keys']}")
        continue
    for key, array in items:
        got, ref = array.asnumpy(), want[meta["npz"][key]]
        if got.dtype != ref.dtype or got.shape != ref.shape or got.tobytes() != ref.tobytes():
            problems.append(f"{path}:{key}: got {got.dtype}{got.shape}, expected {ref.dtype}{ref.shape}")
    if meta.get("checkpoint"):
        arg, aux = {}, {}
        for k, v in loaded.items():
            kind, name = k.split(":", 1)
            (arg if kind == "arg" else aux)[name] = v
        if list(arg) != meta["checkpoint"]["arg"] or list(aux) != meta["checkpoint"]["aux"]:
            problems.append(f"{path}: load_checkpoint split {list(arg)}, {list(aux)}")
print(json.dumps({"mxnet": mx.__version__, "problems": problems}))
"""


def _mxnet_python():
    """The interpreter that has mxnet, or None with the reason."""
    spec = importlib.util.find_spec("mxnet")
    # A bare folder named mxnet on sys.path (pytest puts test folders there) is a namespace package
    # without a loader, not MXNet.
    if spec is not None and spec.loader is not None and spec.origin is not None:
        return sys.executable, None
    venv_python = os.path.join(REPO, ".venv-mxnet", "bin", "python")
    if os.path.exists(venv_python):
        return venv_python, None
    return None, f"mxnet is not importable here and {venv_python} does not exist"


def _cases(tmp_path):
    rng = np.random.default_rng(7)
    arrays = {
        "f32": rng.standard_normal((2, 3, 4)).astype(np.float32),
        "f64": rng.standard_normal((5,)),
        "f16": rng.standard_normal((3, 2)).astype(np.float16),
        "u8": rng.integers(0, 256, (4, 4)).astype(np.uint8),
        "i32": rng.integers(-2**31, 2**31 - 1, (6,)).astype(np.int32),
        "i8": rng.integers(-128, 128, (2, 2, 2)).astype(np.int8),
        "i64": rng.integers(-2**62, 2**62, (3,)),
        "bool": rng.integers(0, 2, (7,)).astype(bool),
        "zero_size": np.zeros((2, 0, 3), np.float32),
        "special": np.array([np.nan, -0.0, np.inf, -np.inf, 1e-45], np.float32),
    }
    cases, npz = {}, {}

    def add(fname, form, keys, values, **extra):
        path = str(tmp_path / fname)
        cases[path] = {"form": form, "keys": keys, "npz": {}, **extra}
        for key, value in zip(keys, values):
            npz_key = f"{fname}/{key}"
            cases[path]["npz"][key] = npz_key
            npz[npz_key] = value
        return path

    save_ndarrays(add("dict.params", "dict", list(arrays), arrays.values()), arrays)
    save_ndarrays(add("list.params", "list", [str(i) for i in range(len(arrays))], arrays.values()),
                  list(arrays.values()))
    save_ndarrays(add("empty.params", "list", [], []), {})
    arg = {"conv1_weight": arrays["f32"], "conv1_bias": rng.standard_normal(3).astype(np.float32),
           "relu4_3_scale": np.full((1, 512, 1, 1), 20.0, np.float32)}
    aux = {"bn_moving_mean": np.zeros(3, np.float32), "bn_moving_var": np.ones(3, np.float32)}
    keys = [f"arg:{k}" for k in arg] + [f"aux:{k}" for k in aux]
    save_params(add("ssd-0001.params", "dict", keys, [*arg.values(), *aux.values()],
                    checkpoint={"arg": list(arg), "aux": list(aux)}), arg, aux)
    np.savez(tmp_path / "want.npz", **npz)
    return cases, str(tmp_path / "want.npz")


@pytest.mark.conformance
def test_params_written_by_ssdref_load_in_mxnet_identically(tmp_path):
    python, reason = _mxnet_python()
    if python is None:
        if os.environ.get("SSDREF_REQUIRE_MXNET") == "1":
            pytest.fail(f"SSDREF_REQUIRE_MXNET=1 but {reason}")
        pytest.skip(reason)
    cases, want = _cases(tmp_path)
    proc = subprocess.run([python, "-c", CHILD, json.dumps(cases), want], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "MXNET_ENGINE_TYPE": "NaiveEngine"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["mxnet"] == "1.9.1"
    assert report["problems"] == []
