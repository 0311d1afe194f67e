"""GluonCV's SSD models (issue 20) run in ssdref and match MXNet 1.9.1: the three exports load and
re-serialize byte for byte, bind from the data shape alone (0 = unknown in Gluon's weight shapes),
and, with calibrated test weights (`ssdref.model.test_weights`: Gluon's own random initialization
saturates the scores and overflows the box decode), give MXNet's detections; `box_nms` is
bit-exact on MXNet's own NMS inputs inside each model.

GluonCV (0.10.5.post0) is installed into .venv-mxnet by the Makefile (`--no-deps`, beside
numpy 1.23.5); under `make conformance` a missing gluoncv is a failure, never a skip.
"""
import os

import numpy as np
import pytest

import ssdref
from ssdref.model import test_weights as calibrated_weights
from ssdref.testing.compare import assert_detections_equal

MODELS = (("ssd_300_vgg16_atrous_voc", 300), ("ssd_512_resnet50_v1_voc", 512),
          ("ssd_512_mobilenet1.0_voc", 512))
SCORE_RTOL = 1e-5          # scores: relative to the largest score of the image
BOX_RTOL = 2e-4            # boxes (pixels): relative to the image side
pytestmark = pytest.mark.conformance


def _gluoncv():
    try:
        from gluoncv import model_zoo
    except ImportError as exc:
        if os.environ.get("SSDREF_REQUIRE_MXNET") == "1":
            pytest.fail(f"gluoncv is not importable in this venv ({exc}): `make conformance` "
                        f"installs it into .venv-mxnet", pytrace=False)
        pytest.skip(f"gluoncv not importable: {exc}")
    return model_zoo


@pytest.fixture(scope="module")
def exports(mx, tmp_path_factory):
    """{name: (prefix, data side)}: each model built untrained and exported as MXNet writes it."""
    model_zoo = _gluoncv()
    folder = tmp_path_factory.mktemp("gluoncv")
    out = {}
    for name, side in MODELS:
        net = model_zoo.get_model(name, pretrained=False, pretrained_base=False)
        net.initialize()
        net.hybridize()
        net(mx.nd.zeros((1, 3, side, side)))
        net.export(str(folder / name))
        out[name] = (str(folder / name), side)
    return out


