"""Synthetic shapes detection data: circles, squares and triangles on gradient backgrounds, VOC-style labels.

Stands in for example/ssd's VOC record iterator (`DetRecordIter`) so `ssdref demo` trains and evaluates
with no download. Everything is drawn with NumPy from a seed, and image `i` of a split depends only on
(seed, split, i): the same image whatever the batch size, order or number of images asked for.

Per image (H x W pixels, sampled at pixel centres x + 0.5, y + 0.5):
  * background: a linear gradient between two random colours in a random direction, plus Gaussian
    noise (sigma 6 grey levels);
  * 1-4 objects (min_objects..max_objects), class uniform over CLASS_NAMES, a square bounding box of side
    uniform in [min_size, max_size] x min(H, W) pixels placed fully inside the image; a placement is
    redrawn (up to 30 times, else the object is dropped; the first always fits) while it covers more than
    `max_overlap` of the smaller box of an object already placed, so objects overlap some but stay visible
    (later objects are drawn over earlier ones);
  * colour: random RGB at least 100 (Euclidean, 0-255 scale) from the background under the box centre;
  * shapes fill their box: a circle inscribed, the square itself, a triangle with its base on one side of
    the box and its apex at the middle of the opposite side (orientation up/down/left/right at random),
    so the box is the shape's exact bounding box.
Labels: (max_objects, 6) float32 rows [class, xmin, ymin, xmax, ymax, difficult] with corners normalized
to [0, 1] by W and H, difficult always 0, padded with rows of -1 (MultiBoxTarget stops at the first
row whose class is -1).
Normalization (documented choice): data = (rgb - mean_rgb) / std, NCHW float32, mean_rgb = the example's
(123, 117, 104) and std = 58 (about ImageNet's pixel std), so a net trained from scratch sees roughly
unit-scale inputs. std=1 gives the example's own mean subtraction.
"""
import numbers

import numpy as np

CLASS_NAMES = ("circle", "square", "triangle")
MEAN_RGB = (123.0, 117.0, 104.0)
STD = 58.0
SPLITS = {"train": 0, "val": 1, "test": 2}
_OP = "shapes"


def _data_shape(data_shape) -> tuple[int, int]:
    if isinstance(data_shape, numbers.Integral) and not isinstance(data_shape, bool):
        data_shape = (int(data_shape), int(data_shape))
    if (not isinstance(data_shape, (tuple, list)) or len(data_shape) != 2
            or not all(isinstance(d, numbers.Integral) and d >= 16 for d in data_shape)):
        raise ValueError(f"{_OP}: data_shape must be an int >= 16 or (height, width) of such ints, got {data_shape!r}")
    return int(data_shape[0]), int(data_shape[1])


def _background(rng, height, width):
    colours = rng.uniform(0, 255, size=(2, 3)).astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    along = ((np.arange(width, dtype=np.float32) + 0.5) * np.float32(np.cos(angle))
             + (np.arange(height, dtype=np.float32)[:, None] + 0.5) * np.float32(np.sin(angle)))
    t = (along - along.min()) / max(float(along.max() - along.min()), 1e-9)     # 0..1 across the image
    image = colours[0] + (colours[1] - colours[0]) * t[..., None]
    return image + np.float32(6.0) * rng.standard_normal(size=image.shape, dtype=np.float32)


def _cover_of_smaller(box, other):
    ix = max(0.0, min(box[2], other[2]) - max(box[0], other[0]))
    iy = max(0.0, min(box[3], other[3]) - max(box[1], other[1]))
    smaller = min((box[2] - box[0]) * (box[3] - box[1]), (other[2] - other[0]) * (other[3] - other[1]))
    return ix * iy / smaller


