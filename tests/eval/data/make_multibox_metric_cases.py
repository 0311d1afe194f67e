"""Record example/ssd's own MultiBoxMetric values for tests/eval (run in .venv-mxnet):

    git -C <mxnet checkout> show 1.9.1:example/ssd/train/metric.py > /tmp/mb_metric.py
    .venv-mxnet/bin/python tests/eval/data/make_multibox_metric_cases.py /tmp/mb_metric.py

Three batches of (cls_prob, loc_loss, cls_label) with ignored (-1) anchors; get() after each update.
"""
import importlib.util
import os
import sys

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def main(metric_path):
    spec = importlib.util.spec_from_file_location("metric", metric_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rng = np.random.default_rng(3)
    metric = module.MultiBoxMetric()
    out = {}
    for k in range(3):
        prob = rng.random((2, 4, 50)).astype(np.float32)
        prob /= prob.sum(1, keepdims=True)
        label = rng.integers(-1, 4, (2, 50)).astype(np.float32)
        loc = (rng.random((2, 200)) * (rng.random((2, 200)) < 0.3)).astype(np.float32)
        out[f"p{k}"], out[f"l{k}"], out[f"loc{k}"] = prob, label, loc
        metric.update(None, [mx.nd.array(prob), mx.nd.array(loc), mx.nd.array(label)])
        out[f"values{k}"] = np.array(metric.get()[1])
        out[f"counts{k}"] = np.array(metric.num_inst)
    np.savez_compressed(os.path.join(HERE, "multibox_metric_cases.npz"), **out)
    print(metric.get())


if __name__ == "__main__":
    main(sys.argv[1])
