"""`ssdref export-onnx`: write the SSD deploy graph as ONNX, then check it as the README promises.

The check: onnx.checker with full_check=True (shape inference included), then, when onnxruntime is
importable, one run in ONNX Runtime on a seeded random image compared with ssdref's own executor
(`runtime_check`): ssdref's cls_prob / loc_preds / anchors through the 'onnx' preset of
MultiBoxDetection (`onnx_export.reference_detections`, NMS with `>`), tie-aware
(`assert_detections_equal`). It prints the result; a mismatch exits 1.
With --params PREFIX: the symbol is PREFIX-symbol.json when present, --epoch defaults to the
checkpoint's only PREFIX-NNNN.params, --data-shape to the checkpoint's (the symbol's data
__shape__, else the prefix's _SIZE suffix: ssdref.io.checkpoint.checkpoint_data_shape).
With --with-intermediates DIR: per-node test data in ONNX's backend-test layout, ssdref's values of
every node's inputs and outputs on a seeded synthetic-shapes image (ssdref.onnx_intermediates).
"""
from __future__ import annotations

import glob
import os
import re
import sys

import numpy as np

from ssdref.cli import NETWORKS
from ssdref.onnx_export import IR_VERSION, OPSET, export_symbol

RUNTIME_TOL = 1e-4      # the runtime check's score and box tolerance (boxes: normalized coordinates)

_OP = "export-onnx"
DEFAULT_DATA_SHAPE = 64     # the tiny network's, without --params


def checkpoint_epochs(prefix) -> list:
    """The epochs of the PREFIX-NNNN.params files that exist, ascending."""
    pattern = re.compile(re.escape(os.path.basename(prefix)) + r"-(\d{4})\.params$")
    found = (pattern.match(os.path.basename(p)) for p in glob.glob(f"{glob.escape(prefix)}-*.params"))
    return sorted(int(m.group(1)) for m in found if m)


def runtime_check(model, symbol, arg_params, aux_params, data_shape, batch=1, seed=0) -> tuple:
    """(ok, line): the model run in ONNX Runtime vs ssdref on a seeded random image batch."""
    from ssdref.autograd.symbol import Symbol
    from ssdref.backends.onnxruntime_conformance import _same, _session
    from ssdref.io.images import preprocess
    from ssdref.onnx_export import reference_detections, to_mxnet_rows

    rng = np.random.default_rng(seed)
    data = np.concatenate([preprocess(rng.uniform(0, 255, (3, data_shape, data_shape)).astype(np.float32),
                                      data_shape) for _ in range(batch)])
    detection = next(n for n in symbol._nodes()
                     if n.op is not None and n.op.name == "_contrib_MultiBoxDetection")
    heads = Symbol(list(detection.inputs[:3]))          # cls_prob, loc_preds, anchors of ssdref
    executor = heads.simple_bind(grad_req="null", data=data.shape)
    executor.copy_params_from(arg_params, aux_params, allow_extra_params=True)
    cls_prob, loc, anchors = executor.forward(is_train=False, data=data)
    p = detection.params
    expected = reference_detections(cls_prob, loc, anchors, threshold=p["threshold"],
                                    nms_threshold=p["nms_threshold"], nms_topk=p["nms_topk"],
                                    force_suppress=p["force_suppress"], clip=p["clip"],
                                    variances=p["variances"])
    got = to_mxnet_rows(_session(model).run(None, {"data": data})[0], batch, cls_prob.shape[2])
    # scores and boxes within 1e-4: ONNX Runtime's float32 Conv (MLAS) sums in another order and
    # its Softmax/Exp round differently; on calibrated weights they move by up to ~4e-5
    exact, ok, worst = _same(got, expected, box_tol=RUNTIME_TOL, score_tol=RUNTIME_TOL)
    valid = int((expected[:, :, 0] >= 0).sum())
    verdict = "bit-exact" if exact else ("matches (tie-aware)" if ok else "MISMATCH")
    return ok, (f"ONNX Runtime check: batch {batch}, {valid} detections, worst |diff| {worst:.3g}: "
                f"{verdict} ssdref (onnx preset)")


