"""MultiBoxPrior: anchor boxes for one feature map, exactly as MXNet 1.9.1 lays them out.

Mirrors: src/operator/contrib/multibox_prior{-inl.h,.cc} (`_contrib_MultiBoxPrior`), spec §1.
Conventions that bite:
  * Output (1, H*W*(S+R-1), 4) [xmin, ymin, xmax, ymax], row-major over the map (y outer, x inner);
    per location first one anchor per size with ratios[0], then one per extra ratio with sizes[0]
    (not Caffe's sqrt(min*max) rule).
  * steps = (step_y, step_x), offsets = (offset_y, offset_x). A step <= 0 means both steps become
    1/H and 1/W; steps of opposite sign are an error (CHECK_GE(step_y * step_x, 0)).
  * Half-width ((s*H)/W)*sqrtf(r)/2 (the H/W factor matters for non-square maps), half-height
    s/sqrtf(r)/2, centre (index + offset) * step; float32 operations in exactly this order.
  * clip clamps each coordinate: `a < 0 -> 0, a > 1 -> 1` (so -0.0 stays -0.0).
  * No gradient: the data values are ignored, only H and W are read.
float64 data runs the same formulas in float64 (MXNet computes in float32 and only accepts float32).
`preset=` (ssdref.presets) must have MXNet's prior layout: Caffe's PriorBox and torchvision's
DefaultBoxGenerator take other arguments and live in ssdref.multibox.prior_presets.
"""
import numpy as np

from ssdref.errors import check_array, fail


def check_prior_params(data, sizes, ratios, clip, steps, offsets):
    """Validated (data, sizes, ratios, clip, steps, offsets) as MXNet checks them; ValueError else."""
    op = "MultiBoxPrior"
    data = check_array(op, "data", data, min_ndim=4)
    height, width = data.shape[2], data.shape[3]
    if height <= 0 or width <= 0:
        fail(op, f"data must have height and width > 0, got shape {data.shape}")
    sizes, ratios, steps, offsets = (_floats(op, name, value) for name, value in
                                     (("sizes", sizes), ("ratios", ratios), ("steps", steps),
                                      ("offsets", offsets)))
    if not sizes or not ratios:
        fail(op, f"sizes and ratios must each hold at least one number, got sizes={sizes}, "
                 f"ratios={ratios}")
    if any(s <= 0 for s in sizes) or any(r <= 0 for r in ratios):
        fail(op, f"sizes and ratios must be > 0, got sizes={sizes}, ratios={ratios}")
    if len(steps) != 2:
        fail(op, f"steps must be 2 numbers (step_y, step_x), got {steps}")
    if len(offsets) != 2 or not all(0.0 <= o <= 1.0 for o in offsets):
        fail(op, f"offsets must be 2 numbers (offset_y, offset_x) in [0, 1], got {offsets}")
    if np.float32(steps[0]) * np.float32(steps[1]) < 0:
        fail(op, f"steps must both be > 0 or both be <= 0 (MXNet: 'Must specify both step_y and "
                 f"step_x'), got {steps}")
    if not isinstance(clip, (bool, np.bool_)):
        fail(op, f"clip must be a boolean, got {clip!r}", TypeError)
    return data, sizes, ratios, bool(clip), steps, offsets


def check_prior_layout(preset):
    """ValueError unless `preset` (name, Preset or None) lays priors out as MXNet does."""
    from ssdref.presets import get_preset
    layout = get_preset(preset).prior_layout
    if layout != "mxnet":
        function = {"caffe": "caffe_prior_box", "torchvision": "torchvision_default_boxes"}[layout]
        fail("MultiBoxPrior", f"preset must use the 'mxnet' prior layout (sizes + ratios, S+R-1 "
                              f"per location), got prior_layout={layout!r}; use "
                              f"ssdref.multibox.prior_presets.{function} for that layout")


def _floats(op, name, value):
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        value = (value,)
    try:
        values = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        fail(op, f"{name} must be a tuple of numbers, got {value!r}", TypeError)
    # MXNet's parameters are C++ floats: a value finite in float64 but not in float32 (1e39)
    # fails its parser, so the check runs in float32 whatever the data's dtype.
    with np.errstate(over="ignore"):
        finite32 = np.isfinite(np.asarray(values, np.float64).astype(np.float32))
    if not all(np.isfinite(values)) or not finite32.all():
        fail(op, f"{name} must be finite float32 numbers (|v| <= {float(np.finfo(np.float32).max):.7g}), "
                 f"got {values}")
    return values


def prior_geometry(data, sizes, ratios, steps):
    """Per-slot half-sizes and the steps, in the output dtype: (half_w, half_h, step_y, step_x).

    Slot k < S uses (sizes[k], ratios[0]); slot S-1+j uses (sizes[0], ratios[j]) for j >= 1."""
    dtype = data.dtype.type
    height, width = dtype(data.shape[2]), dtype(data.shape[3])
    slots = [(s, ratios[0]) for s in sizes] + [(sizes[0], r) for r in ratios[1:]]
    half_w = np.empty(len(slots), data.dtype)
    half_h = np.empty(len(slots), data.dtype)
    for k, (size, ratio) in enumerate(slots):
        size, root = dtype(size), np.sqrt(dtype(ratio))        # IEEE sqrt == sqrtf
        half_w[k] = size * height / width * root / dtype(2)
        half_h[k] = size / root / dtype(2)
    step_y, step_x = dtype(steps[0]), dtype(steps[1])
    if step_y <= 0 or step_x <= 0:
        step_y, step_x = dtype(1) / height, dtype(1) / width
    return half_w, half_h, step_y, step_x


def multibox_prior(data, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                   offsets=(0.5, 0.5), preset=None):
    """Anchors (1, H*W*(S+R-1), 4) for data (B, C, H, W), in data's dtype; see the module docstring."""
    check_prior_layout(preset)
    data, sizes, ratios, clip, steps, offsets = check_prior_params(
        data, sizes, ratios, clip, steps, offsets)
    dtype = data.dtype.type
    height, width = data.shape[2], data.shape[3]
    half_w, half_h, step_y, step_x = prior_geometry(data, sizes, ratios, steps)

    # centre = (float(index) + offset) * step, for every row r and column c.
    center_y = (np.arange(height).astype(data.dtype) + dtype(offsets[0])) * step_y   # (H,)
    center_x = (np.arange(width).astype(data.dtype) + dtype(offsets[1])) * step_x    # (W,)
    cy = center_y[:, None, None]                                                     # (H, 1, 1)
    cx = center_x[None, :, None]                                                     # (1, W, 1)
    anchors = np.stack(np.broadcast_arrays(cx - half_w, cy - half_h, cx + half_w, cy + half_h),
                       axis=-1)                                                      # (H, W, K, 4)
    if clip:
        zero, one = dtype(0), dtype(1)
        anchors = np.where(anchors < zero, zero, np.where(anchors > one, one, anchors))
    return anchors.reshape(1, -1, 4).astype(data.dtype, copy=False)
