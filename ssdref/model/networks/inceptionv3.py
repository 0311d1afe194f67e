"""Inception-v3, as MXNet example/ssd/symbol/inceptionv3.py (tag 1.9.1).

Mirrors: example/ssd/symbol/inceptionv3.py. SSD takes its features from the block concatenations
`ch_concat_mixed_7_chconcat` and `ch_concat_mixed_10_chconcat` (spec mxnet-semantics.md §6.3).
Conventions that bite (spec mxnet-layers.md §1):
  * every conv is bias-free and followed by BatchNorm with all defaults (eps 1e-3, momentum 0.9,
    fix_gamma=True, so gamma stays 1) and a relu: `<name><suffix>_conv2d/_batchnorm/_relu`;
  * the in-block avg pools use the default count_include_pad=True (borders divided by 9);
  * pooling layers are named `<pool>_pool_<block>_pool` (e.g. `avg_pool_mixed_pool`).
"""
from ssdref.model.symbol_api import symbol_module


def Conv(data, num_filter, kernel=(1, 1), stride=(1, 1), pad=(0, 0), name=None, suffix="", *,
         mx=None):
    """Convolution (no bias) + BatchNorm (fix_gamma) + relu, named '<name><suffix>_{conv2d,batchnorm,relu}'."""
    mx = symbol_module(mx)
    conv = mx.sym.Convolution(data=data, num_filter=num_filter, kernel=kernel, stride=stride,
                              pad=pad, no_bias=True, name="%s%s_conv2d" % (name, suffix))
    bn = mx.sym.BatchNorm(data=conv, name="%s%s_batchnorm" % (name, suffix), fix_gamma=True)
    return mx.sym.Activation(data=bn, act_type="relu", name="%s%s_relu" % (name, suffix))


def _pool(data, pool, name, mx, stride=(1, 1), pad=(1, 1)):
    return mx.sym.Pooling(data=data, kernel=(3, 3), stride=stride, pad=pad, pool_type=pool,
                          name="%s_pool_%s_pool" % (pool, name))


def Inception7A(data, num_1x1, num_3x3_red, num_3x3_1, num_3x3_2, num_5x5_red, num_5x5, pool, proj,
                name, *, mx=None):
    """35x35 block: 1x1 | 1x1-5x5 | 1x1-3x3-3x3 | pool-1x1, concatenated on channels."""
    mx = symbol_module(mx)
    tower_1x1 = Conv(data, num_1x1, name="%s_conv" % name, mx=mx)
    tower_5x5 = Conv(data, num_5x5_red, name="%s_tower" % name, suffix="_conv", mx=mx)
    tower_5x5 = Conv(tower_5x5, num_5x5, kernel=(5, 5), pad=(2, 2), name="%s_tower" % name,
                     suffix="_conv_1", mx=mx)
    tower_3x3 = Conv(data, num_3x3_red, name="%s_tower_1" % name, suffix="_conv", mx=mx)
    tower_3x3 = Conv(tower_3x3, num_3x3_1, kernel=(3, 3), pad=(1, 1), name="%s_tower_1" % name,
                     suffix="_conv_1", mx=mx)
    tower_3x3 = Conv(tower_3x3, num_3x3_2, kernel=(3, 3), pad=(1, 1), name="%s_tower_1" % name,
                     suffix="_conv_2", mx=mx)
    pooling = _pool(data, pool, name, mx)
    cproj = Conv(pooling, proj, name="%s_tower_2" % name, suffix="_conv", mx=mx)
    return mx.sym.Concat(*[tower_1x1, tower_5x5, tower_3x3, cproj],
                         name="ch_concat_%s_chconcat" % name)


def Inception7B(data, num_3x3, num_d3x3_red, num_d3x3_1, num_d3x3_2, pool, name, *, mx=None):
    """First grid reduction (35 -> 17): 3x3/2 | 1x1-3x3-3x3/2 | max pool 3x3/2."""
    mx = symbol_module(mx)
    tower_3x3 = Conv(data, num_3x3, kernel=(3, 3), pad=(0, 0), stride=(2, 2),
                     name="%s_conv" % name, mx=mx)
    tower_d3x3 = Conv(data, num_d3x3_red, name="%s_tower" % name, suffix="_conv", mx=mx)
    tower_d3x3 = Conv(tower_d3x3, num_d3x3_1, kernel=(3, 3), pad=(1, 1), stride=(1, 1),
                      name="%s_tower" % name, suffix="_conv_1", mx=mx)
    tower_d3x3 = Conv(tower_d3x3, num_d3x3_2, kernel=(3, 3), pad=(0, 0), stride=(2, 2),
                      name="%s_tower" % name, suffix="_conv_2", mx=mx)
    pooling = mx.symbol.Pooling(data=data, kernel=(3, 3), stride=(2, 2), pad=(0, 0),
                                pool_type="max", name="max_pool_%s_pool" % name)
    return mx.sym.Concat(*[tower_3x3, tower_d3x3, pooling], name="ch_concat_%s_chconcat" % name)


