"""ssdref.model.common: MXNet example/ssd's feature layers and heads (spec mxnet-semantics §6.1-6.2, §10)."""
import pytest

from model_data import fresh_graph, mxnet_summary
from ssdref.model import get_config
from ssdref.model.common import multi_layer_feature, multibox_layer
from ssdref.model.networks import vgg16_reduced


class _Named:
    """Stands in for a feature Symbol where only `.name` is read before any op is built."""

    def __init__(self, name):
        self.name = name


def test_flat_sizes_pair_fails_clearly_as_on_python3():
    with pytest.raises(TypeError, match="flat \\[min, max\\] pair.*Python 3"):
        multibox_layer([_Named("a"), _Named("b"), _Named("c")], 20, sizes=[.2, .95])


def test_normalized_layers_need_channel_counts():
    with pytest.raises(ValueError, match="num_channels must give a channel count for each of the 2"):
        multibox_layer([_Named("a"), _Named("b")], 20, sizes=[[.1, .2], [.3, .4]],
                       normalization=20, num_channels=[512])


@pytest.mark.parametrize("kwargs, match", [
    (dict(from_layers=[], num_filters=[], strides=[], pads=[]), "must not be empty"),
    (dict(from_layers=["", "relu7"], num_filters=[1, 1], strides=[1, 1], pads=[1, 1]),
     "from_layers\\[0\\] must name a layer"),
    (dict(from_layers=["relu7", ""], num_filters=[1], strides=[1, 1], pads=[1, 1]),
     "equal lengths"),
])
def test_multi_layer_feature_rejects_bad_lists(kwargs, match):
    with pytest.raises(ValueError, match=match):
        multi_layer_feature(None, **kwargs)


def _ssd300_features(num_filters=None):
    config = get_config("vgg16_reduced", 300, 20)
    with fresh_graph():
        body = vgg16_reduced.get_symbol(20)
        layers = multi_layer_feature(body, config["from_layers"], num_filters or config["num_filters"],
                                     config["strides"], config["pads"])
    return config, layers


def test_feature_layers_are_named_after_their_activation():
    _, layers = _ssd300_features()
    assert [layer.name for layer in layers] == [
        "relu4_3", "relu7"] + ["multi_feat_%d_conv_3x3_relu" % k for k in range(2, 6)]


def test_one_by_one_conv_has_max_of_min_filter_and_half():
    _, layers = _ssd300_features()
    arg_shapes, _, _ = layers[5].infer_shape(data=(1, 3, 300, 300))
    shapes = dict(zip(layers[5].list_arguments(), arg_shapes))
    assert shapes["multi_feat_2_conv_1x1_conv_weight"] == (256, 1024, 1, 1)  # 512 // 2
    assert shapes["multi_feat_4_conv_1x1_conv_weight"] == (128, 256, 1, 1)  # max(128, 256 // 2)
    assert shapes["multi_feat_5_conv_3x3_conv_weight"] == (256, 128, 3, 3)


def test_num_channels_pop_takes_first_remaining_entry_and_mutates_the_list():
    config, layers = _ssd300_features()
    channels = [512, 1024, 7]
    with fresh_graph():
        loc, cls, anchors = multibox_layer(layers, 20, sizes=config["sizes"],
                                           ratios=config["ratios"],
                                           normalization=[20, 20, -1, -1, -1, -1],
                                           num_channels=channels)
    attrs = cls.attr_dict()
    assert attrs["relu4_3_scale"]["__shape__"] == "(1, 512, 1, 1)"
    assert attrs["relu7_scale"]["__shape__"] == "(1, 1024, 1, 1)"
    assert channels == [7]


def test_head_attributes_equal_mxnets():
    from ssdref.model import get_symbol_train
    expected = mxnet_summary()["graphs"]["ssd300_train"]["attr_dict"]
    with fresh_graph():
        net = get_symbol_train(**get_config("vgg16_reduced", 300, 20))
    attrs = net.attr_dict()
    for name, value in expected.items():
        assert attrs[name] == value, name


def test_automatic_steps_string_when_no_steps_given():
    from ssdref.model import get_symbol
    with fresh_graph():
        net = get_symbol(**get_config("tiny", 64, 3))
    attrs = net.attr_dict()
    assert attrs["relu3_1_anchors"]["steps"] == "(-1.0, -1.0)"
    assert attrs["relu4_1_anchors"]["ratios"] == "(1,2,0.5,3,0.3333333333333333)"
