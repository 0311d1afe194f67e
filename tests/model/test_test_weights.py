"""ssdref.model.test_weights: calibrated seeded SSD parameters (unsaturated scores, finite boxes)."""
import numpy as np
import pytest

from ssdref import model
from ssdref.autograd.symbol import Symbol
from ssdref.data.shapes import make_images, normalize


def _heads_and_detections(network, data_shape, params, image_seed=5):
    """(cls_prob, loc_preds, detections) of the deploy SSD on a shapes test image."""
    args, aux = params
    symbol = model.get_symbol(**model.get_config(network, data_shape, num_classes=20))
    data = normalize(make_images(1, data_shape, seed=image_seed, split="test")[0])
    detection = next(n for n in symbol._nodes() if n.name == "detection")
    heads = Symbol(list(detection.inputs[:2]) + [(detection, 0)])
    executor = heads.simple_bind(grad_req="null", data=data.shape)
    executor.copy_params_from(args, aux, allow_extra_params=True)
    return executor.forward(is_train=False, data=data)


def _assert_calibrated(cls_prob, loc_preds, detections):
    foreground = cls_prob[:, 1:]
    assert 0.02 < foreground.max() < 0.9, "class scores saturated or flat"
    assert cls_prob.min() > 1e-5, "some class probability underflowed (saturated softmax)"
    assert np.isfinite(loc_preds).all() and np.abs(loc_preds).max() < 10
    assert np.isfinite(detections).all(), "a decoded box overflowed"
    assert (detections[0, :, 0] >= 0).sum() > 0, "no detection above the 0.01 threshold"


@pytest.fixture(scope="module")
def tiny_params():
    return model.test_weights("tiny", seed=0)


def test_tiny_scores_unsaturated_and_boxes_finite(tiny_params):
    _assert_calibrated(*_heads_and_detections("tiny", 64, tiny_params))


def test_same_seed_gives_the_same_bits(tiny_params):
    again = model.test_weights("tiny", seed=0)
    for first, second in zip(tiny_params, again):
        assert first.keys() == second.keys()
        for name in first:
            assert first[name].dtype == np.float32
            assert first[name].tobytes() == second[name].tobytes(), name


def test_another_seed_gives_other_weights(tiny_params):
    other, _ = model.test_weights("tiny", seed=1)
    assert not np.array_equal(other["conv1_1_weight"], tiny_params[0]["conv1_1_weight"])


def test_accepts_symbol_config_or_name():
    config = model.get_config("tiny", 64, num_classes=3)
    by_config, _ = model.test_weights(config, seed=2)
    by_symbol, _ = model.test_weights(model.get_symbol(**config), 64, seed=2)
    by_name, _ = model.test_weights("tiny", 64, 3, seed=2)
    for name in by_config:
        assert by_config[name].tobytes() == by_symbol[name].tobytes() == by_name[name].tobytes()
    assert by_config["relu3_1_cls_pred_conv_weight"].shape[0] == 4 * 4   # 4 anchors x (3 + 1)


def test_symbol_without_data_shape_is_an_error():
    with pytest.raises(ValueError, match="test_weights: data_shape is required"):
        model.test_weights(model.get_symbol(**model.get_config("tiny", 64, num_classes=3)))


@pytest.mark.slow
def test_ssd300_scores_unsaturated_and_boxes_finite():
    params = model.test_weights("vgg16_reduced", seed=0)
    assert params[0]["conv4_3_weight"].shape == (512, 512, 3, 3)
    _assert_calibrated(*_heads_and_detections("vgg16_reduced", 300, params))
