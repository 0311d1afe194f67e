"""Hypothesis strategies for SSD geometry: boxes, padded labels, feature maps, priors, whole configs.

Part of `ssdref.testing.strategies` (import them from there).

Mirrors the input conventions of MXNet 1.9.1's `_contrib_MultiBox{Prior,Target,Detection}` (spec
ss. 1-3): corner boxes [xmin, ymin, xmax, ymax] normalized to [0, 1]; labels (B, L, W>=5) with rows
[cls, xmin, ymin, xmax, ymax, extra...] and all -1 padding rows after the valid ones (the first -1
row terminates the list); class tensors (B, C, A) with background at class 0.

Conventions of this kit:
  * `num_classes` is always the number of *object* classes, as example/ssd's `num_classes`: label
    ids are 0..num_classes-1 and every class axis (logits, probabilities) has num_classes + 1
    entries, background first.
  * Coordinates are drawn on a grid of `grid` steps (default 32, a power of two, so k/32 is exact
    in float32): exact IoU ties and IoU exactly at a threshold happen often, and a failing example
    shrinks to a few small integers (boxes toward [0, 0, 1/32, 1/32]).
  * Logits are multiples of 0.5 in [-4, 4] when ties=True, so equal scores, equal background
    probabilities and equal class maxima are common; two anchors are also made identical on
    purpose. Failing examples shrink toward all-zero logits (everything tied).
  * Sizes (batch, counts) accept an int or a strategy of ints; every strategy takes a `dtype`
    (float32 default, float64 for the oracle).
Every public function returns a strategy and checks its arguments at once (ValueError/TypeError).
"""
from typing import NamedTuple

import numpy as np
from hypothesis import strategies as st

BOX_KINDS = ("valid", "degenerate", "outside", "any")
RATIO_CHOICES = (1.0, 2.0, 0.5, 3.0, 1.0 / 3.0)   # example/ssd's ratios; shrinks toward 1
OFFSET_CHOICES = (0.5, 0.0, 0.25, 0.75, 1.0)       # shrinks toward MXNet's default 0.5
DEFAULT_VARIANCES = (0.1, 0.1, 0.2, 0.2)


def _check_dtype(name, dtype):
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise TypeError(f"{name}: dtype must be float32 or float64, got {dtype}")
    return dtype


def _count(name, arg, value, minimum=0):
    """An int or a strategy of ints -> a strategy of ints (ints are checked now)."""
    if isinstance(value, st.SearchStrategy):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name}: {arg} must be an int >= {minimum} or a strategy, got {value!r}")
    return st.just(int(value))


def _check_grid(name, grid):
    if isinstance(grid, bool) or not isinstance(grid, int) or grid < 2:
        raise ValueError(f"{name}: grid must be an int >= 2, got {grid!r}")


# ---------------------------------------------------------------------------------------------
# Boxes and labels
# ---------------------------------------------------------------------------------------------

@st.composite
def _grid_box(draw, kind, grid):
    """One box as 4 grid integers; divided by `grid` later. Shrinks toward (0, 0, 1, 1) cells."""
    if kind == "any":
        kind = draw(st.sampled_from(("valid", "degenerate", "outside")))
    if kind == "outside":
        # Coordinates in [-0.5, 1.5], positive size, at least one coordinate beyond [0, 1].
        low, high = -grid // 2, grid + grid // 2
        x0, y0 = draw(st.integers(low, high - 1)), draw(st.integers(low, high - 1))
        w, h = draw(st.integers(1, high - x0)), draw(st.integers(1, high - y0))
        box = (x0, y0, x0 + w, y0 + h)
        if all(0 <= v <= grid for v in box):
            # Shift the box one cell across the nearer x edge (no rejection: shrinks simply).
            shift = -(x0 + 1) if x0 + w <= grid // 2 else grid + 1 - (x0 + w)
            box = (x0 + shift, y0, x0 + w + shift, y0 + h)
        return box
    min_size = 1 if kind == "valid" else 0
    x0 = draw(st.integers(0, grid - min_size))
    y0 = draw(st.integers(0, grid - min_size))
    w = draw(st.integers(min_size, grid - x0))
    h = draw(st.integers(min_size, grid - y0))
    return (x0, y0, x0 + w, y0 + h)


def _grid_to_float(cells, grid, dtype):
    # Divide in float64 then round once: exact for power-of-two grids, nearest otherwise.
    return (np.asarray(cells, dtype=np.float64).reshape(-1, 4) / grid).astype(dtype)


