"""SSD's extra feature layers and multibox heads, as MXNet example/ssd/symbol/common.py (tag 1.9.1).

Mirrors: example/ssd/symbol/common.py (conv_act_layer, legacy_conv_act_layer, multi_layer_feature,
multibox_layer). Same layer names, parameter names, attributes and call order, so list_arguments(),
get_internals() and tojson() agree with MXNet's (spec mxnet-semantics.md §6, §10). Quirks kept:
  * `num_channels.pop(0)`: the j-th *normalized* layer takes the first remaining entry of the list
    passed in, and the caller's list is mutated (the seed passes its own `num_filters`).
  * sizes and ratios reach MultiBoxPrior as strings built with `str()` of each number,
    steps as the tuple `(s, s)` or the string '(-1.0, -1.0)'.
  * unnamed transpose/Flatten/Concat/Reshape ops take automatic names (`transpose0`, `concat0`...).
  * a flat `[min, max]` sizes pair takes the example's linspace path, which fails on Python 3;
    here it raises a TypeError that says so.
Every function takes `mx=None`: the module providing `sym`/`init` (ssdref unless
`symbol_api.using_symbol_module` says otherwise); pass real `mxnet` to build the same graph there.
"""
from ssdref.model.symbol_api import symbol_module

__all__ = ["conv_act_layer", "legacy_conv_act_layer", "multi_layer_feature", "multibox_layer"]


def conv_act_layer(from_layer, name, num_filter, kernel=(1, 1), pad=(0, 0), stride=(1, 1),
                   act_type="relu", use_batchnorm=False, *, mx=None):
    """Convolution `<name>_conv` (automatic weight and bias), optional BatchNorm `<name>_bn`,
    Activation `<name>_<act_type>`; returns the activation symbol."""
    mx = symbol_module(mx)
    conv = mx.symbol.Convolution(data=from_layer, kernel=kernel, pad=pad, stride=stride,
                                 num_filter=num_filter, name="{}_conv".format(name))
    if use_batchnorm:
        conv = mx.symbol.BatchNorm(data=conv, name="{}_bn".format(name))
    return mx.symbol.Activation(data=conv, act_type=act_type, name="{}_{}".format(name, act_type))


def legacy_conv_act_layer(from_layer, name, num_filter, kernel=(1, 1), pad=(0, 0), stride=(1, 1),
                          act_type="relu", use_batchnorm=False, *, mx=None):
    """The legacy_vgg16_ssd_* helper: conv `conv<name>` with an explicit bias `conv<name>_bias`
    (Constant(0.0), lr_mult 2), activation `<act_type><name>`; returns (conv, activation)."""
    if use_batchnorm:
        raise ValueError("legacy_conv_act_layer: use_batchnorm must be False (the example never "
                         "supported it), got True")
    mx = symbol_module(mx)
    bias = mx.symbol.Variable(name="conv{}_bias".format(name), init=mx.init.Constant(0.0),
                              attr={"__lr_mult__": "2.0"})
    conv = mx.symbol.Convolution(data=from_layer, bias=bias, kernel=kernel, pad=pad, stride=stride,
                                 num_filter=num_filter, name="conv{}".format(name))
    relu = mx.symbol.Activation(data=conv, act_type=act_type, name="{}{}".format(act_type, name))
    return conv, relu


