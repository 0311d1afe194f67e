"""The API cases: symbols and binding, symbol JSON, .params, run_checkpoint, the CLI."""
from __future__ import annotations

import json
import os
import struct
import shutil

import numpy as np

from cases_base import _KEEP, C, DATA, TMP, add, arr, tag  # noqa: F401

# --------------------------------------------------------------------------- symbols and binding
for sid, expect, names in [
    ("var_name_none", "raise", "name"), ("var_name_int", "raise", "name"),
    ("var_shape_str", "raise", "shape"), ("var_shape_neg", "raise", "shape"),
    ("conv_kernel_zero_infer", "raise", "kernel"), ("conv_missing_num_filter", "raise", "num_filter"),
    ("conv_data_not_symbol", "raise", "data"), ("conv_unknown_kwarg", "raise", "foo"),
    ("bind_neg_shape", "raise", "data"), ("bind_no_shapes", "raise", "data"),
    ("bind_wrong_rank", "raise", "data"), ("bind_grad_req_bad", "raise", "grad_req"),
    ("bind_type_int", "raise", ("data", "type_dict")), ("bind_type_f16", "raise", ("data", "type_dict")),
    ("bind_shape_str", "raise", "data"), ("bind_unknown_name", "ok_or_raise", "bogus"),
    ("bind_missing_weight", "raise", "conv_weight"), ("bind_wrong_weight_shape", "raise", ("conv_weight", "weight must")),
    ("bind_int_weight", "raise", ("conv_weight", "weight must")), ("bind_args_not_dict", "raise", "args"),
    ("forward_wrong_shape", "raise", "data"), ("forward_unknown_arg", "raise", "bogus"),
    ("backward_wrong_shape", "raise", ("out_grads", "head gradient")), ("infer_shape_rank", "raise", "data"),
    ("group_non_symbol", "raise", ("symbols", "Group")), ("group_empty", "ok_or_raise", ("symbols", "Group")),
    ("sym_plus_str", "raise", ("str", "other", "operand")), ("var_shape_neg_bind", "raise", ("data", "shape")), ("getitem_out_of_range", "raise", ("index", "output")),
    ("getitem_bad_name", "raise", "nosuch"), ("copy_params_wrong_shape", "raise", "conv_weight"),
]:
    add(f"sym.{sid}", C(f"fn.sym_{sid}"), expect, names,
        allowed={"getitem_out_of_range": ("IndexError",), "bind_no_shapes": ("RuntimeError",)}.get(sid, ()), fast=sid in ("bind_neg_shape", "bind_missing_weight"))

# --------------------------------------------------------------------------- symbol JSON
GOOD_JSON = {"nodes": [{"op": "null", "name": "data", "inputs": []},
                       {"op": "null", "name": "conv_weight", "inputs": []},
                       {"op": "null", "name": "conv_bias", "inputs": []},
                       {"op": "Convolution", "name": "conv", "attrs": {"kernel": "(3, 3)", "num_filter": "2"},
                        "inputs": [[0, 0, 0], [1, 0, 0], [2, 0, 0]]}],
             "arg_nodes": [0, 1, 2], "node_row_ptr": [0, 1, 2, 3, 4], "heads": [[3, 0, 0]],
             "attrs": {"mxnet_version": ["int", 10901]}}


def _mutated(**changes):
    d = json.loads(json.dumps(GOOD_JSON))
    for k, v in changes.items():
        if k == "node3":
            d["nodes"][3].update(v)
        elif k.startswith("drop_"):
            del d["nodes"][3][k[5:]]
        else:
            d[k] = v
    return json.dumps(d)


def _write(name, content, mode="w"):
    path = os.path.join(TMP, name)
    with open(path, mode) as f:
        f.write(content)
    return path


JSON_EXTRA = {"attrs_bad_kernel": ("kernel",), "num_filter_str": ("num_filter",), "attrs_kernel_garbage": ("kernel",),
              "op_unknown": ("FooOp",), "dup_names": ("duplicate", "data")}