def boxes(n=st.integers(1, 8), kind="valid", dtype=np.float32, grid=32):
    """Corner boxes (n, 4) [xmin, ymin, xmax, ymax] on a 1/grid lattice.

    kind: 'valid'      0 <= xmin < xmax <= 1 and 0 <= ymin < ymax <= 1 (positive area);
          'degenerate' inside [0, 1], xmin <= xmax, ymin <= ymax: zero width/height allowed
                       (and what failing examples shrink toward);
          'outside'    positive size, coordinates in [-0.5, 1.5], every box with at least one
                       coordinate beyond [0, 1] (like unclipped anchors);
          'any'        each box independently one of the three kinds above.
    n: int or strategy of ints (default 1..8).
    """
    if kind not in BOX_KINDS:
        raise ValueError(f"boxes: kind must be one of {BOX_KINDS}, got {kind!r}")
    dtype = _check_dtype("boxes", dtype)
    _check_grid("boxes", grid)
    return _boxes(_count("boxes", "n", n), kind, dtype, grid)


@st.composite
def _boxes(draw, count, kind, dtype, grid):
    cells = [draw(_grid_box(kind, grid)) for _ in range(draw(count))]
    return _grid_to_float(cells, grid, dtype)


@st.composite
def _labels(draw, batch, max_objects, num_classes, allow_empty, width, dtype, grid, box_kind,
            junk_after_padding):
    num_images, num_rows = draw(batch), draw(max_objects)
    label = np.full((num_images, num_rows, width), -1.0, dtype=np.float64)
    for b in range(num_images):
        count = draw(st.integers(0 if allow_empty else min(1, num_rows), num_rows))
        for row in range(count):
            label[b, row, 0] = draw(st.integers(0, num_classes - 1))
            label[b, row, 1:5] = np.asarray(draw(_grid_box(box_kind, grid))) / grid
            if width > 5:
                label[b, row, 5:] = draw(st.integers(0, 1))   # e.g. VOC's "difficult" flag
        if junk_after_padding and count + 1 < num_rows:
            # Valid-looking rows *after* the terminating -1 row: MXNet's CPU target never reads
            # them (spec ss. 2 step 1), so an implementation that skips -1 rows instead differs.
            for row in range(count + 1, num_rows):
                if draw(st.booleans()):
                    label[b, row, 0] = draw(st.integers(0, num_classes - 1))
                    label[b, row, 1:5] = np.asarray(draw(_grid_box("valid", grid))) / grid
                    label[b, row, 5:] = 0
    return label.astype(dtype)


def labels(batch=st.integers(1, 3), max_objects=st.integers(1, 4), num_classes=3, *,
           allow_empty=True, width=5, dtype=np.float32, grid=32, box_kind="valid",
           junk_after_padding=False):
    """Label tensors (B, L, W) for MultiBoxTarget: valid rows first, then all -1 padding rows.

    Row = [cls, xmin, ymin, xmax, ymax] (+ W-5 extra 0/1 columns, e.g. "difficult"), cls in
    0..num_classes-1, boxes drawn by `boxes(kind=box_kind)` rules. Each image has 0..L objects
    (1..L when allow_empty=False), so images without any object occur. junk_after_padding=True puts
    valid-looking rows after the first -1 row, which MXNet's CPU op must ignore.
    batch, max_objects: int or strategy of ints.
    """
    dtype = _check_dtype("labels", dtype)
    _check_grid("labels", grid)
    if isinstance(width, bool) or not isinstance(width, int) or width < 5:
        raise ValueError(f"labels: width must be an int >= 5, got {width!r}")
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(f"labels: num_classes must be an int >= 1 (object classes), got "
                         f"{num_classes!r}")
    if box_kind not in BOX_KINDS:
        raise ValueError(f"labels: box_kind must be one of {BOX_KINDS}, got {box_kind!r}")
    if not allow_empty and isinstance(max_objects, int) and max_objects < 1:
        raise ValueError(f"labels: max_objects must be >= 1 when allow_empty=False, got {max_objects}")
    return _labels(_count("labels", "batch", batch, 1), _count("labels", "max_objects", max_objects),
                   num_classes, allow_empty, width, dtype, grid, box_kind, junk_after_padding)


