"""The layer cases: every non-multibox op of the registry in seeded configurations, declared once.

One table, read by the golden set (`ssdref.golden`: each case in float32 and float64, forward and
backward, named `<op>_<tag>_<dtype>`, seeded by its index among the golden cases) and by the
float64 gradient checks (`ssdref gradcheck`, `ssdref.autograd.gradcheck_suite`). `uses` says which
reads a case: a configuration both need is declared once and read by both. A case's inputs are
seeded draws (`ssdref.cases.case.seeded_inputs`) of the `shapes` given (the rest inferred by the
op), labels drawn in [0 or -1, label_classes).
"""
from __future__ import annotations

from typing import NamedTuple

GOLDEN, GRADCHECK = "golden", "gradcheck"
BOTH = (GOLDEN, GRADCHECK)


class Layer(NamedTuple):
    op: str                       # registry (MXNet) operator name
    tag: str                      # the configuration's name within its op ('' for the only one)
    params: dict
    shapes: dict                  # shapes of the data-like inputs; the others inferred
    is_train: bool = True
    label_classes: int = 3        # SoftmaxOutput's labels: drawn in [-1 or 0, label_classes)
    uses: tuple = BOTH

    @property
    def name(self) -> str:
        return "_".join(p for p in (self.op.strip("_"), self.tag) if p)


def _ops(ops, tag, params, shapes, uses=BOTH):
    return tuple(Layer(op, tag, params, shapes, uses=uses) for op in ops)


