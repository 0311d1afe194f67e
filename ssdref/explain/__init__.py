"""`ssdref explain`: one synthetic image through SSD's training step, stage by stage, with numbers and figures.

    from ssdref.explain import explain
    report = explain(image_index=0, out="explain-out", seed=0)   # writes explain.md + PNGs
    report.num_positive, report.cls_loss, report.after_nms        # the numbers behind them

The network is the seed's `get_symbol_train` (../shared/seed/symbol_builder.py run on ssdref; ssdref's
own `ssdref.model.get_symbol_train`, the same graph, when the seed file is absent) for `network` at
`data_shape`, configured by `get_config(network, data_shape, num_classes, **config)` (`config=DEMO_CONFIG`
of ssdref.demo, `--demo-config`, for the demo's network and checkpoints), with Xavier-initialised
parameters (seeded), a checkpoint (`params=PREFIX, epoch=N`, MXNet's `.params` format), or
`train_epochs` of `ssdref.train.train_ssd` (the demo's quick learning-rate schedule) first. The
stages and their spec sections: priors (§1), IoU matching and hard negative mining (§2), encoded
targets (§2.6), the two losses and their normalizers (§4.4), decoding and NMS (§3). See trace.py for
the conventions.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ssdref.explain.trace import Trace, TraceMismatch, trace

__all__ = ["FIGURES", "Report", "Trace", "TraceMismatch", "add_cli", "build_train_symbol", "explain", "run_network"]

FIGURES = ("image", "anchors", "iou", "matches", "mining", "targets", "losses", "detections")


@dataclass(frozen=True)
class Report:
    """What explain wrote (`markdown`, `figures`: name -> path) and the Trace; trace fields read through."""

    trace: Trace
    out: str
    markdown: str
    figures: dict
    params_source: str
    builder: str

    def __getattr__(self, name):
        if name == "trace":        # not yet set (unpickling): avoid recursion
            raise AttributeError(name)
        return getattr(self.trace, name)


def _class_names(num_classes):
    from ssdref.data.shapes import CLASS_NAMES

    if num_classes == len(CLASS_NAMES):
        return CLASS_NAMES
    return tuple(f"class {k}" for k in range(num_classes))


def build_train_symbol(network="tiny", data_shape=64, num_classes=3, **overrides):
    """(symbol, config, builder): ssdref.train.build_symbols, i.e. the seed's get_symbol_train if its
    file is found, else ssdref.model's (the same graph); `builder` says which."""
    from ssdref.train import build_symbols

    return build_symbols(network, data_shape, num_classes, config=overrides or None)


def run_network(symbol, data, label, arg_params=None, aux_params=None, seed=0):
    """One forward pass of the training symbol plus the internals explain needs -> dict of arrays.

    Parameters missing from arg_params are initialised exactly as train_ssd starts training: the
    example's Xavier(rnd_type='gaussian', factor_type='out', magnitude=2) from a Generator seeded by
    [seed, 7], and the variables' own `__init__` attributes (the L2Norm scale 20, zero head biases)."""
    import ssdref as mx
    from ssdref.model.init import Xavier, init_params

    internals = symbol.get_internals()
    wanted = {"loc_pred": "multibox_loc_pred_output", "cls_pred": "multibox_cls_pred_output",
              "anchors": "multibox_anchors_output"}
    group = mx.sym.Group([symbol] + [internals[name] for name in wanted.values()])
    executor = group.simple_bind(grad_req="null", data=data.shape, label=label.shape)
    params = {k: v for k, v in executor.arg_dict.items() if k not in ("data", "label")}
    init_params(Xavier(rnd_type="gaussian", factor_type="out", magnitude=2), params, executor.aux_dict,
                group.attr_dict(), rng=np.random.default_rng([int(seed), 7]))
    if arg_params:
        try:
            executor.copy_params_from(arg_params, aux_params or {}, allow_extra_params=True)
        except ValueError as exc:
            raise ValueError(f"explain: the parameters must fit the graph built from network, "
                             f"data_shape, num_classes and config (the demo's checkpoints need "
                             f"--demo-config), got a mismatch: {exc}") from None
    outs = executor.forward(is_train=False, data=data, label=label)
    names = ["cls_prob", "loc_loss", "cls_label", "det_out"] + list(wanted)
    return dict(zip(names, outs)), internals


