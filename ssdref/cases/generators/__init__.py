"""Hypothesis generators of op cases: `GENERATORS[op](draw)` draws one `Case` for `op`.

`draw` is hypothesis' `data.draw`, so the pytest conformance tests and `ssdref conformance` share
the same cases. Input values come from a NumPy generator seeded by a drawn integer; a drawn `ties`
flag switches them to multiples of 0.5 so that exact zeros (relu's kink), equal maxima (pooling)
and equal scores happen on purpose (`draw.values`).

  draw.py      seeded values, dtypes, shapes, one-output cases
  layers.py    dense layers, the softmax family, losses
  shapes.py    shape ops and arithmetic
  multibox.py  the multibox ops and GluonCV's SSD ops
"""
from __future__ import annotations

from typing import Callable

from ssdref.cases.generators.draw import values  # noqa: F401
from ssdref.cases.generators.layers import (gen_activation, gen_batchnorm, gen_convolution,
                                            gen_convolution_3x3, gen_dropout, gen_fully_connected,
                                            gen_l2normalization, gen_make_loss, gen_pooling,
                                            gen_smooth_l1, gen_softmax, gen_softmax_activation,
                                            gen_softmax_output, gen_unary)
from ssdref.cases.generators.multibox import (gen_arange, gen_box_decode, gen_box_nms,
                                              gen_greater_scalar, gen_multibox_detection,
                                              gen_multibox_prior, gen_multibox_target,
                                              gen_slice_like, gen_where)
from ssdref.cases.generators.shapes import (gen_broadcast, gen_concat, gen_elemwise,
                                            gen_expand_dims, gen_flatten, gen_reshape, gen_scalar,
                                            gen_slice_axis, gen_transpose)

__all__ = ["GENERATORS", "MULTIBOX_OPS", "gen_convolution_3x3", "values"]

GENERATORS: dict[str, Callable] = {
    "Convolution": gen_convolution, "Pooling": gen_pooling, "Activation": gen_activation,
    "BatchNorm": gen_batchnorm, "L2Normalization": gen_l2normalization,
    "FullyConnected": gen_fully_connected, "Dropout": gen_dropout,
    "softmax": gen_softmax("softmax"), "log_softmax": gen_softmax("log_softmax"),
    "SoftmaxActivation": gen_softmax_activation, "SoftmaxOutput": gen_softmax_output,
    "smooth_l1": gen_smooth_l1, "MakeLoss": gen_make_loss, "make_loss": gen_unary("make_loss"),
    "BlockGrad": gen_unary("BlockGrad"), "_copy": gen_unary("_copy"),
    "Flatten": gen_flatten, "Reshape": gen_reshape, "transpose": gen_transpose, "Concat": gen_concat,
    "slice_axis": gen_slice_axis, "expand_dims": gen_expand_dims,
    **{op: gen_elemwise(op) for op in ("elemwise_add", "elemwise_sub", "elemwise_mul", "elemwise_div",
                                       "_power")},
    **{op: gen_broadcast(op) for op in ("broadcast_add", "broadcast_sub", "broadcast_mul",
                                        "broadcast_div", "broadcast_power")},
    **{op: gen_scalar(op) for op in ("_plus_scalar", "_minus_scalar", "_rminus_scalar", "_mul_scalar",
                                     "_div_scalar", "_rdiv_scalar", "_power_scalar", "_rpower_scalar")},
    "_contrib_MultiBoxPrior": gen_multibox_prior, "_contrib_MultiBoxTarget": gen_multibox_target,
    "_contrib_MultiBoxDetection": gen_multibox_detection,
    "_greater_scalar": gen_greater_scalar, "zeros_like": gen_unary("zeros_like"),
    "ones_like": gen_unary("ones_like"), "_arange": gen_arange, "where": gen_where,
    "slice_like": gen_slice_like, "_contrib_box_decode": gen_box_decode, "_contrib_box_nms": gen_box_nms,
}

MULTIBOX_OPS = ("_contrib_MultiBoxPrior", "_contrib_MultiBoxTarget", "_contrib_MultiBoxDetection")