JSON_CASES = {
    "empty": "", "not_json": "{nodes:", "list": "[]", "empty_obj": "{}",
    "nodes_not_list": json.dumps({"nodes": 5, "heads": [[0, 0, 0]]}),
    "heads_99": _mutated(heads=[[99, 0, 0]]), "heads_neg": _mutated(heads=[[-3, 0, 0]]),
    "heads_str": _mutated(heads="conv"), "heads_empty": _mutated(heads=[]),
    "input_short": _mutated(node3={"inputs": [[0], [1, 0, 0], [2, 0, 0]]}),
    "input_out_5": _mutated(node3={"inputs": [[0, 5, 0], [1, 0, 0], [2, 0, 0]]}),
    "input_forward_ref": _mutated(node3={"inputs": [[3, 0, 0], [1, 0, 0], [2, 0, 0]]}),
    "no_op": _mutated(drop_op=1), "no_name": _mutated(drop_name=1),
    "op_unknown": _mutated(node3={"op": "FooOp"}), "op_null_type": _mutated(node3={"op": None}),
    "attrs_bad_kernel": _mutated(node3={"attrs": {"kernel": "(0, 0)", "num_filter": "2"}}),
    "attrs_list": _mutated(node3={"attrs": [1, 2]}), "attrs_kernel_garbage": _mutated(node3={"attrs": {"kernel": "((", "num_filter": "2"}}),
    "deep_nesting": "[" * 100000 + "]" * 100000,
    "dup_names": json.dumps({**GOOD_JSON, "nodes": GOOD_JSON["nodes"][:1] + [dict(GOOD_JSON["nodes"][1], name="data")] + GOOD_JSON["nodes"][2:]}),
    "arg_nodes_out": _mutated(arg_nodes=[0, 1, 99]), "nodes_null": _mutated(nodes=[None]),
    "inputs_none": _mutated(node3={"inputs": None}), "num_filter_str": _mutated(node3={"attrs": {"kernel": "(3, 3)", "num_filter": "two"}}),
}
for jid, text in JSON_CASES.items():
    path = _write(f"{jid}-symbol.json", text)
    add(f"json.{jid}", C("fn.json_load_and_bind", path), "raise" if jid != "arg_nodes_out" else "ok_or_raise", (os.path.basename(path), "symbol json") + JSON_EXTRA.get(jid, ()),
        fast=jid in ("heads_99", "input_short", "no_op"))
add("json.binary", C("fn.json_load_and_bind", _write("binary-symbol.json", b"\xff\xfe\x00garbage", "wb")), "raise", "binary-symbol.json")
add("json.missing_file", C("fn.json_load_and_bind", os.path.join(TMP, "nosuch-symbol.json")), "raise", "nosuch-symbol.json", allowed=("FileNotFoundError", "OSError"))
add("json.load_json_none", C("fn.json_loads", None), "raise", ("json", "str", "NoneType"))
add("json.load_json_int", C("fn.json_loads", 123), "raise", ("json", "str", "int"))

# --------------------------------------------------------------------------- .params
with open(os.path.join(DATA, "tiny-0002.params"), "rb") as f:
    PARAMS = f.read()
