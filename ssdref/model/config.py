"""Per-network SSD settings, as MXNet example/ssd/symbol/symbol_factory.py (tag 1.9.1), plus 'tiny'.

Mirrors: example/ssd/symbol/symbol_factory.py (get_config, get_symbol_train, get_symbol); values
from spec mxnet-semantics.md §6.3. `get_config` returns the keyword arguments of
symbol_builder.get_symbol_train / get_symbol (network, num_classes, from_layers, num_filters,
strides, pads, sizes, ratios, normalizations, steps, plus network kwargs such as resnet's
num_layers and image_shape, and data_shape, which the bodies ignore). Each call returns fresh
lists, so the num_filters mutation of a build (MXNet's pop(0) quirk) never leaks into the next.
Conventions that bite:
  * vgg16_reduced switches to the 7-layer SSD512 layout at data_shape >= 448; explicit steps only
    at exactly 300 or 512 (otherwise MultiBoxPrior's automatic 1/H steps);
  * SSD512's last extra layer has stride 1, pad 1, so it stays 2x2 (24576 anchors);
  * 'resnet50'/'resnet101' are configs of the network 'resnet'; there is no mobilenet at 1.9.1.
"""
import logging

from ssdref.model import symbol_builder

__all__ = ["CONFIG_NAMES", "get_config", "get_symbol", "get_symbol_train"]

CONFIG_NAMES = ("vgg16_reduced", "inceptionv3", "resnet50", "resnet101", "tiny")

_log = logging.getLogger(__name__)


def _ssd300_anchors():
    """sizes and ratios shared by SSD300, inceptionv3 and the resnets (six layers)."""
    sizes = [[.1, .141], [.2, .272], [.37, .447], [.54, .619], [.71, .79], [.88, .961]]
    ratios = [[1, 2, .5], [1, 2, .5, 3, 1. / 3], [1, 2, .5, 3, 1. / 3], [1, 2, .5, 3, 1. / 3],
              [1, 2, .5], [1, 2, .5]]
    return sizes, ratios


def _vgg16_reduced(data_shape):
    if data_shape >= 448:  # SSD512: seven source layers
        sizes = [[.07, .1025], [.15, .2121], [.3, .3674], [.45, .5196], [.6, .6708],
                 [.75, .8216], [.9, .9721]]
        ratios = [[1, 2, .5], [1, 2, .5, 3, 1. / 3], [1, 2, .5, 3, 1. / 3],
                  [1, 2, .5, 3, 1. / 3], [1, 2, .5, 3, 1. / 3], [1, 2, .5], [1, 2, .5]]
        config = dict(from_layers=["relu4_3", "relu7", "", "", "", "", ""],
                      num_filters=[512, -1, 512, 256, 256, 256, 256],
                      strides=[-1, -1, 2, 2, 2, 2, 1], pads=[-1, -1, 1, 1, 1, 1, 1],
                      sizes=sizes, ratios=ratios, normalizations=[20, -1, -1, -1, -1, -1, -1],
                      steps=[] if data_shape != 512 else
                      [x / 512.0 for x in [8, 16, 32, 64, 128, 256, 512]])
    else:  # SSD300
        sizes, ratios = _ssd300_anchors()
        config = dict(from_layers=["relu4_3", "relu7", "", "", "", ""],
                      num_filters=[512, -1, 512, 256, 256, 256],
                      strides=[-1, -1, 2, 2, 1, 1], pads=[-1, -1, 1, 1, 0, 0],
                      sizes=sizes, ratios=ratios, normalizations=[20, -1, -1, -1, -1, -1],
                      steps=[] if data_shape != 300 else
                      [x / 300.0 for x in [8, 16, 32, 64, 100, 300]])
    if data_shape not in (300, 512):
        _log.warning("vgg16_reduced: data_shape %d was not tested by MXNet's example", data_shape)
    return config


def _extra_layers_head(from_layers):
    """The inceptionv3/resnet layout: two body layers, four extra layers, no normalization."""
    sizes, ratios = _ssd300_anchors()
    return dict(from_layers=from_layers + ["", "", "", ""], num_filters=[-1, -1, 512, 256, 256, 128],
                strides=[-1, -1, 2, 2, 2, 2], pads=[-1, -1, 1, 1, 1, 1], sizes=sizes,
                ratios=ratios, normalizations=-1, steps=[])


def _tiny(data_shape):
    """ssdref's tiny SSD: features at S/4 and S/8 from the tiny body, then two extra layers."""
    if data_shape < 32:
        raise ValueError(f"get_config: data_shape for 'tiny' must be >= 32, got {data_shape}")
    return dict(from_layers=["relu3_1", "relu4_1", "", ""], num_filters=[32, -1, 32, 32],
                strides=[-1, -1, 2, 2], pads=[-1, -1, 1, 1],
                sizes=[[.15, .22], [.3, .39], [.5, .6], [.75, .86]],
                ratios=[[1, 2, .5], [1, 2, .5, 3, 1. / 3], [1, 2, .5], [1, 2, .5]],
                normalizations=[20, -1, -1, -1], steps=[], min_filter=16)


def get_config(network, data_shape, num_classes=20, **kwargs):
    """The keyword arguments of symbol_builder.get_symbol_train for `network` at `data_shape`.

    network: 'vgg16_reduced' (300 / 512 layouts), 'inceptionv3', 'resnet50', 'resnet101', 'tiny'.
    kwargs override or extend the returned settings.
    """
    if network == "vgg16_reduced":
        config = _vgg16_reduced(data_shape)
    elif network == "inceptionv3":
        config = _extra_layers_head(["ch_concat_mixed_7_chconcat", "ch_concat_mixed_10_chconcat"])
    elif network in ("resnet50", "resnet101"):
        num_layers = 50 if network == "resnet50" else 101
        sources = ["_plus12", "_plus15"] if num_layers == 50 else ["_plus29", "_plus32"]
        config = _extra_layers_head(sources)
        # image_shape only selects the ImageNet stem (not the CIFAR one); any S works after it
        config.update(num_layers=num_layers, image_shape="3,224,224")
        network = "resnet"
    elif network == "tiny":
        config = _tiny(data_shape)
    else:
        raise NotImplementedError(f"get_config: no configuration for network {network!r} with "
                                  f"data_shape {data_shape}; known: {', '.join(CONFIG_NAMES)}")
    config.update(network=network, num_classes=num_classes, data_shape=data_shape)
    config.update(kwargs)
    return config


def get_symbol_train(network, data_shape, *, mx=None, **kwargs):
    """symbol_factory.get_symbol_train: the training symbol of a named configuration."""
    return symbol_builder.get_symbol_train(mx=mx, **get_config(network, data_shape, **kwargs))


def get_symbol(network, data_shape, *, mx=None, **kwargs):
    """symbol_factory.get_symbol: the deploy symbol of a named configuration."""
    return symbol_builder.get_symbol(mx=mx, **get_config(network, data_shape, **kwargs))