def num_valid_labels(label):
    """Per image, the number of rows before the first row whose class is -1 (MXNet CPU's rule)."""
    label = np.asarray(label)
    is_pad = np.concatenate([label[..., 0] == -1, np.ones(label.shape[:-2] + (1,), bool)], axis=-1)
    return is_pad.argmax(axis=-1)   # the sentinel column makes "no padding" count every row


# ---------------------------------------------------------------------------------------------
# Priors and anchors
# ---------------------------------------------------------------------------------------------

def feature_map_shapes(min_side=1, max_side=6, square=False):
    """Feature map sizes (H, W), each side in [min_side, max_side]; square=True forces H == W."""
    if not 1 <= min_side <= max_side:
        raise ValueError(f"feature_map_shapes: need 1 <= min_side <= max_side, got {min_side}, "
                         f"{max_side}")
    side = st.integers(min_side, max_side)
    if square:
        return side.map(lambda s: (s, s))
    return st.tuples(side, side)


@st.composite
def _prior_params(draw, max_sizes, max_ratios, allow_steps, allow_clip):
    cells = draw(st.lists(st.integers(1, 16), min_size=1, max_size=max_sizes, unique=True))
    ratios = draw(st.lists(st.sampled_from(RATIO_CHOICES), min_size=1, max_size=max_ratios,
                           unique=True))
    steps = (-1.0, -1.0)
    if allow_steps and draw(st.booleans()):
        steps = (draw(st.integers(1, 16)) / 32, draw(st.integers(1, 16)) / 32)
    offsets = (draw(st.sampled_from(OFFSET_CHOICES)), draw(st.sampled_from(OFFSET_CHOICES)))
    return dict(sizes=tuple(c / 16 for c in cells), ratios=tuple(ratios),
                clip=bool(allow_clip and draw(st.booleans())), steps=steps, offsets=offsets)


def prior_params(max_sizes=3, max_ratios=3, allow_steps=True, allow_clip=True):
    """MultiBoxPrior keyword arguments: dict(sizes, ratios, clip, steps, offsets).

    sizes: 1..max_sizes distinct multiples of 1/16 in (0, 1]; ratios: 1..max_ratios distinct of
    (1, 2, 0.5, 3, 1/3); steps: (-1, -1) (MXNet's "1/H, 1/W") or (step_y, step_x) multiples of 1/32;
    offsets: (offset_y, offset_x) from (0.5, 0, 0.25, 0.75, 1); clip: bool. Shrinks to MXNet's
    defaults apart from the sizes.
    """
    if max_sizes < 1 or max_ratios < 1:
        raise ValueError(f"prior_params: max_sizes and max_ratios must be >= 1, got {max_sizes}, "
                         f"{max_ratios}")
    return _prior_params(max_sizes, max_ratios, allow_steps, allow_clip)


def prior_boxes(shape, sizes=(1.0,), ratios=(1.0,), clip=False, steps=(-1.0, -1.0),
                offsets=(0.5, 0.5), dtype=np.float32):
    """MultiBoxPrior's anchors (1, H*W*(S+R-1), 4) for a feature map (H, W): ssdref's op if present.

    Falls back to the spec formula (spec ss. 1) when `ssdref.multibox.prior` is not importable,
    so the kit works on its own. A plain function, not a strategy.
    """
    params = dict(sizes=tuple(sizes), ratios=tuple(ratios), clip=clip, steps=tuple(steps),
                  offsets=tuple(offsets))
    try:
        from ssdref.multibox.prior import multibox_prior
    except ImportError:
        return _prior_formula(shape, dtype=np.dtype(dtype), **params)
    data = np.zeros((1, 1) + tuple(shape), dtype=dtype)
    out = multibox_prior(data, **params)
    return out[0] if isinstance(out, tuple) else out


def _prior_formula(shape, *, sizes, ratios, clip, steps, offsets, dtype):
    """Spec ss. 1 written out in `dtype`, in MXNet's evaluation order (used without ssdref's op)."""
    f = dtype.type
    height, width = shape
    if steps[0] <= 0 or steps[1] <= 0:
        step_y, step_x = f(1) / f(height), f(1) / f(width)
    else:
        step_y, step_x = f(steps[0]), f(steps[1])
    # Per location: every size with ratios[0], then every further ratio with sizes[0].
    shapes = [(f(s), f(ratios[0])) for s in sizes] + [(f(sizes[0]), f(r)) for r in ratios[1:]]
    rows = []
    for r in range(height):
        cy = (f(r) + f(offsets[0])) * step_y
        for c in range(width):
            cx = (f(c) + f(offsets[1])) * step_x
            for size, ratio in shapes:
                q = np.sqrt(ratio)
                half_w = size * f(height) / f(width) * q / f(2)
                half_h = size / q / f(2)
                rows.append((cx - half_w, cy - half_h, cx + half_w, cy + half_h))
    anchors = np.asarray(rows, dtype=dtype).reshape(1, -1, 4)
    if clip:  # a < 0 -> 0, a > 1 -> 1, as MXNet (so -0.0 stays -0.0)
        anchors = np.where(anchors < 0, dtype.type(0), np.where(anchors > 1, dtype.type(1), anchors))
    return anchors


