"""Write the MXNet-produced test data in this folder; run with MXNet 1.9.1 (`.venv-mxnet`).

    .venv-mxnet/bin/python tests/data/mxnet_graphs/make_mxnet_data.py

The graph JSON reader/writer tests and the conformance work compare ssdref against these files:
  * <graph>.json           `Symbol.tojson()` from MXNet 1.9.1, built under a fresh
                           `mx.name.NameManager()` (automatic names start at 0);
  * mxnet_graphs.json      per graph: list_arguments, list_outputs, list_auxiliary_states,
                           get_internals().list_outputs(), the infer_shape inputs and results,
                           and attr_dict entries of the attributed variables;
                           per get_config network: list_arguments and output shapes.
The SSD graphs are built by ssdref.model's code running on real MXNet (`mx=mxnet`); that code was
checked to give byte-identical tojson() to MXNet's own example/ssd/symbol at tag 1.9.1. When the
seed file is found, the seed's train graph is also checked to be identical here.
"""
import json
import os
import sys

import mxnet as mx

from ssdref.model import get_config, get_symbol, get_symbol_train
from ssdref.model.seed import find_seed, load_seed_builder

HERE = os.path.dirname(os.path.abspath(__file__))
SSD300_SHAPES = {"data": (1, 3, 300, 300), "label": (1, 58, 5)}
TINY_CLASSES = 3
TINY_SHAPES = {"data": (2, 3, 64, 64), "label": (2, 4, 5)}


def small_convnet():
    """conv (explicit attributed bias) + BatchNorm + relu + full-convention max pool + FC + softmax."""
    data = mx.sym.Variable("data")
    bias = mx.sym.Variable("conv0_bias", init=mx.init.Constant(0.0), lr_mult=2.0, wd_mult=0.0,
                           attr={"__mine__": "yes"})
    net = mx.sym.Convolution(data=data, bias=bias, kernel=(3, 3), pad=(1, 1), num_filter=4,
                             name="conv0")
    net = mx.sym.BatchNorm(data=net, name="bn0")
    net = mx.sym.Activation(data=net, act_type="relu")
    net = mx.sym.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                         pooling_convention="full")
    net = mx.sym.Flatten(data=net)
    net = mx.sym.FullyConnected(data=net, num_hidden=3, name="fc")
    return mx.sym.SoftmaxOutput(data=net, name="softmax")


def arithmetic():
    """Symbol arithmetic, scalar ops, broadcast_mul, BlockGrad and a Group (automatic names)."""
    a = mx.sym.Variable("a", shape=(2, 3))
    b = mx.sym.Variable("b", shape=(2, 3), dtype="float32")
    c = a * (b - a) + 2
    d = -(c / 4.0) - 1
    e = 1 - mx.sym.broadcast_mul(lhs=a, rhs=mx.sym.Variable("s", shape=(1, 3)))
    return mx.sym.Group([c, d, e, mx.sym.BlockGrad(d * e)])


def build(builder):
    with mx.name.NameManager():
        return builder()


def describe(symbol, shapes, attributed=()):
    arg_shapes, out_shapes, aux_shapes = symbol.infer_shape(**shapes)
    attrs = symbol.attr_dict()
    return {
        "list_arguments": symbol.list_arguments(),
        "list_outputs": symbol.list_outputs(),
        "list_auxiliary_states": symbol.list_auxiliary_states(),
        "internals": symbol.get_internals().list_outputs(),
        "infer_shape_inputs": {k: list(v) for k, v in shapes.items()},
        "arg_shapes": dict(zip(symbol.list_arguments(), map(list, arg_shapes))),
        "out_shapes": dict(zip(symbol.list_outputs(), map(list, out_shapes))),
        "aux_shapes": dict(zip(symbol.list_auxiliary_states(), map(list, aux_shapes))),
        "attr_dict": {name: attrs[name] for name in attributed},
    }


def main():
    graphs = {
        "ssd300_train": (lambda: get_symbol_train(mx=mx, **get_config("vgg16_reduced", 300, 20)),
                         SSD300_SHAPES,
                         ["relu4_3_scale", "relu4_3_loc_pred_conv_bias", "relu4_3_norm",
                          "multibox_target", "cls_prob", "relu4_3_anchors"]),
        "ssd300_test": (lambda: get_symbol(mx=mx, **get_config("vgg16_reduced", 300, 20)),
                        {"data": SSD300_SHAPES["data"]}, ["cls_prob", "detection"]),
        "tiny_train": (lambda: get_symbol_train(mx=mx, **get_config("tiny", 64, TINY_CLASSES)),
                       TINY_SHAPES, ["relu3_1_scale", "relu3_1_cls_pred_conv_bias"]),
        "tiny_test": (lambda: get_symbol(mx=mx, **get_config("tiny", 64, TINY_CLASSES)),
                      {"data": TINY_SHAPES["data"]}, []),
        "small_convnet": (small_convnet, {"data": (2, 3, 8, 8)},
                          ["conv0_bias", "conv0_weight", "bn0_moving_mean", "bn0_moving_var"]),
        "arithmetic": (arithmetic, {}, ["a", "b", "s"]),
    }
    seed_path = find_seed()
    if seed_path:
        seed = load_seed_builder(seed_path, mx=mx)
        graphs["ssd300_test_seed"] = (
            lambda: seed.get_symbol(**get_config("vgg16_reduced", 300, 20)),
            {"data": SSD300_SHAPES["data"]}, ["cls_prob"])
        seed_train = build(lambda: seed.get_symbol_train(**get_config("vgg16_reduced", 300, 20)))
        ours = build(graphs["ssd300_train"][0])
        if seed_train.tojson() != ours.tojson():
            sys.exit("the seed's SSD300 train graph differs from ssdref.model's on MXNet")

    summary = {"mxnet_version": mx.__version__, "graphs": {}, "configs": {}}
    for name, (builder, shapes, attributed) in graphs.items():
        symbol = build(builder)
        with open(os.path.join(HERE, name + ".json"), "w") as f:
            f.write(symbol.tojson())
        summary["graphs"][name] = describe(symbol, shapes, attributed)

    for network, data_shape in [("vgg16_reduced", 300), ("vgg16_reduced", 512),
                                ("inceptionv3", 512), ("resnet50", 300), ("resnet101", 300),
                                ("tiny", 64), ("tiny", 96)]:
        symbol = build(lambda: get_symbol_train(mx=mx, **get_config(network, data_shape, 20)))
        _, out_shapes, _ = symbol.infer_shape(data=(1, 3, data_shape, data_shape),
                                              label=(1, 58, 5))
        summary["configs"]["%s_%d" % (network, data_shape)] = {
            "list_arguments": symbol.list_arguments(),
            "list_auxiliary_states": symbol.list_auxiliary_states(),
            "out_shapes": dict(zip(symbol.list_outputs(), map(list, out_shapes))),
        }
    with open(os.path.join(HERE, "mxnet_graphs.json"), "w") as f:
        json.dump(summary, f, indent=1, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
