"""ssdref.model.symbol_builder: the SSD train and deploy graphs equal MXNet 1.9.1's (spec §6.3, §10)."""
import pytest

from model_data import (SSD300_TRAIN_ARGUMENTS, fresh_graph, mxnet_json, mxnet_summary)
from ssdref.model import get_config, get_symbol, get_symbol_train

SUMMARY = mxnet_summary()


def _build(builder, network, data_shape, num_classes=20):
    with fresh_graph():
        return builder(**get_config(network, data_shape, num_classes))


@pytest.fixture(scope="module")
def ssd300_train():
    return _build(get_symbol_train, "vgg16_reduced", 300)


def test_ssd300_train_infer_shape_gives_the_four_outputs(ssd300_train):
    _, out_shapes, aux_shapes = ssd300_train.infer_shape(data=(1, 3, 300, 300), label=(1, 58, 5))
    assert ssd300_train.list_outputs() == ["cls_prob_output", "loc_loss_output",
                                           "cls_label_output", "det_out_output"]
    assert [tuple(s) for s in out_shapes] == [(1, 21, 8732), (1, 34928), (1, 8732), (1, 8732, 6)]
    assert list(aux_shapes) == []


def test_ssd300_list_arguments_equals_spec_and_mxnet(ssd300_train):
    assert len(SSD300_TRAIN_ARGUMENTS) == 73
    assert ssd300_train.list_arguments() == SSD300_TRAIN_ARGUMENTS
    assert SUMMARY["graphs"]["ssd300_train"]["list_arguments"] == SSD300_TRAIN_ARGUMENTS


def test_ssd300_internals_and_argument_shapes_equal_mxnet(ssd300_train):
    expected = SUMMARY["graphs"]["ssd300_train"]
    assert ssd300_train.get_internals().list_outputs() == expected["internals"]
    arg_shapes, _, _ = ssd300_train.infer_shape(data=(1, 3, 300, 300), label=(1, 58, 5))
    assert {name: list(shape) for name, shape in zip(ssd300_train.list_arguments(), arg_shapes)} \
        == expected["arg_shapes"]


@pytest.mark.parametrize("graph, builder, network, data_shape, num_classes", [
    ("ssd300_train", get_symbol_train, "vgg16_reduced", 300, 20),
    ("ssd300_test", get_symbol, "vgg16_reduced", 300, 20),
    ("tiny_train", get_symbol_train, "tiny", 64, 3),
    ("tiny_test", get_symbol, "tiny", 64, 3),
])
def test_tojson_equals_mxnets_file(graph, builder, network, data_shape, num_classes):
    assert _build(builder, network, data_shape, num_classes).tojson() == mxnet_json(graph)


def test_deploy_graph_is_softmax_then_detection():
    net = _build(get_symbol, "vgg16_reduced", 300)
    assert net.list_outputs() == ["detection_output"]
    assert net.list_arguments() == [n for n in SSD300_TRAIN_ARGUMENTS if n != "label"]
    _, out_shapes, _ = net.infer_shape(data=(1, 3, 300, 300))
    assert tuple(out_shapes[0]) == (1, 8732, 6)
    assert "cls_prob_output" in net.get_internals().list_outputs()


def test_ssd512_has_24576_anchors():
    net = _build(get_symbol_train, "vgg16_reduced", 512)
    _, out_shapes, _ = net.infer_shape(data=(1, 3, 512, 512), label=(1, 58, 5))
    assert tuple(out_shapes[0]) == (1, 21, 24576)


def test_build_mutates_num_filters_as_mxnet_does():
    config = get_config("vgg16_reduced", 300, 20)
    with fresh_graph():
        get_symbol_train(**config)
    assert config["num_filters"] == [-1, 512, 256, 256, 256]


@pytest.mark.parametrize("key", [
    key
    for key in sorted(SUMMARY["configs"])])
def test_every_config_builds_and_infers_mxnets_shapes(key):
    network, data_shape = key.rsplit("_", 1)
    data_shape = int(data_shape)
    expected = SUMMARY["configs"][key]
    net = _build(get_symbol_train, network, data_shape)
    assert net.list_arguments() == expected["list_arguments"]
    assert net.list_auxiliary_states() == expected["list_auxiliary_states"]
    _, out_shapes, _ = net.infer_shape(data=(1, 3, data_shape, data_shape), label=(1, 58, 5))
    assert {name: list(shape) for name, shape in zip(net.list_outputs(), out_shapes)} \
        == expected["out_shapes"]


def test_symbol_factory_wrappers_build_named_configurations():
    from ssdref.model import config
    with fresh_graph():
        train = config.get_symbol_train("tiny", 64, num_classes=3)
    with fresh_graph():
        deploy = config.get_symbol("tiny", 64, num_classes=3)
    assert train.tojson() == mxnet_json("tiny_train")
    assert deploy.tojson() == mxnet_json("tiny_test")
