"""A tiny VGG-like body for fast tests and the demo (ssdref's own; not in MXNet's example).

Four conv groups with few filters, each conv 3x3 pad 1 + relu, the same op kinds and naming
scheme as vgg16_reduced (conv<g>_<i>, relu<g>_<i>, pool<g>), including pool2's
pooling_convention='full' and a dilated conv, so the tiny SSD exercises every op SSD300 uses:

    data (B, 3, S, S)
    conv1_1 16  -> pool1 2x2/2          S/2
    conv2_1 32  -> pool2 2x2/2 'full'   ceil(S/4)
    conv3_1 32                          SSD feature 'relu3_1' (normalized, scale 20)
    pool3 2x2/2 -> conv4_1 64 (3x3, pad 2, dilate 2) -> relu4_1    SSD feature, S/8

At S = 64 the feature maps are 16, 8, then the config's extra layers add 4 and 2.
"""
from ssdref.model.symbol_api import symbol_module

# (group, filters); the last group's conv is dilated.
_CONV_GROUPS = ((1, 16), (2, 32), (3, 32), (4, 64))


def get_symbol(num_classes=1000, *, mx=None, **kwargs):
    """The tiny body, ending in relu4_1 (no classifier); num_classes and kwargs are ignored."""
    mx = symbol_module(mx)
    net = mx.symbol.Variable(name="data")
    for group, num_filter in _CONV_GROUPS:
        if group == 4:
            net = mx.symbol.Convolution(data=net, kernel=(3, 3), pad=(2, 2), dilate=(2, 2),
                                        num_filter=num_filter, name="conv4_1")
        else:
            net = mx.symbol.Convolution(data=net, kernel=(3, 3), pad=(1, 1),
                                        num_filter=num_filter, name="conv%d_1" % group)
        net = mx.symbol.Activation(data=net, act_type="relu", name="relu%d_1" % group)
        if group == 2:
            net = mx.symbol.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                                    pooling_convention="full", name="pool2")
        elif group in (1, 3):
            net = mx.symbol.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                                    name="pool%d" % group)
    return net
