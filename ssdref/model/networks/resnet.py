"""Pre-activation ResNet (v2), as MXNet example/ssd/symbol/resnet.py (tag 1.9.1).

Mirrors: example/ssd/symbol/resnet.py (after tornadomeet/ResNet). SSD takes its features from the
residual sums, whose automatic names are `_plus<n>` (`conv + shortcut` is elemwise_add): resnet50
uses `_plus12` and `_plus15`, resnet101 `_plus29` and `_plus32` (spec mxnet-semantics.md §6.3).
Conventions that bite:
  * the input passes `identity` ('id', JSON op `_copy`) and BatchNorm 'bn_data' with fix_gamma=True;
  * every other BatchNorm has fix_gamma=False, eps=2e-5, momentum=0.9;
  * convolutions have no bias and pass workspace=256 (ignored on CPU, but kept in the JSON);
  * the stem's max pooling and the classifier's Flatten are unnamed (`pooling0`, `flatten0`).
"""
from ssdref.model.symbol_api import symbol_module

_UNITS_IMAGENET = {18: [2, 2, 2, 2], 34: [3, 4, 6, 3], 50: [3, 4, 6, 3], 101: [3, 4, 23, 3],
                   152: [3, 8, 36, 3], 200: [3, 24, 36, 3], 269: [3, 30, 48, 8]}


def residual_unit(data, num_filter, stride, dim_match, name, bottle_neck=True, bn_mom=0.9,
                  workspace=256, *, mx=None):
    """One pre-activation unit: BN-relu-conv stacks plus a shortcut (identity or 1x1 conv `<name>_sc`)."""
    mx = symbol_module(mx)

    def bn_relu(x, i):
        x = mx.sym.BatchNorm(data=x, fix_gamma=False, eps=2e-5, momentum=bn_mom,
                             name=name + "_bn%d" % i)
        return mx.sym.Activation(data=x, act_type="relu", name=name + "_relu%d" % i)

    def conv(x, i, filters, kernel, conv_stride, pad):
        return mx.sym.Convolution(data=x, num_filter=filters, kernel=kernel, stride=conv_stride,
                                  pad=pad, no_bias=True, workspace=workspace,
                                  name=name + "_conv%d" % i)

    act1 = bn_relu(data, 1)
    if bottle_neck:
        # 1x1 reduce to num_filter/4, 3x3 (carries the stride), 1x1 expand back
        body = conv(act1, 1, int(num_filter * 0.25), (1, 1), (1, 1), (0, 0))
        body = conv(bn_relu(body, 2), 2, int(num_filter * 0.25), (3, 3), stride, (1, 1))
        body = conv(bn_relu(body, 3), 3, num_filter, (1, 1), (1, 1), (0, 0))
    else:
        body = conv(act1, 1, num_filter, (3, 3), stride, (1, 1))
        body = conv(bn_relu(body, 2), 2, num_filter, (3, 3), (1, 1), (1, 1))
    if dim_match:
        shortcut = data
    else:
        shortcut = mx.sym.Convolution(data=act1, num_filter=num_filter, kernel=(1, 1),
                                      stride=stride, no_bias=True, workspace=workspace,
                                      name=name + "_sc")
    return body + shortcut  # `_plus<n>`, the layers SSD takes its features from