def _shape_mask(cls, box, orientation, xs, ys):
    """Pixels (centres xs, ys) inside the shape `cls` that fills `box` = [x0, y0, x1, y1] in pixels."""
    x0, y0, x1, y1 = box
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2
    if CLASS_NAMES[cls] == "circle":
        return (xs - cx) ** 2 + (ys - cy) ** 2 <= r * r
    if CLASS_NAMES[cls] == "square":
        return (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < y1)
    # triangle: apex at the middle of one side, base along the opposite side
    apex, base_a, base_b = {
        0: ((cx, y0), (x0, y1), (x1, y1)),     # pointing up
        1: ((cx, y1), (x1, y0), (x0, y0)),     # down
        2: ((x0, cy), (x1, y1), (x1, y0)),     # left
        3: ((x1, cy), (x0, y0), (x0, y1)),     # right
    }[orientation]
    corners = (apex, base_a, base_b)
    # Inside a triangle = on the same side of all three edges (edge functions all >= 0 or all <= 0).
    edges = [(bx - ax) * (ys - ay) - (by - ay) * (xs - ax)
             for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1])]
    return (np.minimum.reduce(edges) >= 0) | (np.maximum.reduce(edges) <= 0)


def render_image(rng, data_shape=64, *, min_objects=1, max_objects=4, min_size=0.2, max_size=0.5,
                 max_overlap=0.35):
    """One image: (uint8 (H, W, 3) RGB, float32 (n, 6) objects [cls, xmin, ymin, xmax, ymax, 0] normalized)."""
    height, width = _data_shape(data_shape)
    if not 1 <= min_objects <= max_objects:
        raise ValueError(f"{_OP}: need 1 <= min_objects <= max_objects, got {min_objects} and {max_objects}")
    if not 0 < min_size <= max_size <= 1:
        raise ValueError(f"{_OP}: need 0 < min_size <= max_size <= 1, got {min_size} and {max_size}")
    image = _background(rng, height, width)
    ys, xs = np.mgrid[0:height, 0:width] + 0.5
    side_scale = min(height, width)
    boxes, objects = [], []
    for _ in range(int(rng.integers(min_objects, max_objects + 1))):
        cls = int(rng.integers(0, len(CLASS_NAMES)))
        orientation = int(rng.integers(0, 4))
        for _attempt in range(30):
            side = rng.uniform(min_size, max_size) * side_scale
            x0, y0 = rng.uniform(0, width - side), rng.uniform(0, height - side)
            box = (x0, y0, x0 + side, y0 + side)
            if all(_cover_of_smaller(box, other) <= max_overlap for other in boxes):
                break
        else:
            continue
        centre_colour = image[min(int(box[1] + side / 2), height - 1), min(int(box[0] + side / 2), width - 1)]
        for _attempt in range(20):
            colour = rng.uniform(0, 255, size=3)
            if np.linalg.norm(colour - centre_colour) >= 100:
                break
        else:
            colour = 255.0 - centre_colour
        image[_shape_mask(cls, box, orientation, xs, ys)] = colour
        boxes.append(box)
        objects.append([cls, box[0] / width, box[1] / height, box[2] / width, box[3] / height, 0.0])
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8)
    return pixels, np.array(objects, np.float32).reshape(-1, 6)


def _image_rng(seed, split, index):
    if split not in SPLITS:
        raise ValueError(f"{_OP}: split must be one of {tuple(SPLITS)}, got {split!r}")
    return np.random.default_rng([int(seed), SPLITS[split], int(index)])


def make_images(num_images, data_shape=64, *, seed=0, split="train", start=0, max_objects=4, **render_kwargs):
    """Images start..start+num_images-1 of a split: (uint8 (N, H, W, 3), labels float32 (N, max_objects, 6))."""
    if isinstance(num_images, bool) or not isinstance(num_images, numbers.Integral) or num_images < 0:
        raise ValueError(f"{_OP}: num_images must be an int >= 0, got {num_images!r}")
    height, width = _data_shape(data_shape)
    images = np.empty((num_images, height, width, 3), np.uint8)
    labels = np.full((num_images, max_objects, 6), -1.0, np.float32)
    for k in range(num_images):
        pixels, objects = render_image(_image_rng(seed, split, start + k), (height, width),
                                       max_objects=max_objects, **render_kwargs)
        images[k] = pixels
        labels[k, :len(objects)] = objects
    return images, labels


def normalize(images, mean_rgb=MEAN_RGB, std=STD):
    """uint8 (N, H, W, 3) RGB -> float32 (N, 3, H, W) = (rgb - mean_rgb) / std."""
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[3] != 3:
        raise ValueError(f"{_OP}: images must have shape (N, H, W, 3), got {images.shape}")
    mean = np.asarray(mean_rgb, np.float32).reshape(1, 3, 1, 1)
    return ((images.transpose(0, 3, 1, 2).astype(np.float32) - mean) / np.float32(std)).astype(np.float32)