PARAM_CASES = {
    "empty": b"", "wrong_magic": b"\x00" * 64, "truncated_half": PARAMS[: len(PARAMS) // 2],
    "truncated_header": PARAMS[:12], "truncated_minus1": PARAMS[:-1], "text": b"hello world\n" * 10,
    "count_2_62": PARAMS[:16] + struct.pack("<Q", 2**62) + PARAMS[24:],
    "reserved_2_62": PARAMS[:8] + struct.pack("<Q", 2**62) + PARAMS[16:],
    "extra_bytes": PARAMS + b"\x00" * 7,
}
for pid, content in PARAM_CASES.items():
    path = _write(f"{pid}.params", content, "wb")
    add(f"params.{pid}", C("fn.params_load", path), "ok" if pid == "reserved_2_62" else "raise", (os.path.basename(path), "params"), fast=pid == "wrong_magic")
add("params.missing", C("fn.params_load", os.path.join(TMP, "nosuch.params")), "raise", "nosuch.params", allowed=("FileNotFoundError", "OSError"))
add("params.directory", C("fn.params_load", TMP), "raise", os.path.basename(TMP), allowed=("IsADirectoryError", "OSError"))
add("params.save_int_key", C("fn.params_save", {1: np.zeros(2, np.float32)}), "ok_or_raise", ("name", "key", "1"))
add("params.save_object", C("fn.params_save", {"arg:w": np.zeros(2, object)}), "raise", ("arg:w", "dtype"))

# --------------------------------------------------------------------------- checkpoints

CK = os.path.join(TMP, "ck")
os.makedirs(CK)
shutil.copy(os.path.join(DATA, "tiny-symbol.json"), os.path.join(CK, "tiny-symbol.json"))
shutil.copy(os.path.join(DATA, "tiny-0002.params"), os.path.join(CK, "tiny-0002.params"))
PREFIX = os.path.join(CK, "tiny")
shutil.copy(os.path.join(DATA, "tiny-symbol.json"), os.path.join(CK, "empty-symbol.json"))
from ssdref.io import save_params  # noqa: E402

save_params(os.path.join(CK, "empty-0002.params"), {}, {})
EMPTY = os.path.join(CK, "empty")
IMG = np.load(os.path.join(DATA, "image.npy"))
IMG_NPY = os.path.join(CK, "image.npy")
np.save(IMG_NPY, IMG)
GARBAGE = _write("garbage.bin", os.urandom(256), "wb")
img = tag(IMG.astype(np.float32), f"image{IMG.shape}")
RC = "fn.run_checkpoint"
# The checkpoint and CLI cases run the tiny SSD (minutes per case in the CUDA simulator); their
# argument checks do not depend on the backend, whose forward the op cases cover.
CPU_ONLY = ("numpy", "numba")
add("ck.image_rank2", C(RC, PREFIX, 2, arr((64, 64))), "raise", "image", fast=True, backends=CPU_ONLY)
add("ck.image_int8", C(RC, PREFIX, 2, arr((3, 64, 64), "uint8")), "ok_or_raise", "image", backends=CPU_ONLY)
add("ck.image_complex", C(RC, PREFIX, 2, arr((3, 64, 64), "complex64")), "raise", "image", backends=CPU_ONLY)
add("ck.image_empty", C(RC, PREFIX, 2, arr((3, 0, 0))), "raise", "image", backends=CPU_ONLY)
add("ck.image_list_empty", C(RC, PREFIX, 2, []), "raise", "image", backends=CPU_ONLY)
add("ck.image_garbage_file", C(RC, PREFIX, 2, GARBAGE), "raise", ("garbage.bin", "image"), backends=CPU_ONLY)
add("ck.image_missing_file", C(RC, PREFIX, 2, "/nonexistent/x.png"), "raise", ("x.png",), allowed=("FileNotFoundError", "OSError"), backends=CPU_ONLY)
add("ck.image_nan", C(RC, PREFIX, 2, arr((3, 64, 64), fill=float("nan"))), "ok_or_raise", "image", backends=CPU_ONLY)
add("ck.epoch_missing", C(RC, PREFIX, 99, img), "raise", ("0099", "epoch"), allowed=("FileNotFoundError", "OSError"), backends=CPU_ONLY)
add("ck.epoch_str", C(RC, PREFIX, "two", img), "raise", "epoch", backends=CPU_ONLY)
add("ck.epoch_neg", C(RC, PREFIX, -1, img), "raise", ("epoch", "--001.params"), allowed=("FileNotFoundError", "OSError"), backends=CPU_ONLY)
add("ck.prefix_missing", C(RC, os.path.join(CK, "nosuch"), 2, img), "raise", "nosuch", allowed=("FileNotFoundError", "OSError"), backends=CPU_ONLY)
add("ck.empty_params", C(RC, EMPTY, 2, img), "raise", ("missing", "params"), fast=True, backends=CPU_ONLY)
add("ck.mean_len2", C(RC, PREFIX, 2, img, mean_pixels=(1, 2)), "raise", "mean_pixels", backends=CPU_ONLY)
add("ck.mean_nan", C(RC, PREFIX, 2, img, mean_pixels=(1, float("nan"), 2)), "raise", "mean_pixels", backends=CPU_ONLY)
add("ck.data_shape_neg", C(RC, PREFIX, 2, img, data_shape=-5), "raise", "data_shape", backends=CPU_ONLY)
add("ck.data_shape_str", C(RC, PREFIX, 2, img, data_shape="big"), "raise", "data_shape", backends=CPU_ONLY)
add("ck.resize_bad", C(RC, PREFIX, 2, img, resize="nearest9"), "raise", "resize", backends=CPU_ONLY)
add("ck.nms_nan", C(RC, PREFIX, 2, img, nms_threshold=float("nan")), "raise", "nms_threshold", backends=CPU_ONLY)
add("ck.nms_topk_huge", C(RC, PREFIX, 2, img, nms_topk=10**20), "raise", "nms_topk", backends=CPU_ONLY)
add("ck.readonly_image", C(RC, PREFIX, 2, tag(np.require(IMG, np.float32, "C").copy(), "image_ro")), "ok", backends=CPU_ONLY)
_KEEP[-1].setflags(write=False)

# --------------------------------------------------------------------------- CLI
ONNX_OUT = os.path.join(TMP, "x.onnx")
OUTDIR = os.path.join(TMP, "explain-out")
CLI = [
    ("none", [], ("command", "required")), ("unknown_cmd", ["nonsense"], ("nonsense", "choice")),
    ("rc.no_args", ["run-checkpoint"], ("prefix", "required")),
    ("rc.epoch_str", ["run-checkpoint", PREFIX, "x", IMG_NPY], ("epoch", "'x'")),
    ("rc.epoch_missing", ["run-checkpoint", PREFIX, "99", IMG_NPY], ("0099",)),
    ("rc.prefix_missing", ["run-checkpoint", os.path.join(CK, "nosuch"), "2", IMG_NPY], ("nosuch",)),
    ("rc.garbage_image", ["run-checkpoint", PREFIX, "2", GARBAGE], ("garbage.bin",)),
    ("rc.missing_image", ["run-checkpoint", PREFIX, "2", "/nonexistent/x.png"], ("x.png",)),
    ("rc.empty_params", ["run-checkpoint", EMPTY, "2", IMG_NPY], ("missing", "allow-missing")),
    ("rc.threshold_nan", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--threshold", "nan"], ("threshold",)),
    ("rc.threshold_str", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--threshold", "high"], ("threshold",)),
    ("rc.data_shape_neg", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--data-shape", "-3"], ("data-shape", "data_shape")),
    ("rc.out_missing_dir", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--out", os.path.join(GARBAGE, "dir", "x.png")], ("garbage.bin", "out")),
    ("rc.save_bad_ext", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--save", os.path.join(TMP, "x.txt")], ("save", "x.txt")),
    ("rc.mean_two", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--mean", "1", "2"], ("mean",)),
    ("rc.max_boxes_neg", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--max-boxes", "-1"], ("max-boxes", "max_boxes")),
    ("rc.resize_bad", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--resize", "foo"], ("resize",)),
    ("rc.topk_huge", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--topk", str(10**20)], ("topk", "nms_topk")),
    ("rc.nms_nan", ["run-checkpoint", PREFIX, "2", IMG_NPY, "--nms", "nan"], ("nms",)),
    ("onnx.network", ["export-onnx", ONNX_OUT, "--network", "foo"], ("network",)),
    ("onnx.data_shape_neg", ["export-onnx", ONNX_OUT, "--data-shape", "-1"], ("data-shape", "data_shape")),
    ("onnx.data_shape_str", ["export-onnx", ONNX_OUT, "--data-shape", "big"], ("data-shape", "data_shape")),
    ("onnx.epoch_missing", ["export-onnx", ONNX_OUT, "--params", PREFIX, "--epoch", "99"], ("0099", "epoch")),
    ("onnx.num_classes_zero", ["export-onnx", ONNX_OUT, "--num-classes", "0"], ("num-classes", "num_classes")),
    ("onnx.batch_zero", ["export-onnx", ONNX_OUT, "--batch", "0"], ("batch",)),
    ("onnx.config_mismatch", ["export-onnx", ONNX_OUT, "--params", PREFIX, "--epoch", "2", "--network", "vgg16_reduced"], ("network", "params", "symbol", "data-shape")),
    ("onnx.out_missing_dir", ["export-onnx", os.path.join(GARBAGE, "dir", "x.onnx")], ("garbage.bin", "out")),
    ("explain.out_under_file", ["explain", "--out", os.path.join(GARBAGE, "dir")], ("garbage.bin", "out")),
    ("explain.image_index", ["explain", "--image", "-1", "--out", OUTDIR], ("image",)),
    ("explain.image_missing", ["explain", "--out", OUTDIR, "--image", "/nonexistent.png"], ("nonexistent.png", "image")),
    ("explain.data_shape", ["explain", "--out", OUTDIR, "--data-shape", "abc"], ("data-shape", "data_shape")),
    ("explain.network", ["explain", "--out", OUTDIR, "--network", "foo"], ("network",)),
    ("explain.epoch_missing", ["explain", "--out", OUTDIR, "--params", PREFIX, "--epoch", "99"], ("0099", "epoch")),
    ("explain.num_classes_neg", ["explain", "--out", OUTDIR, "--num-classes", "-1"], ("num-classes", "num_classes")),
    ("explain.std_neg", ["explain", "--out", OUTDIR, "--std", "-1"], ("std",)),
    ("explain.split_bad", ["explain", "--out", OUTDIR, "--split", "dev"], ("split",)),
    ("golden.bogus", ["golden", "verify", "--bogus"], ("bogus",)),
    ("golden.diff_no_args", ["golden", "diff"], ("required", "diff")),
    ("conformance.backend", ["conformance", "--backend", "foo"], ("backend",)),
    ("conformance.examples_str", ["conformance", "--examples", "abc"], ("examples",)),
    ("divergence.missing", ["divergence", "/nonexistent.onnx"], ("nonexistent.onnx", "model")),
    ("divergence.garbage", ["divergence", GARBAGE], ("garbage.bin", "model")),
    ("demo.seed_str", ["demo", "--seed", "abc"], ("seed",)),
    ("gradcheck.bogus", ["gradcheck", "--bogus"], ("bogus",)),
]
for cid, argv, names in CLI:
    add(f"cli.{cid}", C("cli", argv), "exit", names, fast=cid in ("rc.garbage_image",), backends=CPU_ONLY)
