"""GluonCV's box decoder: anchors + (dx, dy, dw, dh) offsets -> corner boxes.

Mirrors: src/operator/contrib/bounding_box-inl.h (BoxDecodeParam, BoxDecodeShape, box_decode),
MXNet 1.9.1 CPU. For each box i of data (B, N, 4) and anchor n = i % N (anchors reshaped to
(1, N, 4)):
    1. anchor in center form (a_x, a_y, a_w, a_h); format='corner' converts it first:
       a_w = xmax - xmin, a_h = ymax - ymin, a_x = xmin + a_w * 0.5, a_y = ymin + a_h * 0.5
    2. ox = x0 * std0 * a_w + a_x,  oy = x1 * std1 * a_h + a_y
    3. dw = x2 * std2, dh = x3 * std3; when clip > 0: dw = dw < clip ? dw : clip (NaN -> clip)
    4. ow = exp(dw) * a_w * 0.5, oh = exp(dh) * a_h * 0.5
    5. out = (ox - ow, oy - oh, ox + ow, oy + oh)
Conventions that bite (all needed for bit-exactness with MXNet, checked in conformance):
  * std0..3 and clip are float32 parameters cast to the data's dtype (float64 data sees
    float32(0.1), not 0.1).
  * `* 0.5` is a C++ double literal: `a_x + a_w * 0.5` and `exp(dw) * a_w * 0.5` are evaluated in
    double and rounded once to DType.
  * `exp(dw)` resolves to the C library's double `exp` on the float32 value promoted to double,
    rounded to float32 (not expf: expf differs in the last bit on ~1 in 1000 values, NumPy's SIMD
    exp on ~40%). `ssdref.mathf.expf` on float64 input is exactly that C `exp`.
No gradient (MXNet: MakeZeroGradNodes): backward gives zeros to data and anchors.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ssdref.errors import check_array, check_float, check_same_dtype, fail
from ssdref.mathf import expf

OP = "box_decode"
FORMATS = ("corner", "center")


class BoxDecodeCache(NamedTuple):
    data_shape: tuple
    anchors_shape: tuple
    dtype: np.dtype


def check_box_decode_inputs(data, anchors, std, clip, format):
    """(data (B, N, 4), anchors (1, N, 4) view, std as 4 float32 values, clip as float32)."""
    data = check_array(OP, "data", data, ndim=3)
    anchors = check_array(OP, "anchors", anchors, min_ndim=3)
    check_same_dtype(OP, data=data, anchors=anchors)
    if data.shape[2] != 4:
        fail(OP, f"data must have shape (batch, num_boxes, 4), got {data.shape}")
    if anchors.shape[-1] != 4:
        fail(OP, f"anchors must have 4 values in its last axis, got shape {anchors.shape}")
    if anchors.size != data.shape[1] * 4:
        fail(OP, f"anchors must hold num_boxes={data.shape[1]} boxes (MXNet reads it as "
                 f"(1, {data.shape[1]}, 4)), got shape {anchors.shape}")
    if format not in FORMATS:
        fail(OP, f"format must be 'corner' or 'center', got {format!r}")
    if len(std) != 4:
        fail(OP, f"std must be 4 numbers (std0, std1, std2, std3), got {std!r}")
    std = tuple(np.float32(check_float(OP, f"std{k}", s)) for k, s in enumerate(std))
    clip = np.float32(check_float(OP, "clip", clip))
    return data, anchors.reshape(1, data.shape[1], 4), std, clip


def box_decode_forward(data, anchors, *, std=(1.0, 1.0, 1.0, 1.0), clip=-1.0, format="center"):
    """Decoded corner boxes (B, N, 4) in data's dtype, and a cache for the zero backward."""
    data, anchors3, std, clip = check_box_decode_inputs(data, anchors, std, clip, format)
    dtype = data.dtype
    d = dtype.type
    a_x, a_y, a_w, a_h = (anchors3[..., k] for k in range(4))       # (1, N) each
    if format == "corner":                                          # step 1
        a_w = a_w - a_x
        a_h = a_h - a_y
        a_x = (a_x.astype(np.float64) + a_w.astype(np.float64) * 0.5).astype(dtype)
        a_y = (a_y.astype(np.float64) + a_h.astype(np.float64) * 0.5).astype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        ox = data[..., 0] * d(std[0]) * a_w + a_x                   # step 2, (B, N)
        oy = data[..., 1] * d(std[1]) * a_h + a_y
        dw = data[..., 2] * d(std[2])                               # step 3
        dh = data[..., 3] * d(std[3])
        if clip > 0:
            dw = np.where(dw < d(clip), dw, d(clip))
            dh = np.where(dh < d(clip), dh, d(clip))
        dw = expf(dw.astype(np.float64)).astype(dtype)             # step 4: C double exp
        dh = expf(dh.astype(np.float64)).astype(dtype)
        ow = ((dw * a_w).astype(np.float64) * 0.5).astype(dtype)
        oh = ((dh * a_h).astype(np.float64) * 0.5).astype(dtype)
        out = np.stack([ox - ow, oy - oh, ox + ow, oy + oh], axis=-1)   # step 5
    return out.astype(dtype, copy=False), BoxDecodeCache(data.shape, anchors.shape, dtype)


def box_decode_backward(dout, cache: BoxDecodeCache):
    """(ddata, danchors): zeros, as MXNet's box_decode has no gradient."""
    return np.zeros(cache.data_shape, cache.dtype), np.zeros(cache.anchors_shape, cache.dtype)