def Inception7C(data, num_1x1, num_d7_red, num_d7_1, num_d7_2, num_q7_red, num_q7_1, num_q7_2,
                num_q7_3, num_q7_4, pool, proj, name, *, mx=None):
    """17x17 block with factorized 7x7 convolutions (1x7 then 7x1)."""
    mx = symbol_module(mx)
    tower_1x1 = Conv(data=data, num_filter=num_1x1, kernel=(1, 1), name="%s_conv" % name, mx=mx)
    tower_d7 = Conv(data=data, num_filter=num_d7_red, name="%s_tower" % name, suffix="_conv",
                    mx=mx)
    tower_d7 = Conv(data=tower_d7, num_filter=num_d7_1, kernel=(1, 7), pad=(0, 3),
                    name="%s_tower" % name, suffix="_conv_1", mx=mx)
    tower_d7 = Conv(data=tower_d7, num_filter=num_d7_2, kernel=(7, 1), pad=(3, 0),
                    name="%s_tower" % name, suffix="_conv_2", mx=mx)
    tower_q7 = Conv(data=data, num_filter=num_q7_red, name="%s_tower_1" % name, suffix="_conv",
                    mx=mx)
    for i, (filters, kernel, pad) in enumerate(
            [(num_q7_1, (7, 1), (3, 0)), (num_q7_2, (1, 7), (0, 3)), (num_q7_3, (7, 1), (3, 0)),
             (num_q7_4, (1, 7), (0, 3))], start=1):
        tower_q7 = Conv(data=tower_q7, num_filter=filters, kernel=kernel, pad=pad,
                        name="%s_tower_1" % name, suffix="_conv_%d" % i, mx=mx)
    pooling = _pool(data, pool, name, mx)
    cproj = Conv(data=pooling, num_filter=proj, kernel=(1, 1), name="%s_tower_2" % name,
                 suffix="_conv", mx=mx)
    return mx.sym.Concat(*[tower_1x1, tower_d7, tower_q7, cproj],
                         name="ch_concat_%s_chconcat" % name)


def Inception7D(data, num_3x3_red, num_3x3, num_d7_3x3_red, num_d7_1, num_d7_2, num_d7_3x3, pool,
                name, *, mx=None):
    """Second grid reduction (17 -> 8)."""
    mx = symbol_module(mx)
    tower_3x3 = Conv(data=data, num_filter=num_3x3_red, name="%s_tower" % name, suffix="_conv",
                     mx=mx)
    tower_3x3 = Conv(data=tower_3x3, num_filter=num_3x3, kernel=(3, 3), pad=(0, 0), stride=(2, 2),
                     name="%s_tower" % name, suffix="_conv_1", mx=mx)
    tower_d7_3x3 = Conv(data=data, num_filter=num_d7_3x3_red, name="%s_tower_1" % name,
                        suffix="_conv", mx=mx)
    tower_d7_3x3 = Conv(data=tower_d7_3x3, num_filter=num_d7_1, kernel=(1, 7), pad=(0, 3),
                        name="%s_tower_1" % name, suffix="_conv_1", mx=mx)
    tower_d7_3x3 = Conv(data=tower_d7_3x3, num_filter=num_d7_2, kernel=(7, 1), pad=(3, 0),
                        name="%s_tower_1" % name, suffix="_conv_2", mx=mx)
    tower_d7_3x3 = Conv(data=tower_d7_3x3, num_filter=num_d7_3x3, kernel=(3, 3), stride=(2, 2),
                        name="%s_tower_1" % name, suffix="_conv_3", mx=mx)
    # no pad argument here: the JSON of this pool has no 'pad' attribute
    pooling = mx.sym.Pooling(data=data, kernel=(3, 3), stride=(2, 2), pool_type=pool,
                             name="%s_pool_%s_pool" % (pool, name))
    return mx.sym.Concat(*[tower_3x3, tower_d7_3x3, pooling], name="ch_concat_%s_chconcat" % name)


