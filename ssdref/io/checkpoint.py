"""Run an MXNet SSD checkpoint (`<prefix>-symbol.json` + `<prefix>-<epoch:04d>.params`) in ssdref.

Mirrors: python/mxnet/model.py `load_checkpoint` and example/ssd/detect/detector.py (tag 1.9.1): the
deploy graph is built from the symbol as example/ssd/deploy.py does, the image is fed the way the
example's `Detector` feeds it, and detections print and draw as `demo.py` shows them.
Conventions that bite:
  * A *train* symbol (outputs cls_prob, loc_loss, cls_label, det_out) is turned into the deploy
    graph: its MultiBoxDetection node (`detection`) is rebuilt over `softmax(axis=1)` of the
    SoftmaxOutput's input (SoftmaxOutput's forward is that softmax, bit for bit, spec §4.1), so no
    `label` input is needed. A deploy symbol (head = MultiBoxDetection) runs as it is.
  * Preprocessing (the example's detector): RGB pixels in 0..255, resized to data_shape x data_shape
    with bilinear interpolation at pixel centres (cv2.INTER_LINEAR's geometry, computed in float32:
    not OpenCV's fixed-point uint8 rounding, so a resized image is not bit-exact with cv2), HWC ->
    CHW, minus the mean pixel (123, 117, 104), no scaling by a std. An image already at the data
    shape is not resampled.
  * Images: `.npy` holds (3, H, W) or (1, 3, H, W) RGB pixel values in 0..255; other files are read
    with matplotlib (PNG gives floats in 0..1, scaled by 255; RGBA drops alpha, grey repeats).
  * Detections are the raw (1, A, 6) MultiBoxDetection rows; the table and drawing keep rows with
    class_id >= 0 and score >= --threshold (demo.py's `--thresh`, default 0.5).
"""
from __future__ import annotations

import os

import numpy as np

from ssdref.io.mxnet_params import checkpoint_params_path, load_params

MEAN_PIXELS = (123.0, 117.0, 104.0)
DETECTION_OP = "_contrib_MultiBoxDetection"
_OP = "run-checkpoint"


# ---------------------------------------------------------------------------- the graph
def deploy_symbol(symbol):
    """The deploy graph of an SSD symbol: the MultiBoxDetection head over a channel softmax.

    A train symbol's `detection` node reads SoftmaxOutput 'cls_prob'; it is rebuilt over
    softmax(cls_preds, axis=1) named 'cls_prob', with the same loc_preds, anchors and attributes.
    """
    from ssdref import sym
    from ssdref.autograd.symbol import Symbol

    nodes = [n for n in symbol._nodes() if n.op is not None and n.op.name == DETECTION_OP]
    if not nodes:
        raise ValueError(f"{_OP}: symbol must contain a {DETECTION_OP} node (an SSD train or deploy "
                         f"symbol), got outputs {symbol.list_outputs()}")
    named = [n for n in nodes if n.name == "detection"]
    detection = (named or nodes)[-1]
    cls_entry, loc_entry, anchor_entry = detection.inputs[:3]
    source = cls_entry[0]
    if source.op is not None and source.op.name == "SoftmaxOutput":
        cls_prob = sym.softmax(Symbol([source.inputs[0]]), axis=1, name=source.name)
    elif len(symbol._outputs) == 1 and symbol._outputs[0][0] is detection:
        return symbol
    else:
        cls_prob = Symbol([cls_entry])
    attrs = {k: v for k, v in detection.attrs.items() if not (k.startswith("__") and k.endswith("__"))}
    return sym.contrib.MultiBoxDetection(cls_prob, Symbol([loc_entry]), Symbol([anchor_entry]),
                                         name=detection.name, **attrs)


def checkpoint_paths(prefix, epoch) -> tuple:
    """(`<prefix>-symbol.json`, `<prefix>-<epoch:04d>.params`); FileNotFoundError unless both exist."""
    json_path = f"{prefix}-symbol.json"
    params_path = checkpoint_params_path(prefix, epoch)
    for path in (json_path, params_path):
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{_OP}: checkpoint file {path} does not exist")
    return json_path, params_path