def resnet(units, num_stages, filter_list, num_classes, image_shape, bottle_neck=True, bn_mom=0.9,
           workspace=256, *, mx=None):
    """The whole ResNet ending in SoftmaxOutput 'softmax' (the classifier never reaches SSD)."""
    mx = symbol_module(mx)
    if len(units) != num_stages:
        raise ValueError(f"resnet: units must have num_stages ({num_stages}) entries, got {units}")
    data = mx.sym.Variable(name="data")
    data = mx.sym.identity(data=data, name="id")
    data = mx.sym.BatchNorm(data=data, fix_gamma=True, eps=2e-5, momentum=bn_mom, name="bn_data")
    _, height, _ = image_shape
    if height <= 32:  # CIFAR-sized input: a single 3x3 stem
        body = mx.sym.Convolution(data=data, num_filter=filter_list[0], kernel=(3, 3),
                                  stride=(1, 1), pad=(1, 1), no_bias=True, name="conv0",
                                  workspace=workspace)
    else:  # ImageNet stem: 7x7/2 conv, BN, relu, 3x3/2 max pool
        body = mx.sym.Convolution(data=data, num_filter=filter_list[0], kernel=(7, 7),
                                  stride=(2, 2), pad=(3, 3), no_bias=True, name="conv0",
                                  workspace=workspace)
        body = mx.sym.BatchNorm(data=body, fix_gamma=False, eps=2e-5, momentum=bn_mom, name="bn0")
        body = mx.sym.Activation(data=body, act_type="relu", name="relu0")
        body = mx.symbol.Pooling(data=body, kernel=(3, 3), stride=(2, 2), pad=(1, 1),
                                 pool_type="max")
    for i in range(num_stages):
        first_stride = 1 if i == 0 else 2
        body = residual_unit(body, filter_list[i + 1], (first_stride, first_stride), False,
                             name="stage%d_unit%d" % (i + 1, 1), bottle_neck=bottle_neck,
                             workspace=workspace, mx=mx)
        for j in range(units[i] - 1):
            body = residual_unit(body, filter_list[i + 1], (1, 1), True,
                                 name="stage%d_unit%d" % (i + 1, j + 2), bottle_neck=bottle_neck,
                                 workspace=workspace, mx=mx)
    bn1 = mx.sym.BatchNorm(data=body, fix_gamma=False, eps=2e-5, momentum=bn_mom, name="bn1")
    relu1 = mx.sym.Activation(data=bn1, act_type="relu", name="relu1")
    # kernel is ignored with global_pool=True, but MXNet's example passes one (it shows in JSON)
    pool1 = mx.symbol.Pooling(data=relu1, global_pool=True, kernel=(7, 7), pool_type="avg",
                              name="pool1")
    flat = mx.symbol.Flatten(data=pool1)
    fc1 = mx.symbol.FullyConnected(data=flat, num_hidden=num_classes, name="fc1")
    return mx.symbol.SoftmaxOutput(data=fc1, name="softmax")


def get_symbol(num_classes, num_layers, image_shape, conv_workspace=256, *, mx=None, **kwargs):
    """ResNet-`num_layers` for `image_shape` ('3,224,224'); other kwargs (from the SSD config) ignored."""
    image_shape = [int(v) for v in image_shape.split(",")]
    _, height, _ = image_shape
    if height <= 28:
        num_stages = 3
        if (num_layers - 2) % 9 == 0 and num_layers >= 164:
            per_unit, filter_list, bottle_neck = (num_layers - 2) // 9, [16, 64, 128, 256], True
        elif (num_layers - 2) % 6 == 0 and num_layers < 164:
            per_unit, filter_list, bottle_neck = (num_layers - 2) // 6, [16, 16, 32, 64], False
        else:
            raise ValueError(f"resnet: num_layers {num_layers} has no CIFAR configuration")
        units = [per_unit] * num_stages
    else:
        if num_layers not in _UNITS_IMAGENET:
            raise ValueError(f"resnet: num_layers must be one of {sorted(_UNITS_IMAGENET)}, "
                             f"got {num_layers}")
        num_stages = 4
        units = _UNITS_IMAGENET[num_layers]
        if num_layers >= 50:
            filter_list, bottle_neck = [64, 256, 512, 1024, 2048], True
        else:
            filter_list, bottle_neck = [64, 64, 128, 256, 512], False
    return resnet(units=units, num_stages=num_stages, filter_list=filter_list,
                  num_classes=num_classes, image_shape=image_shape, bottle_neck=bottle_neck,
                  workspace=conv_workspace, mx=mx)