def _resolve(args):
    """(symbol, arg_params, aux_params, data_shape, epoch, network) from the arguments (UsageError)."""
    from ssdref.errors import UsageError
    from ssdref.io.checkpoint import checkpoint_data_shape, deploy_symbol
    from ssdref.io.mxnet_params import checkpoint_params_path, load_params
    from ssdref.model import get_config, get_symbol

    symbol = epoch = None
    data_shape, network = args.data_shape, args.network
    if args.params:
        epoch = args.epoch
        if epoch is None:
            epochs = checkpoint_epochs(args.params)
            if len(epochs) != 1:
                raise UsageError(f"{_OP}: --epoch must be given with --params when the checkpoint has "
                                 f"not exactly one {args.params}-NNNN.params, got epochs {epochs}")
            epoch = epochs[0]
        params_path = checkpoint_params_path(args.params, epoch)
        if not os.path.exists(params_path):
            raise UsageError(f"{_OP}: --params/--epoch must name an existing checkpoint, got "
                             f"{params_path!r} (no such file)")
        if os.path.exists(f"{args.params}-symbol.json"):
            from ssdref import sym
            symbol = deploy_symbol(sym.load(f"{args.params}-symbol.json"))
            network = f"checkpoint {os.path.basename(args.params)}"
        if data_shape is None:
            data_shape, _ = checkpoint_data_shape(args.params, symbol)
            if data_shape is None:
                raise UsageError(f"{_OP}: --data-shape must be given: the checkpoint {args.params} "
                                 f"records none (no data __shape__, no _SIZE suffix on the prefix)")
            if not isinstance(data_shape, int):
                raise UsageError(f"{_OP}: the checkpoint's data shape must be square, got {data_shape}")
    data_shape = DEFAULT_DATA_SHAPE if data_shape is None else data_shape
    if symbol is None:
        try:
            config = get_config(args.network, data_shape, num_classes=args.num_classes)
        except (ValueError, NotImplementedError) as exc:
            raise UsageError(f"{_OP}: --network/--data-shape/--num-classes: {exc}") from None
        symbol = get_symbol(**config)
    if args.params:
        arg_params, aux_params = load_params(checkpoint_params_path(args.params, epoch))
    else:
        # calibrated, not raw He-normal: random weights saturate SSD's scores and overflow the box
        # decode, and then no runtime check means anything (issue 19)
        from ssdref.model import test_weights
        arg_params, aux_params = test_weights(symbol, data_shape=data_shape, seed=args.seed)
        print(f"{_OP}: no --params given: calibrated test weights (ssdref.model.test_weights, seed "
              f"{args.seed})", file=sys.stderr)
    return symbol, arg_params, aux_params, data_shape, epoch, network


def _cmd_export_onnx(args) -> int:
    from ssdref.errors import UsageError, check_out_file

    check_out_file(_OP, "OUT", args.out)
    if args.with_intermediates and os.path.exists(args.with_intermediates) and (
            not os.path.isdir(args.with_intermediates) or os.listdir(args.with_intermediates)):
        raise UsageError(f"{_OP}: --with-intermediates must name a new or empty folder, got "
                         f"{args.with_intermediates!r}")
    for option, value in (("--data-shape", args.data_shape), ("--num-classes", args.num_classes),
                          ("--batch", args.batch)):
        if value is not None and value <= 0:
            raise UsageError(f"{_OP}: {option} must be > 0, got {value}")
    symbol, arg_params, aux_params, data_shape, epoch, network = _resolve(args)
    import onnx

    names = args.class_names.split(",") if args.class_names else None
    from ssdref.progress import status

    with status(f"{_OP}: writing and checking {args.out}"):
        model = export_symbol(symbol, arg_params, aux_params, data_shape, batch=args.batch,
                              dynamic_batch=args.dynamic_batch, class_names=names, mean_pixels=args.mean,
                              network=network)
        onnx.save(model, args.out)
        onnx.checker.check_model(args.out, full_check=True)
    batch = "batch" if args.dynamic_batch else args.batch
    source = f" epoch {epoch}" if epoch is not None else ""
    print(f"wrote {args.out}: {len(model.graph.node)} nodes, opset {OPSET}, IR version {IR_VERSION}, "
          f"input data {(batch, 3, data_shape, data_shape)}, output detections (K, 7){source}")
    print("onnx.checker (full_check=True): ok")
    if args.with_intermediates:
        write_intermediates_for(model, symbol, arg_params, aux_params, data_shape, args)
    if args.no_runtime_check:
        return 0
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        print(f"{_OP}: onnxruntime is not importable: ONNX Runtime check skipped "
              f"(pip install -e '.[interop]')", file=sys.stderr)
        return 0
    with status(f"{_OP}: running the model in ONNX Runtime and in ssdref"):
        ok, line = runtime_check(model, symbol, arg_params, aux_params, data_shape,
                                 batch=2 if args.dynamic_batch else args.batch, seed=args.seed)
    print(line)
    return 0 if ok else 1


