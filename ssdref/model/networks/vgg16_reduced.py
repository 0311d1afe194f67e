"""VGG16-reduced, SSD's base network, as MXNet example/ssd/symbol/vgg16_reduced.py (tag 1.9.1).

Mirrors: example/ssd/symbol/vgg16_reduced.py. Layer names are MXNet's (spec mxnet-semantics.md
§6.4, §10.4): conv<g>_<i> + relu<g>_<i>, pool1..pool5, fc6 (3x3 conv, pad 6, dilate 6) + relu6,
fc7 (1x1 conv) + relu7. Conventions that bite:
  * pool3 uses pooling_convention='full' (ceil): 75 -> 38 at 300, 128 -> 64 at 512;
  * pool5 is max 3x3, stride 1, pad 1 (keeps 19x19);
  * the ImageNet classifier tail (global_pool, fc8, an unnamed Flatten, SoftmaxOutput 'softmax')
    is built but never reaches an SSD graph; it is kept because its unnamed Flatten advances the
    automatic name counter (flatten0), which the SSD heads' names depend on.
"""
from ssdref.model.symbol_api import symbol_module

# (group, filters, convs in group); every conv is 3x3, pad 1, followed by a relu.
_CONV_GROUPS = ((1, 64, 2), (2, 128, 2), (3, 256, 3), (4, 512, 3), (5, 512, 3))


def get_symbol(num_classes=1000, *, mx=None, **kwargs):
    """The VGG16-reduced symbol (ending in the unused classifier 'softmax'); kwargs are ignored."""
    mx = symbol_module(mx)
    net = mx.symbol.Variable(name="data")
    # (The example also makes an unused Variable('label') here; it reaches no graph.)
    for group, num_filter, num_convs in _CONV_GROUPS:
        for i in range(1, num_convs + 1):
            net = mx.symbol.Convolution(data=net, kernel=(3, 3), pad=(1, 1), num_filter=num_filter,
                                        name="conv%d_%d" % (group, i))
            net = mx.symbol.Activation(data=net, act_type="relu", name="relu%d_%d" % (group, i))
        if group == 3:
            # ceil mode, so odd sizes keep their last row/column (75 -> 38 at SSD300)
            net = mx.symbol.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                                    pooling_convention="full", name="pool3")
        elif group == 5:
            net = mx.symbol.Pooling(data=net, pool_type="max", kernel=(3, 3), stride=(1, 1),
                                    pad=(1, 1), name="pool5")
        else:
            net = mx.symbol.Pooling(data=net, pool_type="max", kernel=(2, 2), stride=(2, 2),
                                    name="pool%d" % group)
    # fc6/fc7: the reduced VGG's fully connected layers as (dilated) convolutions, no dropout.
    net = mx.symbol.Convolution(data=net, kernel=(3, 3), pad=(6, 6), dilate=(6, 6),
                                num_filter=1024, name="fc6")
    net = mx.symbol.Activation(data=net, act_type="relu", name="relu6")
    net = mx.symbol.Convolution(data=net, kernel=(1, 1), pad=(0, 0), num_filter=1024, name="fc7")
    net = mx.symbol.Activation(data=net, act_type="relu", name="relu7")

    net = mx.symbol.Pooling(data=net, pool_type="avg", kernel=(7, 7), global_pool=True,
                            name="global_pool")
    net = mx.symbol.Convolution(data=net, num_filter=num_classes, kernel=(1, 1), name="fc8")
    net = mx.symbol.Flatten(data=net)
    return mx.symbol.SoftmaxOutput(data=net, name="softmax")
