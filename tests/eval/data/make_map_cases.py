"""Record example/ssd's own MApMetric / VOC07MApMetric results for tests/eval (run in .venv-mxnet):

    git -C <mxnet checkout> show 1.9.1:example/ssd/evaluate/eval_metric.py > /tmp/eval_metric.py
    .venv-mxnet/bin/python tests/eval/data/make_map_cases.py /tmp/eval_metric.py

The example's file is not part of the mxnet wheel, so its path is an argument. Random batches with tied
scores, difficult gts, images without gt, padding rows and duplicate detections are fed to it, and the
inputs and its get() values are written to map_cases.npz.
"""
import importlib.util
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def random_batch(rng, batch, max_gt=4, max_det=12, num_classes=4):
    labels = np.full((batch, max_gt, 6), -1.0, np.float32)
    preds = np.full((batch, max_det, 6), -1.0, np.float32)
    for b in range(batch):
        n_gt = rng.integers(0, max_gt + 1)
        for g in range(n_gt):
            x0, y0 = rng.random(2) * 0.6
            w, h = 0.1 + rng.random(2) * 0.3
            labels[b, g] = [rng.integers(0, num_classes), x0, y0, x0 + w, y0 + h, rng.random() < 0.2]
        n_det = rng.integers(0, max_det + 1)
        for d in range(n_det):
            if n_gt and rng.random() < 0.6:
                src = labels[b, rng.integers(0, n_gt)]
                box = src[1:5] + rng.normal(0, 0.04, 4)
                cls = src[0] if rng.random() < 0.85 else rng.integers(0, num_classes)
            else:
                x0, y0 = rng.random(2) * 0.7
                box = np.array([x0, y0, x0 + 0.2, y0 + 0.2])
                cls = rng.integers(0, num_classes)
            score = np.round(rng.random(), 1)           # coarse scores: many ties
            preds[b, d] = [cls, score, *box]
    return labels, preds


def main(eval_metric_path):
    spec = importlib.util.spec_from_file_location("eval_metric", eval_metric_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    import mxnet as mx

    rng = np.random.default_rng(4242)
    out = {}
    settings = [
        dict(ovp_thresh=0.5, use_difficult=False, class_names=None),
        dict(ovp_thresh=0.5, use_difficult=True, class_names=["a", "b", "c"]),
        dict(ovp_thresh=0.6, use_difficult=False, class_names=["a", "b", "c", "d", "e"]),
        dict(ovp_thresh=0.3, use_difficult=False, class_names=None),
    ]
    case = 0
    for setting in settings:
        for trial in range(6):
            batches = [random_batch(rng, int(rng.integers(1, 9)), max_det=int(rng.choice([6, 30])))
                       for _ in range(int(rng.integers(1, 4)))]
            for cls_name in ("MApMetric", "VOC07MApMetric"):
                metric = getattr(module, cls_name)(pred_idx=1, **setting)
                for labels, preds in batches:
                    metric.update([mx.nd.array(labels)], [mx.nd.array(preds[:, :1]), mx.nd.array(preds)])
                names, values = metric.get()
                key = f"case{case:03d}"
                out[f"{key}/metric"] = np.array(cls_name)
                out[f"{key}/ovp_thresh"] = np.array(setting["ovp_thresh"])
                out[f"{key}/use_difficult"] = np.array(setting["use_difficult"])
                out[f"{key}/class_names"] = np.array(setting["class_names"] or [], dtype=str)
                out[f"{key}/num_batches"] = np.array(len(batches))
                for k, (labels, preds) in enumerate(batches):
                    out[f"{key}/labels{k}"] = labels
                    out[f"{key}/preds{k}"] = preds
                out[f"{key}/values"] = np.atleast_1d(np.array(values, dtype=np.float64))
                case += 1
    np.savez_compressed(os.path.join(HERE, "map_cases.npz"), **out)
    print(case, "cases")


if __name__ == "__main__":
    main(sys.argv[1])
