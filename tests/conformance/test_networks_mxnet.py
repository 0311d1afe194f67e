"""The other bodies of example/ssd (resnet50, inceptionv3) run numerically, not only as shapes: the
deploy graph ssdref builds, with calibrated test weights (`ssdref.model.test_weights`), gives
MXNet 1.9.1's detections on the same image when MXNet runs ssdref's symbol JSON."""
import numpy as np
import pytest

from ssdref.model import get_config, get_symbol
from ssdref.model import test_weights as calibrated_weights
from ssdref.testing.compare import assert_detections_equal

pytestmark = [pytest.mark.conformance, pytest.mark.slow]


@pytest.mark.parametrize("network, side", [("resnet50", 300), ("inceptionv3", 512)])
def test_calibrated_network_gives_mxnets_detections(mx, network, side):
    net = get_symbol(**get_config(network, side, 20))
    args, aux = calibrated_weights(net, data_shape=side, seed=0)
    from ssdref.data.shapes import make_images, normalize
    data = normalize(make_images(1, side, seed=7, split="test")[0])    # scaled as the calibration

    ours = net.simple_bind(data=data.shape, grad_req="null")
    for source, target in ((args, ours.arg_dict), (aux, ours.aux_dict)):
        for key, value in source.items():
            target[key][...] = value
    ours.arg_dict["data"][...] = data
    actual = np.asarray(ours.forward(is_train=False)[0])

    theirs = mx.sym.load_json(net.tojson()).bind(
        mx.cpu(), {**{k: mx.nd.array(v) for k, v in args.items()}, "data": mx.nd.array(data)},
        aux_states={k: mx.nd.array(v) for k, v in aux.items()}, grad_req="null")
    expected_rows = theirs.forward(is_train=False)[0].asnumpy()
    valid = expected_rows[0, :, 0] >= 0
    assert valid.sum() > 0 and np.isfinite(expected_rows[0][valid]).all()
    assert 0.01 < expected_rows[0, valid, 1].max() < 0.9999
    assert_detections_equal(actual, expected_rows, score_tol=1e-5 * expected_rows[0, valid, 1].max(),
                            box_tol=2e-4)