def Inception7E(data, num_1x1, num_d3_red, num_d3_1, num_d3_2, num_3x3_d3_red, num_3x3,
                num_3x3_d3_1, num_3x3_d3_2, pool, proj, name, *, mx=None):
    """8x8 block with expanded 1x3 / 3x1 branches."""
    mx = symbol_module(mx)
    tower_1x1 = Conv(data=data, num_filter=num_1x1, kernel=(1, 1), name="%s_conv" % name, mx=mx)
    tower_d3 = Conv(data=data, num_filter=num_d3_red, name="%s_tower" % name, suffix="_conv",
                    mx=mx)
    tower_d3_a = Conv(data=tower_d3, num_filter=num_d3_1, kernel=(1, 3), pad=(0, 1),
                      name="%s_tower" % name, suffix="_mixed_conv", mx=mx)
    tower_d3_b = Conv(data=tower_d3, num_filter=num_d3_2, kernel=(3, 1), pad=(1, 0),
                      name="%s_tower" % name, suffix="_mixed_conv_1", mx=mx)
    tower_3x3_d3 = Conv(data=data, num_filter=num_3x3_d3_red, name="%s_tower_1" % name,
                        suffix="_conv", mx=mx)
    tower_3x3_d3 = Conv(data=tower_3x3_d3, num_filter=num_3x3, kernel=(3, 3), pad=(1, 1),
                        name="%s_tower_1" % name, suffix="_conv_1", mx=mx)
    tower_3x3_d3_a = Conv(data=tower_3x3_d3, num_filter=num_3x3_d3_1, kernel=(1, 3), pad=(0, 1),
                          name="%s_tower_1" % name, suffix="_mixed_conv", mx=mx)
    tower_3x3_d3_b = Conv(data=tower_3x3_d3, num_filter=num_3x3_d3_2, kernel=(3, 1), pad=(1, 0),
                          name="%s_tower_1" % name, suffix="_mixed_conv_1", mx=mx)
    pooling = _pool(data, pool, name, mx)
    cproj = Conv(data=pooling, num_filter=proj, kernel=(1, 1), name="%s_tower_2" % name,
                 suffix="_conv", mx=mx)
    return mx.sym.Concat(*[tower_1x1, tower_d3_a, tower_d3_b, tower_3x3_d3_a, tower_3x3_d3_b,
                           cproj], name="ch_concat_%s_chconcat" % name)


def get_symbol(num_classes=1000, *, mx=None, **kwargs):
    """Inception-v3 ending in SoftmaxOutput 'softmax' (unused by SSD); kwargs are ignored."""
    mx = symbol_module(mx)
    data = mx.symbol.Variable(name="data")
    # stage 1
    conv = Conv(data, 32, kernel=(3, 3), stride=(2, 2), name="conv", mx=mx)
    conv_1 = Conv(conv, 32, kernel=(3, 3), name="conv_1", mx=mx)
    conv_2 = Conv(conv_1, 64, kernel=(3, 3), pad=(1, 1), name="conv_2", mx=mx)
    pool = mx.sym.Pooling(data=conv_2, kernel=(3, 3), stride=(2, 2), pool_type="max", name="pool")
    # stage 2
    conv_3 = Conv(pool, 80, kernel=(1, 1), name="conv_3", mx=mx)
    conv_4 = Conv(conv_3, 192, kernel=(3, 3), name="conv_4", mx=mx)
    pool1 = mx.sym.Pooling(data=conv_4, kernel=(3, 3), stride=(2, 2), pool_type="max",
                           name="pool1")
    # stage 3
    net = Inception7A(pool1, 64, 64, 96, 96, 48, 64, "avg", 32, "mixed", mx=mx)
    net = Inception7A(net, 64, 64, 96, 96, 48, 64, "avg", 64, "mixed_1", mx=mx)
    net = Inception7A(net, 64, 64, 96, 96, 48, 64, "avg", 64, "mixed_2", mx=mx)
    net = Inception7B(net, 384, 64, 96, 96, "max", "mixed_3", mx=mx)
    # stage 4
    net = Inception7C(net, 192, 128, 128, 192, 128, 128, 128, 128, 192, "avg", 192, "mixed_4",
                      mx=mx)
    for name in ("mixed_5", "mixed_6"):
        net = Inception7C(net, 192, 160, 160, 192, 160, 160, 160, 160, 192, "avg", 192, name,
                          mx=mx)
    net = Inception7C(net, 192, 192, 192, 192, 192, 192, 192, 192, 192, "avg", 192, "mixed_7",
                      mx=mx)
    net = Inception7D(net, 192, 320, 192, 192, 192, 192, "max", "mixed_8", mx=mx)
    # stage 5
    net = Inception7E(net, 320, 384, 384, 384, 448, 384, 384, 384, "avg", 192, "mixed_9", mx=mx)
    net = Inception7E(net, 320, 384, 384, 384, 448, 384, 384, 384, "max", 192, "mixed_10", mx=mx)
    # classifier (never reaches an SSD graph)
    pool = mx.sym.Pooling(data=net, kernel=(8, 8), stride=(1, 1), pool_type="avg",
                          name="global_pool")
    flatten = mx.sym.Flatten(data=pool, name="flatten")
    fc1 = mx.symbol.FullyConnected(data=flatten, num_hidden=num_classes, name="fc1")
    return mx.symbol.SoftmaxOutput(data=fc1, name="softmax")