def _parameters(network, data_shape, num_classes, seed, params, epoch, train_epochs, progress, config):
    """(arg_params, aux_params, description) from a checkpoint, a short training, or None (Xavier)."""
    if params is not None:
        from ssdref.io.mxnet_params import checkpoint_params_path, load_params

        if epoch is None:
            raise ValueError("explain: epoch must be given with params (the checkpoint's number), got None")
        path = checkpoint_params_path(params, epoch)
        if not os.path.isfile(path):
            raise ValueError(f"explain: params must name an existing checkpoint, got {path!r} (no such file)")
        arg_params, aux_params = load_params(path)
        return arg_params, aux_params, f"checkpoint {path}"
    if train_epochs and train_epochs > 0:
        try:
            from ssdref.train import train_ssd
        except ImportError as exc:
            raise ValueError("explain: train_epochs > 0 needs ssdref.train.train_ssd, which this "
                             "checkout does not have yet") from exc
        from ssdref.demo import SETTINGS

        # The demo's quick schedule (lr 0.1, warm-up, one decay if it falls inside the run); it trains
        # well with the demo's config, while get_config('tiny')'s L2 normalization collapses to background.
        quick = SETTINGS["quick"]
        schedule = dict(num_train=quick["num_train"], learning_rate=quick["learning_rate"],
                        warmup_steps=quick["warmup_steps"],
                        lr_steps=[s for s in quick["lr_steps"] if s < train_epochs])
        result = train_ssd(network=network, data_shape=data_shape, num_classes=num_classes, config=config,
                           epochs=train_epochs, seed=seed, progress=progress, **schedule)
        return result.arg_params, result.aux_params, f"train_ssd, {train_epochs} epochs, seed {seed}"
    return None, None, f"untrained (Xavier, seed {seed})"