def multi_layer_feature(body, from_layers, num_filters, strides, pads, min_filter=128, *, mx=None):
    """The feature maps SSD predicts from: named internals of `body`, then extra conv layers.

    from_layers[k] = '<layer>' takes `body.get_internals()['<layer>_output']`; '' appends
    `multi_feat_<k>_conv_1x1` (1x1, max(min_filter, num_filters[k] // 2) filters) and
    `multi_feat_<k>_conv_3x3` (3x3, num_filters[k] filters, pad pads[k], stride strides[k]), each
    conv + relu, on the previous feature. k counts over the whole list (SSD300's first extra is k=2).
    """
    if len(from_layers) == 0:
        raise ValueError("multi_layer_feature: from_layers must not be empty, got []")
    if not (isinstance(from_layers[0], str) and from_layers[0].strip()):
        raise ValueError("multi_layer_feature: from_layers[0] must name a layer of the body, "
                         f"got {from_layers[0]!r}")
    if not len(from_layers) == len(num_filters) == len(strides) == len(pads):
        raise ValueError("multi_layer_feature: from_layers, num_filters, strides and pads must have "
                         f"equal lengths, got {len(from_layers)}, {len(num_filters)}, "
                         f"{len(strides)}, {len(pads)}")
    internals = body.get_internals()
    layers = []
    for k, (from_layer, num_filter, stride, pad) in enumerate(
            zip(from_layers, num_filters, strides, pads)):
        if from_layer.strip():
            layers.append(internals[from_layer.strip() + "_output"])
            continue
        if num_filter <= 0:
            raise ValueError(f"multi_layer_feature: num_filters[{k}] must be > 0 for an extra "
                             f"layer, got {num_filter}")
        # The 1x1 bottleneck halves the channels but never below min_filter (SSD300: 256 -> 128).
        num_1x1 = max(min_filter, num_filter // 2)
        conv_1x1 = conv_act_layer(layers[-1], "multi_feat_%d_conv_1x1" % k, num_1x1,
                                  kernel=(1, 1), pad=(0, 0), stride=(1, 1), act_type="relu", mx=mx)
        conv_3x3 = conv_act_layer(conv_1x1, "multi_feat_%d_conv_3x3" % k, num_filter,
                                  kernel=(3, 3), pad=(pad, pad), stride=(stride, stride),
                                  act_type="relu", mx=mx)
        layers.append(conv_3x3)
    return layers


def _per_layer_sizes(sizes, num_layers):
    """sizes as a list of per-layer lists; a flat [min, max] pair fails as on Python 3."""
    if len(sizes) == 0:
        raise ValueError("multibox_layer: sizes must not be empty, got []")
    if len(sizes) == 2 and not isinstance(sizes[0], list):
        # MXNet's example expands the pair with linspace, then calls len() on a zip object:
        # a TypeError on Python 3, so no configuration can use this path.
        raise TypeError("multibox_layer: sizes as a flat [min, max] pair is not supported (MXNet "
                        "example/ssd's linspace path calls len() on a zip and fails on Python 3); "
                        f"pass one [size, ...] list per layer, got {sizes!r}")
    if len(sizes) != num_layers:
        raise ValueError(f"multibox_layer: sizes must have one entry per layer ({num_layers}), "
                         f"got {len(sizes)}")
    return sizes


def multibox_layer(from_layers, num_classes, sizes=[.2, .95], ratios=[1], normalization=-1,
                   num_channels=[], clip=False, interm_layer=0, steps=[], *, mx=None):
    """Per-feature loc/cls heads and anchors, concatenated: returns [loc_preds, cls_preds, anchor_boxes].

    Shapes (B batch, N = sum over layers of H_k*W_k*A_k, A_k = len(sizes[k]) - 1 + len(ratios[k])):
    loc_preds (B, 4N) `multibox_loc_pred`; cls_preds (B, num_classes+1, N) `multibox_cls_pred`;
    anchor_boxes (1, N, 4) `multibox_anchors`. Anchor index is layer-major, then (y, x, a).
    num_channels is mutated: one entry popped per layer with normalization > 0 (MXNet's quirk).
    """
    mx = symbol_module(mx)
    num_layers = len(from_layers)
    if num_layers == 0:
        raise ValueError("multibox_layer: from_layers must not be empty, got []")
    if not num_classes > 0:
        raise ValueError(f"multibox_layer: num_classes must be > 0, got {num_classes}")
    if len(ratios) == 0:
        raise ValueError("multibox_layer: ratios must not be empty, got []")
    if not isinstance(ratios[0], list):
        ratios = [ratios] * num_layers  # one ratio list shared by every layer
    if len(ratios) != num_layers:
        raise ValueError(f"multibox_layer: ratios must have one entry per layer ({num_layers}), "
                         f"got {len(ratios)}")
    sizes = _per_layer_sizes(sizes, num_layers)
    if not isinstance(normalization, list):
        normalization = [normalization] * num_layers
    if len(normalization) != num_layers:
        raise ValueError(f"multibox_layer: normalization must have one entry per layer "
                         f"({num_layers}), got {len(normalization)}")
    num_normalized = sum(value > 0 for value in normalization)
    if num_normalized > len(num_channels):
        raise ValueError(f"multibox_layer: num_channels must give a channel count for each of the "
                         f"{num_normalized} normalized layers, got {list(num_channels)!r}")
    if steps and len(steps) != num_layers:
        raise ValueError(f"multibox_layer: steps must have one entry per layer ({num_layers}) or "
                         f"be empty, got {len(steps)}")

    loc_pred_layers, cls_pred_layers, anchor_layers = [], [], []
    num_classes += 1  # class 0 is background
    for k, from_layer in enumerate(from_layers):
        from_name = from_layer.name
        if normalization[k] > 0:
            from_layer = mx.symbol.L2Normalization(data=from_layer, mode="channel",
                                                   name="{}_norm".format(from_name))
            # MXNet's quirk: the first *remaining* entry, not num_channels[k]; mutates the list.
            scale = mx.symbol.Variable(name="{}_scale".format(from_name),
                                       shape=(1, num_channels.pop(0), 1, 1),
                                       init=mx.init.Constant(normalization[k]),
                                       attr={"__wd_mult__": "0.1"})
            # lhs=scale puts `<src>_scale` before `data` in list_arguments().
            from_layer = mx.symbol.broadcast_mul(lhs=scale, rhs=from_layer)
        if interm_layer > 0:
            from_layer = mx.symbol.Convolution(data=from_layer, kernel=(3, 3), stride=(1, 1),
                                               pad=(1, 1), num_filter=interm_layer,
                                               name="{}_inter_conv".format(from_name))
            from_layer = mx.symbol.Activation(data=from_layer, act_type="relu",
                                              name="{}_inter_relu".format(from_name))

        size, ratio = sizes[k], ratios[k]
        if len(size) == 0 or len(ratio) == 0:
            raise ValueError(f"multibox_layer: layer {k} needs at least one size and one ratio, "
                             f"got sizes {size!r}, ratios {ratio!r}")
        # MultiBoxPrior gets the tuples as strings of str(float): '(0.1,0.141)', '(1,2,0.5)'.
        size_str = "(" + ",".join(str(x) for x in size) + ")"
        ratio_str = "(" + ",".join(str(x) for x in ratio) + ")"
        num_anchors = len(size) - 1 + len(ratio)

        # loc head: channel a*4 + j is coordinate j of anchor slot a.
        bias = mx.symbol.Variable(name="{}_loc_pred_conv_bias".format(from_name),
                                  init=mx.init.Constant(0.0), attr={"__lr_mult__": "2.0"})
        loc_pred = mx.symbol.Convolution(data=from_layer, bias=bias, kernel=(3, 3), stride=(1, 1),
                                         pad=(1, 1), num_filter=num_anchors * 4,
                                         name="{}_loc_pred_conv".format(from_name))
        loc_pred = mx.symbol.transpose(loc_pred, axes=(0, 2, 3, 1))  # (B, H, W, 4A)
        loc_pred_layers.append(mx.symbol.Flatten(data=loc_pred))

        # cls head: channel a*(C+1) + c is class c of anchor slot a.
        bias = mx.symbol.Variable(name="{}_cls_pred_conv_bias".format(from_name),
                                  init=mx.init.Constant(0.0), attr={"__lr_mult__": "2.0"})
        cls_pred = mx.symbol.Convolution(data=from_layer, bias=bias, kernel=(3, 3), stride=(1, 1),
                                         pad=(1, 1), num_filter=num_anchors * num_classes,
                                         name="{}_cls_pred_conv".format(from_name))
        cls_pred = mx.symbol.transpose(cls_pred, axes=(0, 2, 3, 1))  # (B, H, W, A(C+1))
        cls_pred_layers.append(mx.symbol.Flatten(data=cls_pred))

        step = (steps[k], steps[k]) if steps else "(-1.0, -1.0)"
        anchors = mx.symbol.contrib.MultiBoxPrior(from_layer, sizes=size_str, ratios=ratio_str,
                                                  clip=clip, name="{}_anchors".format(from_name),
                                                  steps=step)
        anchor_layers.append(mx.symbol.Flatten(data=anchors))

    loc_preds = mx.symbol.Concat(*loc_pred_layers, num_args=len(loc_pred_layers), dim=1,
                                 name="multibox_loc_pred")
    cls_preds = mx.symbol.Concat(*cls_pred_layers, num_args=len(cls_pred_layers), dim=1)
    cls_preds = mx.symbol.Reshape(data=cls_preds, shape=(0, -1, num_classes))  # (B, N, C+1)
    cls_preds = mx.symbol.transpose(cls_preds, axes=(0, 2, 1), name="multibox_cls_pred")
    anchor_boxes = mx.symbol.Concat(*anchor_layers, num_args=len(anchor_layers), dim=1)
    anchor_boxes = mx.symbol.Reshape(data=anchor_boxes, shape=(0, -1, 4), name="multibox_anchors")
    return [loc_preds, cls_preds, anchor_boxes]
