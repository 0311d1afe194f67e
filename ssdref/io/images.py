"""Images for run-checkpoint: reading, resizing and the example/ssd detector's preprocessing.

Mirrors: example/ssd/dataset/iterator.py `DetIter._data_augmentation` (is_train=False) and
detect/detector.py (tag 1.9.1): the image is decoded as RGB uint8 (mx.img.imdecode, OpenCV), resized
with `mx.img.imresize(..., cv2.INTER_LINEAR)` (cv2.resize on uint8), transposed HWC -> CHW, cast to
float32 and the mean pixel (123, 117, 104) subtracted; no std. demo.py reads with cv2.imread (BGR)
and swaps to RGB for drawing.
Conventions that bite:
  * resize='bilinear' (default, no OpenCV): bilinear at pixel centres with edge clamping (cv2
    INTER_LINEAR's geometry) computed in float32, not OpenCV's fixed-point uint8 arithmetic: up to
    ~0.75 pixel value from cv2 (measured on real photos).
  * resize='opencv' (opencv-python-headless): pixels rounded to uint8 (as decoded files are), then
    cv2.resize(INTER_LINEAR) on the uint8 HWC image: the example's preprocessing exactly. Image files
    are then read with cv2.imread + BGR->RGB (OpenCV's decoder, as mx.img.imdecode).
  * An image already at the data shape is not resampled.
  * `.npy` holds (3, H, W) or (1, 3, H, W) RGB in 0..255; other files are read with matplotlib
    (PNG floats in 0..1 are scaled by 255; RGBA drops alpha; grey repeats) or OpenCV.
"""
from __future__ import annotations

import os

import numpy as np

