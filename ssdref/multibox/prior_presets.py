"""Prior boxes laid out as other frameworks do: Caffe SSD's PriorBox and torchvision's DefaultBoxGenerator.

Mirrors (by their documented algorithms, not their code): weiliu89/caffe `PriorBoxLayer`
(src/caffe/layers/prior_box_layer.cpp) and torchvision.models.detection.anchor_utils
`DefaultBoxGenerator`. MXNet's own rule is ssdref.multibox.prior.multibox_prior. Conventions that bite:
  * Caffe: sizes in *pixels*; per location and per min_size: the min_size square, then (with
    max_sizes) the sqrt(min*max) square, then one box per aspect ratio other than 1 (`flip` adds
    1/ar; ratios within 1e-6 of one already listed are dropped). step = image / layer size unless
    given; centre (index + offset) * step; coordinates / image size; clip clamps to [0, 1]. Output
    (1, 2, H*W*K*4): channel 0 the boxes, channel 1 the variances.
  * torchvision: per feature map k, scale s_k and s'_k = sqrt(s_k * s_k+1) squares, then (w, h)
    and (h, w) for each aspect ratio; clip clamps the *widths and heights* to [0, 1] (not the
    boxes); centre (index + 0.5) / (image / step_k) -- with SSD300's steps (8, 16, 32, 64, 100,
    300) not the feature map's own stride; output (N, 4) xyxy in image pixels (coordinates='pixel',
    what DefaultBoxGenerator.forward returns) or divided by the image size ('normalized').
Computed in float64 and rounded to float32 where the frameworks store a float (their results agree
with these to about 1 ulp).
"""
import math

import numpy as np

from ssdref.errors import fail


def _pair(op, name, value):
    values = (value, value) if np.isscalar(value) else tuple(value)
    if len(values) != 2 or not all(v > 0 for v in values):
        fail(op, f"{name} must be a positive number or 2 positive numbers (height, width), "
                 f"got {value!r}")
    return tuple(float(v) for v in values)


def caffe_aspect_ratios(aspect_ratios, flip=True):
    """Caffe's list: 1 first, then each new ratio (and 1/ratio with flip), skipping duplicates."""
    ratios = [1.0]
    for ar in aspect_ratios:
        for value in (float(ar), 1.0 / float(ar)) if flip else (float(ar),):
            if all(abs(value - known) >= 1e-6 for known in ratios):
                ratios.append(value)
    return ratios


def caffe_prior_box(feature_shape, image_shape, min_sizes, max_sizes=(), aspect_ratios=(),
                    flip=True, clip=False, variance=(0.1,), step=0.0, offset=0.5):
    """Caffe SSD PriorBox output (1, 2, H*W*K*4) float32 for a feature map (H, W) of an image.

    feature_shape (H, W) and image_shape (img_h, img_w) in pixels; min_sizes, max_sizes in pixels
    (max_sizes empty or one per min_size); step 0: image / layer size, else (step_h, step_w) or one
    number; variance: 1 value for all, or 4 values per box."""
    op = "caffe_prior_box"
    layer_h, layer_w = (int(v) for v in _pair(op, "feature_shape", feature_shape))
    img_h, img_w = _pair(op, "image_shape", image_shape)
    min_sizes, max_sizes = [float(v) for v in min_sizes], [float(v) for v in max_sizes]
    if not min_sizes or any(v <= 0 for v in min_sizes):
        fail(op, f"min_sizes must hold at least one positive size, got {min_sizes}")
    if max_sizes and (len(max_sizes) != len(min_sizes)
                      or any(mx <= mn for mn, mx in zip(min_sizes, max_sizes))):
        fail(op, f"max_sizes must be empty or one size > min_size per min_size, got {max_sizes}")
    if len(variance) not in (1, 4):
        fail(op, f"variance must hold 1 or 4 numbers, got {variance!r}")
    f32 = np.float32
    if np.isscalar(step) and step == 0:
        step_h, step_w = f32(img_h / layer_h), f32(img_w / layer_w)
    else:
        step_h, step_w = (f32(v) for v in _pair(op, "step", step))
    ratios = caffe_aspect_ratios(aspect_ratios, flip)

    sizes = []                                   # (box_width, box_height) per prior, float32
    for index, min_size in enumerate(min_sizes):
        sizes.append((f32(min_size), f32(min_size)))
        if max_sizes:
            side = f32(math.sqrt(f32(min_size) * f32(max_sizes[index])))
            sizes.append((side, side))
        for ar in ratios[1:]:
            sizes.append((f32(min_size * math.sqrt(ar)), f32(min_size / math.sqrt(ar))))
    widths = np.array([w for w, _ in sizes], np.float64)
    heights = np.array([h for _, h in sizes], np.float64)

    center_y = (np.arange(layer_h, dtype=np.float32) + f32(offset)) * step_h     # (H,)
    center_x = (np.arange(layer_w, dtype=np.float32) + f32(offset)) * step_w     # (W,)
    cy = center_y.astype(np.float64)[:, None, None]
    cx = center_x.astype(np.float64)[None, :, None]
    boxes = np.stack(np.broadcast_arrays((cx - widths / 2.) / img_w, (cy - heights / 2.) / img_h,
                                         (cx + widths / 2.) / img_w, (cy + heights / 2.) / img_h),
                     axis=-1).astype(np.float32).reshape(-1)                    # (H*W*K*4,)
    if clip:
        boxes = np.minimum(np.maximum(boxes, f32(0)), f32(1))
    variances = np.resize(np.asarray(variance, np.float32), boxes.shape)
    return np.stack([boxes, variances])[None]