def denormalize(data, mean_rgb=MEAN_RGB, std=STD):
    """float32 (N, 3, H, W) network input -> uint8 (N, H, W, 3) RGB, for drawing."""
    mean = np.asarray(mean_rgb, np.float32).reshape(1, 3, 1, 1)
    rgb = np.asarray(data, np.float32) * np.float32(std) + mean
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8).transpose(0, 2, 3, 1)


def load_split(split, num_images, data_shape=64, *, seed=0, mean_rgb=MEAN_RGB, std=STD, **kwargs):
    """A whole split as network input: (data float32 (N, 3, H, W), label float32 (N, max_objects, 6))."""
    images, labels = make_images(num_images, data_shape, seed=seed, split=split, **kwargs)
    return normalize(images, mean_rgb, std), labels


def train_val_split(num_train, num_val, data_shape=64, *, seed=0, **kwargs):
    """((train_data, train_label), (val_data, val_label)): disjoint, independently seeded splits."""
    return (load_split("train", num_train, data_shape, seed=seed, **kwargs),
            load_split("val", num_val, data_shape, seed=seed, **kwargs))


class ShapesIter:
    """Batches (data (B, 3, H, W) float32, label (B, max_objects, 6) float32) over one split.

    Images are rendered once, on first use, and kept as uint8. shuffle (default: True for 'train')
    draws a new order each epoch from (seed, split, epoch); reset() starts the next epoch. last_batch:
    'discard' drops a short final batch, 'pad' fills it from the start of the epoch's order (MXNet's
    `pad`; `self.pad` says how many rows are padding), 'keep' yields it short.
    """

    def __init__(self, num_images, batch_size, data_shape=64, *, seed=0, split="train", shuffle=None,
                 last_batch="discard", mean_rgb=MEAN_RGB, std=STD, max_objects=4, **render_kwargs):
        if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
            raise ValueError(f"{_OP}: batch_size must be an int >= 1, got {batch_size!r}")
        if last_batch not in ("discard", "pad", "keep"):
            raise ValueError(f"{_OP}: last_batch must be 'discard', 'pad' or 'keep', got {last_batch!r}")
        _image_rng(seed, split, 0)     # validates split
        self.num_images = int(num_images)
        self.batch_size = int(batch_size)
        self.data_shape = _data_shape(data_shape)
        self.seed, self.split = seed, split
        self.shuffle = (split == "train") if shuffle is None else bool(shuffle)
        self.last_batch = last_batch
        self.mean_rgb, self.std = mean_rgb, std
        self.max_objects = max_objects
        self._render_kwargs = render_kwargs
        self._images = self._labels = None
        self.epoch = 0
        self.pad = 0
        height, width = self.data_shape
        self.provide_data = [("data", (self.batch_size, 3, height, width))]
        self.provide_label = [("label", (self.batch_size, max_objects, 6))]

    def _ensure_rendered(self):
        if self._images is None:
            self._images, self._labels = make_images(self.num_images, self.data_shape, seed=self.seed,
                                                     split=self.split, max_objects=self.max_objects,
                                                     **self._render_kwargs)

    def __len__(self):
        full, rest = divmod(self.num_images, self.batch_size)
        return full + (1 if rest and self.last_batch != "discard" else 0)

    def reset(self):
        self.epoch += 1

    def order(self):
        """This epoch's image order."""
        if not self.shuffle:
            return np.arange(self.num_images)
        rng = np.random.default_rng([int(self.seed), SPLITS[self.split], 1_000_003, self.epoch])
        return rng.permutation(self.num_images)

    def __iter__(self):
        self._ensure_rendered()
        order = self.order()
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            picked = order[start:start + self.batch_size]
            self.pad = 0
            if len(picked) < self.batch_size and self.last_batch == "pad":
                self.pad = self.batch_size - len(picked)
                picked = np.concatenate([picked, np.resize(order, self.pad)])
            yield normalize(self._images[picked], self.mean_rgb, self.std), self._labels[picked].copy()
