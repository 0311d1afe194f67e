"""SSD train and deploy symbols, as MXNet example/ssd/symbol/symbol_builder.py (tag 1.9.1).

Mirrors: example/ssd/symbol/symbol_builder.py, same signatures as the seed
(../shared/seed/symbol_builder.py). Graph (spec mxnet-semantics.md §10.3):
    body -> multi_layer_feature -> multibox_layer -> loc_preds (B,4N), cls_preds (B,C+1,N), anchors (1,N,4)
    train: MultiBoxTarget 'multibox_target' -> SoftmaxOutput 'cls_prob' (ignore -1, 'valid'),
           smooth_l1 'loc_loss_' (sigma 1) of mask*(loc_preds - loc_target) -> MakeLoss 'loc_loss',
           MakeLoss 'cls_label' (grad_scale 0), MultiBoxDetection 'detection' -> MakeLoss 'det_out';
           outputs [cls_prob, loc_loss, cls_label, det_out].
    deploy: softmax(axis=1) 'cls_prob' -> MultiBoxDetection 'detection'.
Conventions that bite:
  * `num_filters` is passed on as multibox_layer's num_channels and loses one entry per
    normalized layer (MXNet's pop(0) quirk): the caller's list is mutated, as in MXNet.
  * The deploy graph: MXNet 1.9.1's example uses `softmax(axis=1)`; the seed file uses the older
    `SoftmaxActivation(mode='channel')`. Both compute the same channel softmax; ours follows the
    1.9.1 example (op `softmax`, node 'cls_prob'), the seed run through `seed.load_seed_builder`
    keeps its own SoftmaxActivation.
  * `mx=None` picks the symbol module (ssdref unless `using_symbol_module`); pass real mxnet to
    build the identical graph there.
"""
import importlib

from ssdref.model.common import multi_layer_feature, multibox_layer
from ssdref.model.symbol_api import symbol_module

__all__ = ["get_symbol", "get_symbol_train", "import_module"]


def import_module(module_name):
    """A base network module by the example's name ('vgg16_reduced', 'resnet', 'inceptionv3',
    'tiny'); any other name is imported as given."""
    try:
        return importlib.import_module("ssdref.model.networks." + module_name)
    except ModuleNotFoundError as error:
        if error.name != "ssdref.model.networks." + module_name:
            raise
    return importlib.import_module(module_name)


def _heads(mx, network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
           normalizations, steps, min_filter, kwargs):
    body = import_module(network).get_symbol(num_classes, mx=mx, **kwargs)
    layers = multi_layer_feature(body, from_layers, num_filters, strides, pads,
                                 min_filter=min_filter, mx=mx)
    return multibox_layer(layers, num_classes, sizes=sizes, ratios=ratios,
                          normalization=normalizations, num_channels=num_filters, clip=False,
                          interm_layer=0, steps=steps, mx=mx)


def get_symbol_train(network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
                     normalizations=-1, steps=[], min_filter=128, nms_thresh=0.5,
                     force_suppress=False, nms_topk=400, *, mx=None, **kwargs):
    """The SSD training symbol: Group([cls_prob, loc_loss, cls_label, det_out]).

    Inputs `data` (B,3,S,S) and `label` (B,M,5+) rows [cls, xmin, ymin, xmax, ymax] (cls -1 pads).
    Outputs cls_prob (B,C+1,N), loc_loss (B,4N), cls_label (B,N), det_out (B,N,6).
    kwargs go to the base network's get_symbol (e.g. num_layers, image_shape for resnet).
    """
    mx = symbol_module(mx)
    label = mx.sym.Variable("label")
    loc_preds, cls_preds, anchor_boxes = _heads(
        mx, network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
        normalizations, steps, min_filter, kwargs)

    target = mx.symbol.contrib.MultiBoxTarget(
        *[anchor_boxes, label, cls_preds], overlap_threshold=.5, ignore_label=-1,
        negative_mining_ratio=3, minimum_negative_samples=0, negative_mining_thresh=.5,
        variances=(0.1, 0.1, 0.2, 0.2), name="multibox_target")
    loc_target, loc_target_mask, cls_target = target[0], target[1], target[2]

    cls_prob = mx.symbol.SoftmaxOutput(data=cls_preds, label=cls_target, ignore_label=-1,
                                       use_ignore=True, grad_scale=1., multi_output=True,
                                       normalization="valid", name="cls_prob")
    # `mask * (pred - target)` makes the automatic nodes _minus0 and _mul0, as in MXNet.
    loc_loss_ = mx.symbol.smooth_l1(name="loc_loss_",
                                    data=loc_target_mask * (loc_preds - loc_target), scalar=1.0)
    loc_loss = mx.symbol.MakeLoss(loc_loss_, grad_scale=1., normalization="valid",
                                  name="loc_loss")
    # monitoring outputs: no gradient
    cls_label = mx.symbol.MakeLoss(data=cls_target, grad_scale=0, name="cls_label")
    det = mx.symbol.contrib.MultiBoxDetection(
        *[cls_prob, loc_preds, anchor_boxes], name="detection", nms_threshold=nms_thresh,
        force_suppress=force_suppress, variances=(0.1, 0.1, 0.2, 0.2), nms_topk=nms_topk)
    det = mx.symbol.MakeLoss(data=det, grad_scale=0, name="det_out")
    return mx.symbol.Group([cls_prob, loc_loss, cls_label, det])


def get_symbol(network, num_classes, from_layers, num_filters, sizes, ratios, strides, pads,
               normalizations=-1, steps=[], min_filter=128, nms_thresh=0.5, force_suppress=False,
               nms_topk=400, *, mx=None, **kwargs):
    """The SSD deploy symbol: `detection` (B,N,6) rows [cls_id, score, xmin, ymin, xmax, ymax].

    Note the seed's argument order here: sizes and ratios come before strides and pads.
    """
    mx = symbol_module(mx)
    loc_preds, cls_preds, anchor_boxes = _heads(
        mx, network, num_classes, from_layers, num_filters, strides, pads, sizes, ratios,
        normalizations, steps, min_filter, kwargs)
    cls_prob = mx.symbol.softmax(data=cls_preds, axis=1, name="cls_prob")
    return mx.symbol.contrib.MultiBoxDetection(
        *[cls_prob, loc_preds, anchor_boxes], name="detection", nms_threshold=nms_thresh,
        force_suppress=force_suppress, variances=(0.1, 0.1, 0.2, 0.2), nms_topk=nms_topk)
