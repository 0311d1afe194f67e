"""`ssdref run-checkpoint`: an MXNet SSD checkpoint on images, as example/ssd's demo.py runs it.

Mirrors: example/ssd/demo.py (tag 1.9.1): `--nms`, `--force` (here `--force-nms`), `--thresh`
(here `--threshold`), `--data-shape`, `--mean-r/g/b` (here `--mean R G B`), several images as one
batch, and the detector's drawing (visualize_detection). Beyond it: `--save` writes the raw rows,
`--max-boxes` caps the table and the drawing (the highest scores first), `--topk` overrides
nms_topk, `--resize opencv` resizes with cv2 as the example's iterator does.
Saved detections: `.npy` the raw (B, A, 6) MultiBoxDetection array (-1 rows included); `.json`
{"prefix", "epoch", "data_shape", "images": [{"path", "height", "width", "detections": rows}]},
rows [class_id, score, xmin, ymin, xmax, ymax] with class_id >= 0, in the op's output order.
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

from ssdref.io.checkpoint import (checkpoint_paths, detect, load_checkpoint, resolve_data_shape,
                                  shown_rows)
from ssdref.io.images import MEAN_PIXELS, RESIZE_METHODS, image_paths, import_cv2, read_image

_OP = "run-checkpoint"
MAX_BOXES = 50


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


def save_detections(path, detections, paths, images, *, prefix, epoch, data_shape) -> None:
    """`path` .npy: the raw (B, A, 6) rows; .json: the valid rows per image (module docstring)."""
    if str(path).endswith(".npy"):
        np.save(path, np.asarray(detections))
        return
    entries = [dict(path=str(p), height=int(im.shape[1]), width=int(im.shape[2]),
                    detections=[[float(v) for v in row] for row in det[det[:, 0] >= 0]])
               for p, im, det in zip(paths, images, np.asarray(detections))]
    with open(path, "w") as f:
        json.dump(dict(prefix=str(prefix), epoch=int(epoch), data_shape=data_shape, images=entries), f,
                  indent=1)


def _drawing_paths(out, paths) -> list:
    """One PNG per image: `out` itself for one image, `out`/<image name>.png (a folder) for several."""
    if len(paths) == 1:
        return [out]
    folder = out[:-len(".png")] if out.endswith(".png") else out
    os.makedirs(folder, exist_ok=True)
    return [os.path.join(folder, f"{k:03d}_{os.path.splitext(os.path.basename(p))[0]}.png")
            for k, p in enumerate(paths)]


def _check_args(args) -> tuple:
    """(image paths, images) after the usage checks (exit 2 on each)."""
    from ssdref.errors import UsageError, check_out_file

    if args.out and len(args.images) == 1 and not os.path.isdir(args.images[0]):
        check_out_file(_OP, "--out", args.out)
    if args.save:
        check_out_file(_OP, "--save", args.save)
        if not args.save.endswith((".npy", ".json")):
            raise UsageError(f"{_OP}: --save must end in .npy or .json, got {args.save!r}")
    if args.data_shape is not None and args.data_shape <= 0:
        raise UsageError(f"{_OP}: --data-shape must be > 0, got {args.data_shape}")
    if args.max_boxes < 0:
        raise UsageError(f"{_OP}: --max-boxes must be >= 0 (0 for all), got {args.max_boxes}")
    if args.topk is not None and args.topk == 0:
        raise UsageError(f"{_OP}: --topk must be > 0 (or -1 for all), got 0")
    if args.resize == "opencv":
        try:
            import_cv2()
        except ImportError as exc:
            raise UsageError(str(exc)) from None
    try:    # the command's arguments: files that are missing or not what they must be (exit 2)
        checkpoint_paths(args.prefix, args.epoch)
        paths = image_paths(args.images)
        images = [read_image(p, args.resize) for p in paths]
    except (FileNotFoundError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    return paths, images


def _cmd_run_checkpoint(args) -> int:
    from ssdref.errors import UsageError

    paths, images = _check_args(args)
    symbol, arg_params, aux_params = load_checkpoint(args.prefix, args.epoch, nms_threshold=args.nms,
                                                     force_suppress=args.force_nms, nms_topk=args.topk)
    try:
        data_shape, source = resolve_data_shape(args.prefix, symbol, images, args.data_shape)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(f"data shape {data_shape} ({source}), {len(images)} image(s) in one batch")
    from ssdref.progress import status

    with status(f"{_OP}: {len(images)} image(s) through {os.path.basename(args.prefix)}"):
        detections = detect(symbol, arg_params, aux_params, images, data_shape,
                            mean_pixels=tuple(args.mean), allow_missing=args.allow_missing,
                            resize=args.resize)
    names = args.class_names.split(",") if args.class_names else None
    max_boxes = args.max_boxes or None
    drawings = _drawing_paths(args.out, paths) if args.out else [None] * len(paths)
    for k, (path, image, drawing) in enumerate(zip(paths, images, drawings)):
        every = shown_rows(detections, args.threshold, image=k)
        rows = every[:max_boxes]
        valid = int((detections[k, :, 0] >= 0).sum())
        capped = f", the best {len(rows)} shown (--max-boxes)" if len(rows) < len(every) else ""
        print(f"{args.prefix} epoch {args.epoch} on {path}: {valid} detections, "
              f"{len(every)} with score >= {args.threshold:g}{capped}")
        print(detections_table(rows, names, image.shape[1:]))
        if drawing:
            draw_detections(image, rows, drawing, names)
            print(f"wrote {drawing}")
    if args.save:
        save_detections(args.save, detections, paths, images, prefix=args.prefix, epoch=args.epoch,
                        data_shape=data_shape)
        print(f"wrote {args.save}")
    return 0


def _finite_float(text):
    """argparse type: a finite number (NaN or inf give argparse's one-line usage error)."""
    import argparse
    import math
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


def add_cli(subparsers) -> None:
    p = subparsers.add_parser("run-checkpoint", help="run an MXNet SSD checkpoint on images in ssdref "
                                                     "(example/ssd's demo.py)")
    p.add_argument("prefix", help="checkpoint prefix: PREFIX-symbol.json and PREFIX-EPOCH.params")
    p.add_argument("epoch", type=int, help="the checkpoint's epoch: reads PREFIX-%%04d.params")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="a .npy (3, H, W) RGB array in 0..255, an image file, or a folder of them; "
                        "several run as one batch")
    p.add_argument("--out", default="detections.png",
                   help="drawing of the detections ('' for none); with several images a folder "
                        "(default detections/) with one PNG per image")
    p.add_argument("--save", default="", metavar="OUT.npy|OUT.json",
                   help="write the raw detections: .npy the (B, A, 6) MultiBoxDetection rows, .json "
                        "the valid rows per image")
    p.add_argument("--threshold", type=_finite_float, default=0.5, help="score shown from (default 0.5)")
    p.add_argument("--max-boxes", type=int, default=MAX_BOXES,
                   help=f"most boxes listed and drawn per image, highest scores first (default "
                        f"{MAX_BOXES}; 0 for all)")
    p.add_argument("--data-shape", type=int, default=None,
                   help="network input size (default: the symbol's data __shape__, else the prefix's "
                        "_SIZE suffix as example/ssd names checkpoints, else a square image's size)")
    p.add_argument("--nms", type=_finite_float, default=None, metavar="THRESHOLD",
                   help="MultiBoxDetection nms_threshold (default: the symbol's)")
    p.add_argument("--force-nms", action=argparse.BooleanOptionalAction, default=None,
                   help="MultiBoxDetection force_suppress: suppress across classes (default: the symbol's)")
    p.add_argument("--topk", type=int, default=None,
                   help="MultiBoxDetection nms_topk: boxes kept before NMS, -1 for all (default: the symbol's)")
    p.add_argument("--resize", choices=RESIZE_METHODS, default="bilinear",
                   help="bilinear: NumPy, float32 (default); opencv: cv2.resize INTER_LINEAR on uint8 "
                        "and cv2.imread, as example/ssd (needs opencv-python-headless)")
    p.add_argument("--mean", type=float, nargs=3, default=MEAN_PIXELS, metavar=("R", "G", "B"),
                   help="mean pixel subtracted (default 123 117 104, the example's)")
    p.add_argument("--class-names", default="", help="comma-separated names for class ids 0, 1, ...")
    p.add_argument("--allow-missing", action="store_true",
                   help="run even if the .params lacks some parameters (they stay zero), as MXNet's "
                        "set_params(allow_missing=True)")
    p.set_defaults(func=_cmd_run_checkpoint)