def load_checkpoint(prefix, epoch):
    """(deploy symbol, arg_params, aux_params) of `<prefix>-symbol.json` + `<prefix>-<epoch>.params`."""
    from ssdref import sym

    json_path, params_path = checkpoint_paths(prefix, epoch)
    arg_params, aux_params = load_params(params_path)
    return deploy_symbol(sym.load(json_path)), arg_params, aux_params


# ---------------------------------------------------------------------------- the image
def read_image(path) -> np.ndarray:
    """RGB pixels (3, H, W) float32 in 0..255 from a .npy array or an image file (matplotlib)."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{_OP}: IMAGE must be an existing file, got {str(path)!r}")
    if str(path).endswith(".npy"):
        try:
            image = np.load(path, allow_pickle=False)
        except (ValueError, OSError, EOFError) as exc:
            raise ValueError(f"{_OP}: IMAGE {str(path)!r} must be a NumPy .npy array file, got an "
                             f"unreadable file ({exc})") from None
        return check_image(image, f"IMAGE {str(path)!r}")
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


def preprocess(image, data_shape, mean_pixels=MEAN_PIXELS) -> np.ndarray:
    """(3, H, W) RGB 0..255 -> network input (1, 3, S, S) float32: resize, minus the mean pixel."""
    resized = resize_bilinear(np.asarray(image, np.float32), data_shape, data_shape)
    mean = np.asarray(mean_pixels, np.float32).reshape(3, 1, 1)
    return (resized - mean)[None].astype(np.float32)


# ---------------------------------------------------------------------------- running
def missing_params(executor, arg_params, aux_params) -> list:
    """Names of the executor's parameters (arguments but `data`, auxiliary states) given no value."""
    return ([name for name in executor.arg_dict if name != "data" and name not in arg_params]
            + [name for name in executor.aux_dict if name not in aux_params])


def run_checkpoint(prefix, epoch, image, *, data_shape=None, mean_pixels=MEAN_PIXELS,
                   allow_missing=False) -> np.ndarray:
    """MultiBoxDetection rows (1, A, 6) of the checkpoint on `image` ((3, H, W) array or a path).

    As MXNet's Module.set_params, a parameter of the symbol missing from the .params file is an
    error unless allow_missing=True (then it stays zero, as the Module's bound arrays do)."""
    symbol, arg_params, aux_params = load_checkpoint(prefix, epoch)
    image = check_image(image) if isinstance(image, np.ndarray) else read_image(image)
    if data_shape is None:
        data_shape = image.shape[1] if image.shape[1] == image.shape[2] else 300
    if isinstance(data_shape, bool) or not isinstance(data_shape, (int, np.integer)) or data_shape <= 0:
        raise ValueError(f"{_OP}: data_shape must be an integer > 0, got {data_shape!r}")
    mean = np.asarray(mean_pixels, np.float64)
    if mean.shape != (3,) or not np.all(np.isfinite(mean)):
        raise ValueError(f"{_OP}: mean_pixels must be 3 finite numbers (R, G, B), got {mean_pixels!r}")
    data = preprocess(image, int(data_shape), mean_pixels)
    executor = symbol.simple_bind(grad_req="null", data=data.shape)
    missing = missing_params(executor, arg_params, aux_params)
    if missing and not allow_missing:
        shown = ", ".join(missing[:8]) + (", ..." if len(missing) > 8 else "")
        raise ValueError(f"{_OP}: the .params file must hold every parameter of the symbol (MXNet's "
                         f"set_params refuses missing ones unless allow_missing=True), got "
                         f"{len(missing)} missing: {shown}")
    try:
        executor.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    except ValueError as exc:
        raise ValueError(f"{_OP}: the .params file must fit the symbol at data_shape {data_shape}, "
                         f"got {exc}") from None
    return executor.forward(is_train=False, data=data)[0]


def shown_rows(detections, threshold):
    """The valid rows (class_id >= 0) of image 0 with score >= threshold, by score descending."""
    rows = np.asarray(detections)[0]
    rows = rows[(rows[:, 0] >= 0) & (rows[:, 1] >= threshold)]
    return rows[np.argsort(-rows[:, 1], kind="stable")]