def write_intermediates_for(model, symbol, arg_params, aux_params, data_shape, args) -> None:
    """--with-intermediates DIR: one backend-test folder per node, on a seeded synthetic image."""
    import time

    from ssdref.divergence import default_input
    from ssdref.onnx_intermediates import write_intermediates
    from ssdref.progress import status

    data = default_input((args.batch, 3, data_shape, data_shape), seed=args.seed)
    start = time.perf_counter()
    with status(f"{_OP}: writing ssdref's per-node test data to {args.with_intermediates}"):
        cases = write_intermediates(model, symbol, arg_params, aux_params, data, args.with_intermediates)
    sources = {}
    for case in cases:
        for source in case["sources"].values():
            sources[source] = sources.get(source, 0) + 1
    print(f"wrote {len(cases)} node test cases to {args.with_intermediates} (ONNX backend-test layout, "
          f"input: synthetic-shapes image, seed {args.seed}; tensor values: "
          + ", ".join(f"{n} {k}" for k, n in sorted(sources.items())) + f") in "
          f"{time.perf_counter() - start:.1f} s")


def add_cli(subparsers) -> None:


    p = subparsers.add_parser("export-onnx", help="write the SSD test graph as ONNX (NMS as "
                                                  "NonMaxSuppression), checked in ONNX Runtime")
    p.add_argument("out", help="the .onnx file to write")
    p.add_argument("--network", default="tiny", choices=NETWORKS,
                   help="get_config network when no checkpoint symbol (default tiny)")
    p.add_argument("--data-shape", type=int, default=None,
                   help=f"input size S of (N, 3, S, S) (default: the checkpoint's with --params, else "
                        f"{DEFAULT_DATA_SHAPE})")
    p.add_argument("--num-classes", type=int, default=3,
                   help="object classes, background excluded, without a checkpoint symbol (default 3)")
    p.add_argument("--params", default="", metavar="PREFIX",
                   help="checkpoint PREFIX: PREFIX-EPOCH.params, and PREFIX-symbol.json when present")
    p.add_argument("--epoch", type=int, default=None,
                   help="the checkpoint's epoch (default: its only PREFIX-NNNN.params)")
    p.add_argument("--batch", type=int, default=1, help="the input's batch size (default 1)")
    p.add_argument("--dynamic-batch", action="store_true",
                   help="a dynamic batch axis: input ('batch', 3, S, S)")
    p.add_argument("--class-names", default="",
                   help="comma-separated class names for the metadata (default 'class 0', ...)")
    p.add_argument("--mean", type=float, nargs=3, default=(123.0, 117.0, 104.0), metavar=("R", "G", "B"),
                   help="mean pixel for the metadata (default 123 117 104, example/ssd's; std 1)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the random parameters without --params, and of the check's image")
    p.add_argument("--no-runtime-check", action="store_true",
                   help="skip the ONNX Runtime run compared with ssdref (onnx.checker still runs)")
    p.add_argument("--with-intermediates", default="", metavar="DIR",
                   help="also write, per node of the graph, DIR/test_NNNN_<node>/model.onnx and "
                        "test_data_set_0/input_N.pb, output_N.pb: ssdref's values (ONNX backend-test "
                        "layout) on a seeded synthetic-shapes image (--seed)")
    p.set_defaults(func=_cmd_export_onnx)