def anchors(shapes=feature_map_shapes(max_side=4), params=prior_params(), dtype=np.float32):
    """Anchors (1, A, 4) from a drawn feature map shape and drawn MultiBoxPrior parameters.

    shapes, params: strategies (or fixed values) for (H, W) and MultiBoxPrior's keyword dict.
    Computed by ssdref's MultiBoxPrior when available, else the spec formula (`prior_boxes`).
    """
    dtype = _check_dtype("anchors", dtype)
    shapes = shapes if isinstance(shapes, st.SearchStrategy) else st.just(tuple(shapes))
    params = params if isinstance(params, st.SearchStrategy) else st.just(dict(params))
    return st.tuples(shapes, params).map(lambda sp: prior_boxes(sp[0], dtype=dtype, **sp[1]))


class SSDConfig(NamedTuple):
    """A small SSD's multibox geometry: one entry per feature layer, as example/ssd configures it."""
    num_classes: int                  # object classes (the class axis has num_classes + 1)
    feature_shapes: tuple             # ((H, W), ...) per layer, each about half the previous
    sizes: tuple                      # per layer, MultiBoxPrior sizes
    ratios: tuple                     # per layer, MultiBoxPrior ratios (ratios[0] == 1)
    steps: tuple                      # per layer, (step_y, step_x) or (-1, -1)
    clip: bool

    @property
    def num_anchors(self) -> int:
        return sum(h * w * (len(s) + len(r) - 1)
                   for (h, w), s, r in zip(self.feature_shapes, self.sizes, self.ratios))

    def anchors(self, dtype=np.float32) -> np.ndarray:
        """All layers' priors concatenated along the anchor axis, (1, A, 4), as multibox_layer does."""
        return np.concatenate([
            prior_boxes(shape, sizes=s, ratios=r, clip=self.clip, steps=step, dtype=dtype)
            for shape, s, r, step in zip(self.feature_shapes, self.sizes, self.ratios, self.steps)],
            axis=1)


@st.composite
def _ssd_configs(draw, max_layers, max_side, max_classes):
    num_layers = draw(st.integers(1, max_layers))
    height, width = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    shapes, sizes, ratios, steps = [], [], [], []
    # Growing sizes across layers, as SSD's scale ladder: layer k's sizes start at cell k + 1.
    base = draw(st.integers(1, 4))
    for k in range(num_layers):
        shapes.append((height, width))
        first = min(16, base + 4 * k)
        extra = draw(st.lists(st.integers(first + 1, 16), max_size=1)) if first < 16 else []
        sizes.append(tuple(c / 16 for c in [first] + extra))
        others = draw(st.lists(st.sampled_from(RATIO_CHOICES[1:]), max_size=2, unique=True))
        ratios.append((1.0,) + tuple(others))
        steps.append((-1.0, -1.0))
        height, width = (height + 1) // 2, (width + 1) // 2   # stride-2 layers, ceil
    return SSDConfig(num_classes=draw(st.integers(1, max_classes)), feature_shapes=tuple(shapes),
                     sizes=tuple(sizes), ratios=tuple(ratios), steps=tuple(steps),
                     clip=draw(st.booleans()))


def ssd_configs(max_layers=3, max_side=4, max_classes=3):
    """Whole small SSD configurations (SSDConfig): layers of halving feature maps, each with sizes
    (growing across layers), ratios (1 first, as example/ssd) and default steps; num_classes
    object classes; clip. `.num_anchors` and `.anchors(dtype)` give the concatenated priors.
    """
    if max_layers < 1 or max_side < 1 or max_classes < 1:
        raise ValueError(f"ssd_configs: max_layers, max_side, max_classes must be >= 1, got "
                         f"{max_layers}, {max_side}, {max_classes}")
    return _ssd_configs(max_layers, max_side, max_classes)