def detections_table(rows, class_names=None, image_size=None) -> str:
    from ssdref.report import format_table

    table = []
    for row in rows:
        cls = int(row[0])
        name = class_names[cls] if class_names and cls < len(class_names) else str(cls)
        box = [float(v) for v in row[2:]]
        pixels = ""
        if image_size is not None:
            h, w = image_size
            pixels = "%d %d %d %d" % (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
        table.append([name, float(row[1]), *box, pixels])
    return format_table(["class", "score", "xmin", "ymin", "xmax", "ymax", "pixels (x0 y0 x1 y1)"],
                        table, align="lrrrrrl")


def draw_detections(image, rows, out, class_names=None) -> None:
    """The image with its shown detections as labelled rectangles, written to `out` (PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    pixels = np.clip(np.asarray(image, np.float32).transpose(1, 2, 0) / 255.0, 0, 1)
    height, width = pixels.shape[:2]
    figure = Figure(figsize=(6, 6 * height / width))
    FigureCanvasAgg(figure)
    ax = figure.add_axes([0, 0, 1, 1])
    ax.imshow(pixels)
    ax.set_axis_off()
    colours = ["tab:red", "tab:blue", "tab:green", "tab:orange", "tab:purple", "tab:cyan"]
    for row in rows:
        cls = int(row[0])
        x0, y0, x1, y1 = row[2] * width, row[3] * height, row[4] * width, row[5] * height
        colour = colours[cls % len(colours)]
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor=colour, linewidth=2))
        name = class_names[cls] if class_names and cls < len(class_names) else str(cls)
        ax.text(x0, y0, f"{name} {row[1]:.2f}", color="white", fontsize=9, va="bottom",
                bbox=dict(facecolor=colour, alpha=0.6, pad=1, edgecolor="none"))
    figure.savefig(out)


def _cmd_run_checkpoint(args) -> int:
    from ssdref.errors import UsageError, check_out_file

    if args.out:
        check_out_file(_OP, "--out", args.out)
    if args.data_shape is not None and args.data_shape <= 0:
        raise UsageError(f"{_OP}: --data-shape must be > 0, got {args.data_shape}")
    try:    # the command's arguments: files that are missing or not what they must be (exit 2)
        checkpoint_paths(args.prefix, args.epoch)
        image = read_image(args.image)
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    detections = run_checkpoint(args.prefix, args.epoch, image, data_shape=args.data_shape,
                                mean_pixels=tuple(args.mean), allow_missing=args.allow_missing)
    names = args.class_names.split(",") if args.class_names else None
    rows = shown_rows(detections, args.threshold)
    valid = int((detections[0, :, 0] >= 0).sum())
    print(f"{args.prefix} epoch {args.epoch} on {args.image}: {valid} detections, "
          f"{len(rows)} with score >= {args.threshold:g}")
    print(detections_table(rows, names, image.shape[1:]))
    if args.out:
        draw_detections(image, rows, args.out, names)
        print(f"wrote {args.out}")
    return 0


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("run-checkpoint", help="run an MXNet SSD checkpoint on an image in ssdref")
    p.add_argument("prefix", help="checkpoint prefix: PREFIX-symbol.json and PREFIX-EPOCH.params")
    p.add_argument("epoch", type=int)
    p.add_argument("image", help="a .npy (3, H, W) RGB array in 0..255, or an image file")
    p.add_argument("--out", default="detections.png", help="drawing of the detections ('' for none)")
    p.add_argument("--threshold", type=float, default=0.5, help="score shown from (default 0.5)")
    p.add_argument("--data-shape", type=int, default=None,
                   help="network input size (default: the image's size when square, else 300)")
    p.add_argument("--mean", type=float, nargs=3, default=MEAN_PIXELS, metavar=("R", "G", "B"),
                   help="mean pixel subtracted (default 123 117 104, the example's)")
    p.add_argument("--class-names", default="", help="comma-separated names for class ids 0, 1, ...")
    p.add_argument("--allow-missing", action="store_true",
                   help="run even if the .params lacks some parameters (they stay zero), as MXNet's "
                        "set_params(allow_missing=True)")
    p.set_defaults(func=_cmd_run_checkpoint)