LAYERS: tuple[Layer, ...] = (
    Layer("Convolution", "pad1", dict(kernel=(3, 3), pad=(1, 1), num_filter=3), {"data": (2, 2, 5, 5)}),
    Layer("Convolution", "stride2_dilate2_group2", dict(kernel=(3, 3), stride=(2, 2), dilate=(2, 2),
                                                        num_filter=4, num_group=2),
          {"data": (1, 4, 9, 8)}, uses=(GOLDEN,)),
    Layer("Convolution", "1x1_nobias", dict(kernel=(1, 1), num_filter=3, no_bias=True), {"data": (2, 3, 4, 4)},
          uses=(GOLDEN,)),
    Layer("Convolution", "stride2", dict(kernel=(3, 3), stride=(2, 2), num_filter=2), {"data": (1, 3, 7, 6)},
          uses=(GRADCHECK,)),
    Layer("Convolution", "pad2_dilate2", dict(kernel=(3, 3), pad=(2, 2), dilate=(2, 2), num_filter=2),
          {"data": (1, 2, 6, 6)}, uses=(GRADCHECK,)),
    Layer("Convolution", "1x3_group2_nobias", dict(kernel=(1, 3), num_filter=4, num_group=2, no_bias=True),
          {"data": (2, 4, 3, 5)}, uses=(GRADCHECK,)),
    Layer("Convolution", "1x1", dict(kernel=(1, 1), num_filter=3), {"data": (2, 3, 4, 4)}, uses=(GRADCHECK,)),
    Layer("Pooling", "max_valid", dict(kernel=(2, 2), stride=(2, 2), pool_type="max"), {"data": (1, 2, 4, 5)}),
    Layer("Pooling", "max_full", dict(kernel=(2, 2), stride=(2, 2), pool_type="max", pooling_convention="full"),
          {"data": (1, 2, 5, 5)}),
    Layer("Pooling", "max_3x3_pad1", dict(kernel=(3, 3), stride=(1, 1), pad=(1, 1), pool_type="max"),
          {"data": (1, 2, 4, 4)}),
    Layer("Pooling", "avg_pad", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg"),
          {"data": (1, 2, 5, 5)}),
    Layer("Pooling", "global_avg", dict(global_pool=True, pool_type="avg", kernel=(1, 1)), {"data": (2, 3, 3, 4)}),
    Layer("Pooling", "avg_full_exclude_pad", dict(kernel=(3, 3), stride=(2, 2), pad=(1, 1), pool_type="avg",
                                                  count_include_pad=False, pooling_convention="full"),
          {"data": (1, 1, 6, 6)}, uses=(GRADCHECK,)),
    Layer("Pooling", "sum_full", dict(kernel=(2, 2), stride=(2, 2), pool_type="sum", pooling_convention="full"),
          {"data": (1, 2, 5, 5)}, uses=(GRADCHECK,)),
    *(Layer("Activation", act, dict(act_type=act), {"data": (2, 3, 4)})
      for act in ("relu", "sigmoid", "tanh", "softrelu")),
    Layer("Activation", "softsign", dict(act_type="softsign"), {"data": (2, 3, 4)}, uses=(GRADCHECK,)),
    Layer("BatchNorm", "train", dict(fix_gamma=False), {"data": (3, 2, 2, 3)}),
    Layer("BatchNorm", "global_stats", dict(fix_gamma=False, use_global_stats=True), {"data": (2, 3, 2)}, False,
          uses=(GOLDEN,)),
    Layer("BatchNorm", "fix_gamma", dict(fix_gamma=True, eps=1e-5), {"data": (4, 3, 2)}, uses=(GRADCHECK,)),
    Layer("L2Normalization", "channel", dict(mode="channel"), {"data": (2, 3, 2, 2)}),
    Layer("L2Normalization", "instance", dict(mode="instance"), {"data": (2, 3, 4)}),
    Layer("L2Normalization", "spatial", dict(mode="spatial"), {"data": (2, 3, 2, 3)}, uses=(GRADCHECK,)),
    Layer("Dropout", "inference", dict(p=0.5), {"data": (2, 3)}, False, uses=(GOLDEN,)),
    # In training the mask comes from a fixed seed (layers/dropout.py): the op is a fixed linear map.
    Layer("Dropout", "train", dict(p=0.5), {"data": (3, 4)}, uses=(GRADCHECK,)),
    Layer("Dropout", "train_axes1", dict(p=0.3, axes=(1,)), {"data": (2, 3, 4)}, uses=(GRADCHECK,)),
    Layer("Flatten", "", {}, {"data": (2, 3, 2, 2)}),
    Layer("Reshape", "0_m1_3", dict(shape=(0, -1, 3)), {"data": (2, 4, 3)}),
    Layer("transpose", "nhwc", dict(axes=(0, 2, 3, 1)), {"data": (2, 3, 2, 4)}),
    Layer("Concat", "dim1", dict(dim=1, num_args=2), {"arg0": (2, 3, 2), "arg1": (2, 1, 2)}),
    Layer("slice_axis", "", dict(axis=1, begin=1, end=3), {"data": (2, 4, 3)}),
    Layer("expand_dims", "", dict(axis=1), {"data": (2, 3)}),
    *_ops(("elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div", "_power"), "", {},
          {"lhs": (2, 3), "rhs": (2, 3)}),
    *_ops(("broadcast_add", "broadcast_sub"), "", {}, {"lhs": (2, 1, 4), "rhs": (2, 3, 1)}),
    *_ops(("broadcast_mul", "broadcast_div", "broadcast_power"), "", {}, {"lhs": (2, 1, 4), "rhs": (2, 3, 1)},
          uses=(GOLDEN,)),
    Layer("broadcast_mul", "scale", {}, {"lhs": (1, 3, 1, 1), "rhs": (2, 3, 2, 2)}, uses=(GRADCHECK,)),
    *_ops(("broadcast_div", "broadcast_power"), "both", {}, {"lhs": (2, 3, 1), "rhs": (1, 3, 4)},
          uses=(GRADCHECK,)),
    *_ops(("_plus_scalar", "_minus_scalar", "_rminus_scalar"), "", dict(scalar=2.5), {"data": (2, 3)},
          uses=(GOLDEN,)),
    Layer("_mul_scalar", "", dict(scalar=2.5), {"data": (2, 3)}),
    *_ops(("_div_scalar", "_rdiv_scalar", "_power_scalar", "_rpower_scalar"), "", dict(scalar=2.5),
          {"data": (2, 3)}, uses=(GOLDEN,)),
    *_ops(("_plus_scalar", "_minus_scalar", "_rminus_scalar"), "1.5", dict(scalar=1.5), {"data": (2, 3)},
          uses=(GRADCHECK,)),
    *_ops(("_div_scalar", "_rdiv_scalar", "_rpower_scalar"), "2", dict(scalar=2.0), {"data": (2, 3)},
          uses=(GRADCHECK,)),
    Layer("_power_scalar", "3", dict(scalar=3.0), {"data": (2, 3)}, uses=(GRADCHECK,)),
    Layer("_copy", "", {}, {"data": (2, 3)}),
    Layer("BlockGrad", "", {}, {"data": (2, 3)}),
    Layer("softmax", "axis1", dict(axis=1), {"data": (2, 4, 3)}),
    Layer("softmax", "last_axis", dict(axis=-1), {"data": (3, 5)}, uses=(GRADCHECK,)),
    Layer("log_softmax", "axis1", dict(axis=1), {"data": (2, 4, 3)}),
    Layer("SoftmaxActivation", "channel", dict(mode="channel"), {"data": (2, 4, 3)}),
    Layer("SoftmaxActivation", "instance", dict(mode="instance"), {"data": (3, 5)}, uses=(GRADCHECK,)),
    Layer("SoftmaxOutput", "ssd", dict(multi_output=True, use_ignore=True, ignore_label=-1, normalization="valid"),
          {"data": (2, 4, 5)}, label_classes=4),
    Layer("SoftmaxOutput", "batch", dict(normalization="batch"), {"data": (4, 5)}, label_classes=5),
    Layer("SoftmaxOutput", "null_scaled", dict(multi_output=True, normalization="null", grad_scale=2.0),
          {"data": (2, 3, 4)}, label_classes=3, uses=(GRADCHECK,)),
    Layer("smooth_l1", "scalar1", dict(scalar=1.0), {"data": (3, 8)}),
    Layer("smooth_l1", "scalar2", dict(scalar=2.0), {"data": (3, 8)}),
    Layer("MakeLoss", "valid", dict(normalization="valid"), {"data": (2, 6)}),
    Layer("MakeLoss", "batch_half", dict(normalization="batch", grad_scale=0.5), {"data": (3, 4)},
          uses=(GRADCHECK,)),
    Layer("make_loss", "", {}, {"data": (2, 6)}),
    Layer("FullyConnected", "flatten", dict(num_hidden=3), {"data": (2, 2, 3)}),
    Layer("FullyConnected", "noflatten_nobias", dict(num_hidden=2, flatten=False, no_bias=True),
          {"data": (2, 3, 4)}),
    # GluonCV's SSD inference ops (autograd/ops_gluon.py)
    Layer("_greater_scalar", "", dict(scalar=0.25), {"data": (2, 3)}, uses=(GOLDEN,)),
    *_ops(("zeros_like", "ones_like"), "", {}, {"data": (2, 3)}, uses=(GOLDEN,)),
    Layer("_arange", "repeat2", dict(start=-1.5, stop=2.0, step=0.75, repeat=2), {}, uses=(GOLDEN,)),
    Layer("where", "", {}, {"condition": (2, 3), "x": (2, 3), "y": (2, 3)}),
    Layer("slice_like", "axes23", dict(axes=(2, 3)), {"data": (2, 3, 5, 6), "shape_like": (1, 1, 3, 4)},
          uses=(GOLDEN,)),
    Layer("slice_like", "axis1", dict(axes=(1,)), {"data": (2, 4, 3), "shape_like": (2, 2, 3)},
          uses=(GRADCHECK,)),
    Layer("_contrib_box_decode", "gluoncv", dict(std0=0.1, std1=0.1, std2=0.2, std3=0.2, clip=-1.0,
                                                 format="center"),
          {"data": (2, 5, 4), "anchors": (1, 5, 4)}, uses=(GOLDEN,)),
    Layer("_contrib_box_decode", "corner_clip", dict(std0=0.5, std1=0.5, std2=1.0, std3=1.0, clip=0.5,
                                                     format="corner"),
          {"data": (2, 5, 4), "anchors": (1, 5, 4)}, uses=(GOLDEN,)),
    Layer("_contrib_box_nms", "gluoncv", dict(overlap_thresh=0.45, topk=400, valid_thresh=0.01, id_index=0,
                                              score_index=1, coord_start=2, force_suppress=False),
          {"data": (2, 8, 6)}, uses=(GOLDEN,)),
    Layer("_contrib_box_nms", "force_center", dict(overlap_thresh=0.3, topk=5, force_suppress=True,
                                                   in_format="center", out_format="corner"),
          {"data": (2, 8, 6)}, uses=(GOLDEN,)),
    Layer("_contrib_box_nms", "distinct_scores", dict(overlap_thresh=0.5), {"data": (1, 6, 6)},
          uses=(GRADCHECK,)),
)


def read_by(use) -> tuple[Layer, ...]:
    """The layer cases that `use` ('golden' or 'gradcheck') reads, in declaration order."""
    return tuple(layer for layer in LAYERS if use in layer.uses)