def torchvision_scales(num_outputs, min_ratio=0.15, max_ratio=0.9):
    """DefaultBoxGenerator's scales when none are given: linear from min to max ratio, then 1.0."""
    if num_outputs == 1:
        return [min_ratio, max_ratio]
    return [min_ratio + (max_ratio - min_ratio) * k / (num_outputs - 1.0)
            for k in range(num_outputs)] + [1.0]


def torchvision_default_boxes(feature_shapes, image_size, aspect_ratios, *, min_ratio=0.15,
                              max_ratio=0.9, scales=None, steps=None, clip=True,
                              coordinates="pixel"):
    """torchvision SSD default boxes (N, 4) float32 xyxy for feature maps [(H, W), ...].

    image_size (img_h, img_w); aspect_ratios one list per map; scales default to
    torchvision_scales(len(maps)); steps (one per map) or None (the maps' own sizes);
    coordinates 'pixel' (DefaultBoxGenerator.forward) or 'normalized'."""
    op = "torchvision_default_boxes"
    if coordinates not in ("pixel", "normalized"):
        fail(op, f"coordinates must be 'pixel' or 'normalized', got {coordinates!r}")
    if len(aspect_ratios) != len(feature_shapes) or (steps is not None
                                                     and len(steps) != len(feature_shapes)):
        fail(op, f"aspect_ratios and steps must have one entry per feature map "
                 f"({len(feature_shapes)}), got {len(aspect_ratios)} and "
                 f"{None if steps is None else len(steps)}")
    scales = list(scales) if scales is not None else torchvision_scales(
        len(feature_shapes), min_ratio, max_ratio)
    if len(scales) < len(feature_shapes) + 1:
        fail(op, f"scales must hold one more value than feature maps ({len(feature_shapes) + 1}), "
                 f"got {len(scales)}")
    img_h, img_w = image_size
    boxes = []
    for k, (fh, fw) in enumerate(feature_shapes):
        s_k, s_prime = scales[k], math.sqrt(scales[k] * scales[k + 1])
        pairs = [[s_k, s_k], [s_prime, s_prime]]
        for ar in aspect_ratios[k]:
            root = math.sqrt(ar)
            pairs += [[s_k * root, s_k / root], [s_k / root, s_k * root]]
        wh = np.asarray(pairs, np.float32)                                    # (K, 2)
        if clip:
            wh = np.clip(wh, np.float32(0), np.float32(1))
        if steps is not None:
            x_f, y_f = img_w / steps[k], img_h / steps[k]
        else:
            y_f, x_f = fh, fw
        shift_x = (np.arange(fw, dtype=np.float32) + np.float32(0.5)) / np.float32(x_f)
        shift_y = (np.arange(fh, dtype=np.float32) + np.float32(0.5)) / np.float32(y_f)
        cy, cx = np.meshgrid(shift_y, shift_x, indexing="ij")                 # (H, W)
        centers = np.stack([cx.reshape(-1), cy.reshape(-1)], axis=-1)          # (H*W, 2)
        centers = np.repeat(centers, len(wh), axis=0)                          # (H*W*K, 2)
        sizes = np.tile(wh, (fh * fw, 1))
        half = np.float32(0.5) * sizes
        boxes.append(np.concatenate([centers - half, centers + half], axis=1))
    out = np.concatenate(boxes, axis=0)
    if coordinates == "pixel":
        out = out * np.array([img_w, img_h, img_w, img_h], np.float32)
    return out.astype(np.float32)


def torchvision_ssd300_default_boxes(coordinates="pixel"):
    """The 8732 default boxes of torchvision's ssd300_vgg16 (its DefaultBoxGenerator settings)."""
    return torchvision_default_boxes(
        [(38, 38), (19, 19), (10, 10), (5, 5), (3, 3), (1, 1)], (300, 300),
        [[2], [2, 3], [2, 3], [2, 3], [2], [2]],
        scales=[0.07, 0.15, 0.33, 0.51, 0.69, 0.87, 1.05], steps=[8, 16, 32, 64, 100, 300],
        coordinates=coordinates)