def _image(side, seed=1):
    """A seeded 0..255 image, normalized as GluonCV's transforms do (ImageNet mean and std)."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (1, 3, side // 4, side // 4)).repeat(4, axis=2).repeat(4, axis=3)
    mean = np.array([0.485, 0.456, 0.406]).reshape(1, 3, 1, 1) * 255
    std = np.array([0.229, 0.224, 0.225]).reshape(1, 3, 1, 1) * 255
    return ((pixels - mean) / std).astype(np.float32)


@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_load_then_tojson_reproduces_the_export_byte_for_byte(exports, name):
    prefix, _ = exports[name]
    text = open(prefix + "-symbol.json", encoding="utf-8").read()
    assert ssdref.sym.load(prefix + "-symbol.json").tojson() == text


@pytest.mark.slow
@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_calibrated_model_gives_mxnets_detections(exports, mx, name):
    prefix, side = exports[name]
    net = ssdref.sym.load(prefix + "-symbol.json")
    args, aux = calibrated_weights(net, data_shape=side, seed=0)
    data = _image(side)
    ours = net.simple_bind(data=(1, 3, side, side), grad_req="null")   # shapes from data alone
    for source, target in ((args, ours.arg_dict), (aux, ours.aux_dict)):
        for key, value in source.items():
            target[key][...] = value
    ours.arg_dict["data"][...] = data
    ours.forward(is_train=False)

    theirs_net = mx.sym.load(prefix + "-symbol.json")
    theirs = theirs_net.bind(mx.cpu(), {**{k: mx.nd.array(v) for k, v in args.items()},
                                        "data": mx.nd.array(data)},
                             aux_states={k: mx.nd.array(v) for k, v in aux.items()}, grad_req="null")
    theirs.forward(is_train=False)

    def rows(outputs):
        ids, scores, boxes = (np.asarray(o.asnumpy() if hasattr(o, "asnumpy") else o) for o in outputs)
        return np.concatenate([ids[0], scores[0], boxes[0]], axis=1)       # (K, 6), -1 rows padded
    expected, actual = rows(theirs.outputs), rows(ours.outputs)
    valid = expected[:, 0] >= 0
    assert valid.sum() > 0 and np.isfinite(expected[valid]).all(), "calibrated weights give detections"
    assert 0.01 < expected[valid, 1].max() < 0.9999, "scores are neither flat nor saturated"
    assert_detections_equal(actual, expected, score_tol=SCORE_RTOL * expected[valid, 1].max(),
                            box_tol=BOX_RTOL * side)


@pytest.mark.parametrize("name", [m for m, _ in MODELS])
def test_box_nms_is_bit_exact_on_mxnets_own_nms_inputs(exports, mx, name):
    prefix, side = exports[name]
    symbol = mx.sym.load(prefix + "-symbol.json")
    nodes = [n for n in symbol.get_internals().list_outputs() if "box_nms" in n]   # output0 first
    assert nodes, "the export has a box_nms node"
    internals = symbol.get_internals()
    nms = internals[nodes[0]]
    nms_input = nms.get_children()[0]
    params = mx.nd.load(prefix + "-0000.params")
    args = {k.split(":", 1)[1]: v for k, v in params.items() if k.startswith("arg:")}
    aux = {k.split(":", 1)[1]: v for k, v in params.items() if k.startswith("aux:")}
    group = mx.sym.Group([nms_input, nms])
    exe = group.bind(mx.cpu(), {**args, "data": mx.nd.array(_image(side))}, aux_states=aux,
                     grad_req="null")
    exe.forward(is_train=False)
    nms_in, nms_out = (o.asnumpy() for o in exe.outputs)
    attrs = nms.list_attr()
    from ssdref.autograd import registry
    opdef = registry.get_op("_contrib_box_nms")
    parsed = opdef.parse_params({k: v for k, v in attrs.items() if not k.startswith("__")})
    ours, _ = opdef.forward([nms_in], [], parsed, False)
    assert ours[0].tobytes() == nms_out.tobytes()


@pytest.mark.slow
def test_run_checkpoint_runs_a_gluoncv_export_as_mxnet_does(exports, mx, tmp_path):
    """Issue 20 item 4: `ssdref run-checkpoint` on a GluonCV export (calibrated weights saved in
    MXNet's .params format), fed GluonCV's way, gives MXNet's detections in MultiBoxDetection's row
    layout (boxes over the input size)."""
    from ssdref.io import save_params
    from ssdref.io.checkpoint import run_checkpoint
    from ssdref.io.images import GLUONCV_MEAN_PIXELS, GLUONCV_STD_PIXELS, preprocess

    name, side = MODELS[0]
    prefix, _ = exports[name]
    net = ssdref.sym.load(prefix + "-symbol.json")
    args, aux = calibrated_weights(net, data_shape=side, seed=0)
    ours_prefix = str(tmp_path / name)
    (tmp_path / f"{name}-symbol.json").write_text(open(prefix + "-symbol.json").read())
    save_params(f"{ours_prefix}-0000.params", args, aux)
    image = np.random.default_rng(3).integers(0, 256, (3, side, side)).astype(np.float32)
    rows = run_checkpoint(ours_prefix, 0, image)
    data = preprocess(image, side, GLUONCV_MEAN_PIXELS, "bilinear", GLUONCV_STD_PIXELS)
    theirs = mx.sym.load(prefix + "-symbol.json").bind(
        mx.cpu(), {**{k: mx.nd.array(v) for k, v in args.items()}, "data": mx.nd.array(data)},
        aux_states={k: mx.nd.array(v) for k, v in aux.items()}, grad_req="null")
    ids, scores, boxes = (o.asnumpy() for o in theirs.forward(is_train=False))
    expected = np.concatenate([ids[0], scores[0], boxes[0] / side], axis=1)
    valid = expected[:, 0] >= 0
    assert valid.sum() > 0
    assert_detections_equal(rows[0], expected, score_tol=SCORE_RTOL * expected[valid, 1].max(),
                            box_tol=BOX_RTOL)
