"""A checkpoint ssdref writes (deploy symbol JSON + `.params`) loads into real MXNet 1.9.1 and gives
the same detections there as in ssdref (make conformance).

ssdref loads the MXNet-trained tiny checkpoint (tests/data/checkpoints), perturbs its parameters
(so MXNet cannot be reading its own file), writes `<prefix>-symbol.json` and `<prefix>-0003.params`;
a child MXNet process runs `mx.model.load_checkpoint` on them and the image, and ssdref compares.
MXNet runs as in test_params_mxnet.py: this interpreter when it has mxnet, else .venv-mxnet; a
missing MXNet skips, except with SSDREF_REQUIRE_MXNET=1, where it fails.
"""
import json
import os
import subprocess

import numpy as np
import pytest

from ssdref.io import load_params, save_params
from ssdref.io.checkpoint import load_checkpoint, run_checkpoint
from ssdref.testing.compare import assert_detections_equal

from test_params_mxnet import _mxnet_python  # noqa: E402  (same folder, pytest rootdir-relative)

DATA = os.path.join(os.path.dirname(__file__), os.pardir, "data", "checkpoints")

CHILD = r"""
import json, sys
import numpy as np
import mxnet as mx
prefix, image_path, out_path = sys.argv[1:4]
symbol, arg_params, aux_params = mx.model.load_checkpoint(prefix, 3)
image = np.load(image_path).astype(np.float32)
data = mx.nd.array((image - np.array([123, 117, 104], np.float32).reshape(3, 1, 1))[None])
exe = symbol.simple_bind(mx.cpu(), grad_req="null", data=data.shape)
exe.copy_params_from(arg_params, aux_params)
det = exe.forward(is_train=False, data=data)[0].asnumpy()
np.save(out_path, det)
print(json.dumps({"mxnet": mx.__version__, "outputs": symbol.list_outputs(),
                  "params": {k: [np.dtype(v.dtype).name, list(v.shape), float(v.asnumpy().astype(np.float64).sum())]
                             for k, v in arg_params.items()}}))
"""


@pytest.mark.conformance
def test_checkpoint_written_by_ssdref_runs_in_mxnet_with_same_detections(tmp_path):
    python, reason = _mxnet_python()
    if python is None:
        if os.environ.get("SSDREF_REQUIRE_MXNET") == "1":
            pytest.fail(f"SSDREF_REQUIRE_MXNET=1 but {reason}")
        pytest.skip(reason)
    symbol, _, _ = load_checkpoint(os.path.join(DATA, "tiny"), 2)
    arg, aux = load_params(os.path.join(DATA, "tiny-0002.params"))
    rng = np.random.default_rng(3)
    arg = {k: (v * np.float32(1.1) + rng.normal(0, 0.01, v.shape).astype(np.float32)).astype(np.float32)
           for k, v in arg.items()}
    prefix = str(tmp_path / "resaved")
    symbol.save(prefix + "-symbol.json")
    save_params(prefix + "-0003.params", arg, aux)
    image_path = os.path.join(DATA, "image.npy")
    proc = subprocess.run([python, "-c", CHILD, prefix, image_path, str(tmp_path / "mx.npy")],
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MXNET_ENGINE_TYPE": "NaiveEngine"})
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["mxnet"] == "1.9.1"
    assert report["outputs"] == ["detection_output"]
    assert set(report["params"]) == set(arg)
    for name, (dtype, shape, total) in report["params"].items():
        assert dtype == "float32" and tuple(shape) == arg[name].shape
        assert total == float(arg[name].astype(np.float64).sum())
    mx_det = np.load(tmp_path / "mx.npy")
    assert (mx_det[0, :, 0] >= 0).sum() > 10
    assert_detections_equal(run_checkpoint(prefix, 3, np.load(image_path)), mx_det)