def explain(image_index=0, out="explain-out", seed=0, *, network="tiny", data_shape=64, num_classes=3,
            split="val", config=None, params=None, epoch=None, train_epochs=0, arg_params=None,
            aux_params=None, nms_threshold=None, nms_topk=400, figures=True, progress=False,
            image=None, std=None, checkpoint_symbol=True) -> Report:
    """Trace image `image_index` of the synthetic shapes `split` (seeded by `seed`) through SSD, or
    the image file `image` (no ground truth; ssdref.explain.inputs).

    Writes `out`/explain.md and, with figures=True, `out`/NN_<stage>.png (matplotlib, Agg).
    config: keyword overrides of get_config(network, data_shape, num_classes) (ssdref.demo.DEMO_CONFIG
    for the demo's network); the parameters must fit the graph it builds. Parameters: arg_params/
    aux_params if given, else a checkpoint (params=PREFIX, epoch=N), else train_epochs of train_ssd,
    else untrained Xavier. nms_threshold: default the config's nms_thresh, else the seed's 0.5;
    nms_topk: the seed's 400. std: the divisor of (rgb - mean) (default the synthetic set's 58;
    1 for example/ssd checkpoints). With params=PREFIX and PREFIX-symbol.json present (and
    checkpoint_symbol=True), the checkpoint's own training symbol is traced: its anchors, classes
    and NMS settings; network, num_classes, config and the NMS arguments are then not used.
    """
    from ssdref.data import shapes
    from ssdref.explain import inputs

    if image is None and (isinstance(image_index, bool) or not isinstance(image_index, (int, np.integer))
                          or image_index < 0):
        raise ValueError(f"explain: image_index must be an int >= 0, got {image_index!r}")
    std = shapes.STD if std is None else float(std)
    if not std > 0:
        raise ValueError(f"explain: std must be > 0, got {std!r}")
    own = inputs.checkpoint_symbol(params, data_shape) if params is not None and checkpoint_symbol else None
    if own is not None:
        symbol, graph_config, num_classes = own
        nms_threshold, nms_topk = graph_config["nms_thresh"], graph_config["nms_topk"]
        network = f"{os.path.basename(params)}-symbol.json"
        builder = f"the checkpoint's own {network}"
        config = None
    else:
        overrides = dict(config or {})
        if nms_threshold is None:
            nms_threshold = float(overrides.get("nms_thresh", 0.5))
        overrides.update(nms_thresh=nms_threshold, nms_topk=nms_topk)
        symbol, graph_config, builder = build_train_symbol(network, data_shape, num_classes, **overrides)
    if builder.startswith("seed "):        # no machine-specific path in the written report
        builder = f"the seed's {os.path.basename(builder[len('seed '):])}"
    if arg_params is not None:
        source = "parameters given"
    else:
        arg_params, aux_params, source = _parameters(network, data_shape, num_classes, seed, params, epoch,
                                                     train_epochs, progress, config)
    if image is not None:
        images, data, labels = inputs.image_input(image, data_shape, shapes.MEAN_RGB, std)
    else:
        images, labels = shapes.make_images(1, data_shape, seed=seed, split=split, start=int(image_index))
        data = shapes.normalize(images, shapes.MEAN_RGB, std)
    outputs, internals = run_network(symbol, data, labels, arg_params, aux_params, seed)
    result = trace(network=network, data_shape=data_shape, num_classes=num_classes,
                   class_names=_class_names(num_classes), image=images[0], label=labels[0],
                   config=graph_config, internals=internals,
                   outputs=outputs, nms_threshold=nms_threshold, nms_topk=nms_topk)
    os.makedirs(out, exist_ok=True)
    written = {}
    if figures:
        from ssdref.explain.figures import write_figures

        written = write_figures(result, out)
    from ssdref.explain.markdown import write_markdown

    context = dict(image_index=None if image is not None else int(image_index), image=image, split=split,
                   seed=seed, params_source=source, builder=builder, config=dict(config or {}),
                   own_symbol=own is not None, std=std)
    markdown = write_markdown(result, out, written, context)
    return Report(result, out, markdown, written, source, builder)


def _image_argument(text):
    """--image: an index into the synthetic set (digits) or an image file path."""
    return int(text) if text.lstrip("-").isdigit() else text


def _check_cli_args(args) -> None:
    """UsageError (exit 2) for arguments that cannot build a graph or find a checkpoint."""
    from ssdref.errors import UsageError
    from ssdref.model import get_config

    if isinstance(args.image, int) and args.image < 0:
        raise UsageError(f"explain: --image must be >= 0, got {args.image}")
    if isinstance(args.image, str) and not os.path.isfile(args.image):
        raise UsageError(f"explain: --image must be an index into the synthetic set or an existing "
                         f"image file, got {args.image!r}")
    for option, least in (("--data-shape", 1), ("--num-classes", 1), ("--train-epochs", 0)):
        value = getattr(args, option[2:].replace("-", "_"))
        if value < least:
            raise UsageError(f"explain: {option} must be >= {least}, got {value}")
    if not args.std > 0:
        raise UsageError(f"explain: --std must be > 0, got {args.std}")
    try:
        get_config(args.network, args.data_shape, num_classes=args.num_classes)
    except (ValueError, NotImplementedError) as exc:
        raise UsageError(f"explain: --network/--data-shape/--num-classes: {exc}") from None
    if args.params is not None and args.epoch is None:
        raise UsageError(f"explain: --epoch must be given with --params (the checkpoint's number: "
                         f"{args.params}-EPOCH.params), got none")
    if args.params is None and args.epoch is not None:
        raise UsageError(f"explain: --epoch needs --params (the checkpoint's prefix), got --epoch "
                         f"{args.epoch} alone")
    if os.path.exists(args.out) and not os.path.isdir(args.out):
        raise UsageError(f"explain: --out must be a folder, got the file {args.out!r}")


