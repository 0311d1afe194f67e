"""Shared data for the model tests: MXNet-written files, the spec's SSD300 names, the symbol-API gate."""
import contextlib
import importlib
import json
import os

import pytest

from ssdref.model.symbol_api import using_symbol_module

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MXNET_DATA = os.path.join(REPO_ROOT, "tests", "data", "mxnet_graphs")

# SSDREF_MODEL_TESTS_ON_MXNET=1 (in .venv-mxnet) runs the graph tests on real MXNet 1.9.1 instead,
# which checks the tests and the MXNet-written data against MXNet itself.
ON_MXNET = os.environ.get("SSDREF_MODEL_TESTS_ON_MXNET") == "1"

def symbol_api():
    """The module the graph tests build on: ssdref, or mxnet under SSDREF_MODEL_TESTS_ON_MXNET=1."""
    return importlib.import_module("mxnet" if ON_MXNET else "ssdref")


@contextlib.contextmanager
def fresh_graph():
    """Build on symbol_api() with automatic names counted from 0 (a fresh NameManager)."""
    mx = symbol_api()
    with using_symbol_module(mx), mx.name.NameManager():
        yield mx


def mxnet_json(name):
    """The text of tests/data/mxnet_graphs/<name>.json as MXNet 1.9.1 wrote it."""
    with open(os.path.join(MXNET_DATA, name + ".json")) as f:
        return f.read()


def mxnet_summary():
    """tests/data/mxnet_graphs/mxnet_graphs.json (list_arguments, infer_shape results... from MXNet)."""
    with open(os.path.join(MXNET_DATA, "mxnet_graphs.json")) as f:
        return json.load(f)


# spec mxnet-semantics.md §10.5: list_arguments() of the SSD300 train symbol, in this order.
SSD300_TRAIN_ARGUMENTS = """
relu4_3_scale data conv1_1_weight conv1_1_bias conv1_2_weight conv1_2_bias conv2_1_weight
conv2_1_bias conv2_2_weight conv2_2_bias conv3_1_weight conv3_1_bias conv3_2_weight conv3_2_bias
conv3_3_weight conv3_3_bias conv4_1_weight conv4_1_bias conv4_2_weight conv4_2_bias conv4_3_weight
conv4_3_bias relu4_3_cls_pred_conv_weight relu4_3_cls_pred_conv_bias conv5_1_weight conv5_1_bias
conv5_2_weight conv5_2_bias conv5_3_weight conv5_3_bias fc6_weight fc6_bias fc7_weight fc7_bias
relu7_cls_pred_conv_weight relu7_cls_pred_conv_bias multi_feat_2_conv_1x1_conv_weight
multi_feat_2_conv_1x1_conv_bias multi_feat_2_conv_3x3_conv_weight multi_feat_2_conv_3x3_conv_bias
multi_feat_2_conv_3x3_relu_cls_pred_conv_weight multi_feat_2_conv_3x3_relu_cls_pred_conv_bias
multi_feat_3_conv_1x1_conv_weight multi_feat_3_conv_1x1_conv_bias multi_feat_3_conv_3x3_conv_weight
multi_feat_3_conv_3x3_conv_bias multi_feat_3_conv_3x3_relu_cls_pred_conv_weight
multi_feat_3_conv_3x3_relu_cls_pred_conv_bias multi_feat_4_conv_1x1_conv_weight
multi_feat_4_conv_1x1_conv_bias multi_feat_4_conv_3x3_conv_weight multi_feat_4_conv_3x3_conv_bias
multi_feat_4_conv_3x3_relu_cls_pred_conv_weight multi_feat_4_conv_3x3_relu_cls_pred_conv_bias
multi_feat_5_conv_1x1_conv_weight multi_feat_5_conv_1x1_conv_bias multi_feat_5_conv_3x3_conv_weight
multi_feat_5_conv_3x3_conv_bias multi_feat_5_conv_3x3_relu_cls_pred_conv_weight
multi_feat_5_conv_3x3_relu_cls_pred_conv_bias label relu4_3_loc_pred_conv_weight
relu4_3_loc_pred_conv_bias relu7_loc_pred_conv_weight relu7_loc_pred_conv_bias
multi_feat_2_conv_3x3_relu_loc_pred_conv_weight multi_feat_2_conv_3x3_relu_loc_pred_conv_bias
multi_feat_3_conv_3x3_relu_loc_pred_conv_weight multi_feat_3_conv_3x3_relu_loc_pred_conv_bias
multi_feat_4_conv_3x3_relu_loc_pred_conv_weight multi_feat_4_conv_3x3_relu_loc_pred_conv_bias
multi_feat_5_conv_3x3_relu_loc_pred_conv_weight multi_feat_5_conv_3x3_relu_loc_pred_conv_bias
""".split()