MEAN_PIXELS = (123.0, 117.0, 104.0)
# GluonCV's transforms: RGB / 255, minus the ImageNet mean, over the ImageNet std (in 0..255 units)
GLUONCV_MEAN_PIXELS = (0.485 * 255, 0.456 * 255, 0.406 * 255)
GLUONCV_STD_PIXELS = (0.229 * 255, 0.224 * 255, 0.225 * 255)
RESIZE_METHODS = ("bilinear", "opencv")
IMAGE_SUFFIXES = (".npy", ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp")
_OP = "run-checkpoint"


def import_cv2():
    """cv2 (opencv-python-headless), or a one-line ImportError saying how to get it."""
    try:
        import cv2
    except ImportError:
        raise ImportError(f"{_OP}: --resize opencv needs OpenCV: pip install opencv-python-headless "
                          f"(not installed in this environment)") from None
    return cv2


def read_image(path, resize="bilinear") -> np.ndarray:
    """RGB pixels (3, H, W) float32 in 0..255 from a .npy array or an image file.

    resize='opencv' reads image files with cv2.imread and swaps BGR -> RGB (example/ssd's decoder)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{_OP}: IMAGE must be an existing file, got {str(path)!r}")
    if str(path).endswith(".npy"):
        try:
            image = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{_OP}: IMAGE {str(path)!r} must be a NumPy .npy array file, got an "
                             f"unreadable file ({exc})") from None
        return check_image(image, f"IMAGE {str(path)!r}")
    if resize == "opencv":
        cv2 = import_cv2()
        bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
        if bgr is None:
            raise ValueError(f"{_OP}: IMAGE {str(path)!r} must be an image file OpenCV reads, got an "
                             f"unreadable file")
        return np.ascontiguousarray(bgr[:, :, ::-1].transpose(2, 0, 1)).astype(np.float32)
    import matplotlib.image

    try:
        image = matplotlib.image.imread(path)
    except Exception as exc:    # PIL's UnidentifiedImageError, SyntaxError, ValueError, OSError...
        raise ValueError(f"{_OP}: IMAGE {str(path)!r} must be a .npy array or an image file "
                         f"matplotlib reads (PNG, JPEG...), got an unreadable file "
                         f"({type(exc).__name__}: {exc})") from None
    if image.dtype.kind == "f":           # PNG: floats in 0..1
        image = image * 255.0
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"{_OP}: IMAGE must be an RGB(A) or grey image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3].transpose(2, 0, 1)).astype(np.float32)


def image_paths(inputs) -> list:
    """The image files named by `inputs`: files as given, folders expanded to their image files
    (IMAGE_SUFFIXES, sorted by name). FileNotFoundError for a missing path or an empty folder."""
    paths = []
    for entry in inputs:
        entry = os.fspath(entry)
        if os.path.isdir(entry):
            found = sorted(os.path.join(entry, name) for name in os.listdir(entry)
                           if name.lower().endswith(IMAGE_SUFFIXES)
                           and os.path.isfile(os.path.join(entry, name)))
            if not found:
                raise FileNotFoundError(f"{_OP}: IMAGE folder {entry!r} must hold image files "
                                        f"({', '.join(IMAGE_SUFFIXES)}), got none")
            paths.extend(found)
        elif os.path.isfile(entry):
            paths.append(entry)
        else:
            raise FileNotFoundError(f"{_OP}: IMAGE must be an existing file or folder, got {entry!r}")
    return paths


def check_image(image, what="image") -> np.ndarray:
    """`image` as (3, H, W) float32 RGB pixels; (1, 3, H, W) is accepted, anything else refused."""
    if not isinstance(image, np.ndarray):
        raise TypeError(f"{_OP}: {what} must be a numpy array or a path, got {type(image).__name__}")
    if image.ndim == 4 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 3 or image.shape[0] != 3 or image.shape[1] == 0 or image.shape[2] == 0:
        raise ValueError(f"{_OP}: {what} must be a (3, H, W) RGB array with H, W > 0, got shape "
                         f"{image.shape}")
    if image.dtype.kind not in "biuf":
        raise TypeError(f"{_OP}: {what} must hold numbers (RGB pixels in 0..255), got dtype {image.dtype}")
    if not np.all(np.isfinite(image)):
        raise ValueError(f"{_OP}: {what} must hold finite pixel values, got NaN or inf")
    return image.astype(np.float32)


def resize_bilinear(image, height, width) -> np.ndarray:
    """(C, H, W) -> (C, height, width), bilinear at pixel centres with edge clamping (cv2 INTER_LINEAR)."""
    channels, in_h, in_w = image.shape
    if (in_h, in_w) == (height, width):
        return image.astype(np.float32)

    def taps(out_size, in_size):
        # centre of output pixel i lands at (i + 0.5) * scale - 0.5 in input pixels; clamp to the edge
        src = (np.arange(out_size, dtype=np.float32) + 0.5) * np.float32(in_size / out_size) - 0.5
        src = np.clip(src, 0, in_size - 1)
        low = np.floor(src).astype(np.int64)
        high = np.minimum(low + 1, in_size - 1)
        return low, high, (src - low).astype(np.float32)

    y0, y1, wy = taps(height, in_h)
    x0, x1, wx = taps(width, in_w)
    image = image.astype(np.float32)
    top = image[:, y0][:, :, x0] * (1 - wx) + image[:, y0][:, :, x1] * wx
    bottom = image[:, y1][:, :, x0] * (1 - wx) + image[:, y1][:, :, x1] * wx
    return (top * (1 - wy)[:, None] + bottom * wy[:, None]).astype(np.float32)


def resize_opencv(image, height, width) -> np.ndarray:
    """(3, H, W) -> (3, height, width) as mx.img.imresize(INTER_LINEAR): cv2.resize on uint8 HWC."""
    if image.shape[1:] == (height, width):
        return image.astype(np.float32)
    cv2 = import_cv2()
    pixels = np.clip(np.rint(image), 0, 255).astype(np.uint8).transpose(1, 2, 0)   # decoded files are uint8
    resized = cv2.resize(np.ascontiguousarray(pixels), (width, height), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(resized.transpose(2, 0, 1)).astype(np.float32)


def _height_width(data_shape) -> tuple:
    if isinstance(data_shape, (tuple, list)):
        return int(data_shape[0]), int(data_shape[1])
    return int(data_shape), int(data_shape)


def preprocess(image, data_shape, mean_pixels=MEAN_PIXELS, resize="bilinear", std_pixels=None) -> np.ndarray:
    """(3, H, W) RGB 0..255 -> network input (1, 3, S, S) float32: resize, minus the mean pixel,
    divided by std_pixels when given (GluonCV's models: ImageNet mean and std, GLUONCV_*).

    data_shape: S, or (height, width); resize: 'bilinear' or 'opencv' (module docstring)."""
    if resize not in RESIZE_METHODS:
        raise ValueError(f"{_OP}: resize must be one of {RESIZE_METHODS}, got {resize!r}")
    height, width = _height_width(data_shape)
    scale = resize_opencv if resize == "opencv" else resize_bilinear
    resized = scale(np.asarray(image, np.float32), height, width)
    mean = np.asarray(mean_pixels, np.float32).reshape(3, 1, 1)
    if std_pixels is None:
        return (resized - mean)[None].astype(np.float32)
    return ((resized - mean) / np.asarray(std_pixels, np.float32).reshape(3, 1, 1))[None].astype(np.float32)