def _cmd_explain(args) -> int:
    from contextlib import nullcontext

    from ssdref.progress import status

    if args.data_shape is None:
        from ssdref.io.checkpoint import checkpoint_data_shape

        found = checkpoint_data_shape(args.params)[0] if args.params is not None else None
        args.data_shape = found if isinstance(found, int) else 64
    _check_cli_args(args)
    config = None
    if args.demo_config:
        from ssdref.demo import DEMO_CONFIG as config
    image_index, image = (args.image, None) if isinstance(args.image, int) else (0, args.image)
    # training shows its own tqdm bar; the status line covers the untrained forward pass and figures
    shown = nullcontext() if args.train_epochs else status("explain: tracing the image through SSD")
    with shown:
        report = explain(image_index, args.out, args.seed, network=args.network, data_shape=args.data_shape,
                         num_classes=args.num_classes, split=args.split, config=config,
                         params=args.params, epoch=args.epoch, train_epochs=args.train_epochs,
                         figures=not args.no_figures, progress=True, image=image, std=args.std,
                         checkpoint_symbol=not args.no_checkpoint_symbol)
    from ssdref.explain.markdown import summary

    print(summary(report.trace, report.params_source))
    print(f"wrote {report.markdown} and {len(report.figures)} figures to {report.out}/")
    return 0


def add_cli(subparsers) -> None:
    """The `explain` subcommand."""
    from ssdref.cli import NETWORKS
    from ssdref.data.shapes import STD

    p = subparsers.add_parser("explain", help="one image through SSD stage by stage: Markdown + PNGs")
    p.add_argument("--image", type=_image_argument, default=0, metavar="INDEX|PATH",
                   help="index of the synthetic image (default 0), or an image file (.npy (3, H, W) RGB "
                        "0..255, PNG, JPEG...: resized to the data shape, no ground truth)")
    p.add_argument("--split", default="val", choices=("train", "val", "test"),
                   help="the synthetic split --image indexes (default val)")
    p.add_argument("--out", default="explain-out", help="folder for explain.md and the PNGs")
    p.add_argument("--seed", type=int, default=0, help="data, initialisation and training seed")
    p.add_argument("--network", default="tiny", choices=NETWORKS,
                   help="get_config network the training symbol is built for (default tiny)")
    p.add_argument("--data-shape", type=int, default=None,
                   help="network input size (default: the checkpoint's with --params when it records one, "
                        "else 64)")
    p.add_argument("--num-classes", type=int, default=3,
                   help="object classes, background excluded (default 3, the synthetic shapes')")
    p.add_argument("--std", type=float, default=STD,
                   help=f"data = (rgb - mean) / std (default {STD:g}, the synthetic set's and the demo's; "
                        f"1 for example/ssd checkpoints)")
    p.add_argument("--demo-config", action="store_true",
                   help="the demo's network (ssdref.demo.DEMO_CONFIG: no L2 normalization, one ratio per "
                        "layer, NMS 0.45), as `ssdref demo` checkpoints and docs/figures/tiny-0008 need")
    p.add_argument("--params", default=None, metavar="PREFIX",
                   help="load checkpoint PREFIX-%%04d.params; its PREFIX-symbol.json, when present, is "
                        "the graph traced")
    p.add_argument("--epoch", type=int, default=None, help="the checkpoint's epoch (with --params)")
    p.add_argument("--no-checkpoint-symbol", action="store_true",
                   help="build the graph from --network/--demo-config even when PREFIX-symbol.json exists")
    p.add_argument("--train-epochs", type=int, default=0,
                   help="train this many epochs with ssdref.train.train_ssd first, with the demo's quick "
                        "learning-rate schedule (0: untrained; add --demo-config, or training collapses)")
    p.add_argument("--no-figures", action="store_true", help="write explain.md only")
    p.set_defaults(func=_cmd_explain)
