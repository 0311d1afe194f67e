"""ssdref's side of the benchmark: the cases of bench/run.py on the current backend.

Imported by run.py (the bench's own process, with its environment) and by worker.py's `ssdref`
side (a plain process: no thread variables, as a user's script runs).
"""
from __future__ import annotations


from worker import BODY, timed  # noqa: F401  (timed: re-exported for run.py)


class SsdrefCases:
    def __init__(self, data):
        from ssdref.backend import dispatch
        from ssdref.layers.activation import activation_backward, activation_forward
        from ssdref.layers.conv import conv_backward, conv_forward
        from ssdref.layers.pooling import pooling_backward, pooling_forward
        from ssdref.multibox.detection import multibox_detection
        from ssdref.multibox.nms import nms
        from ssdref.multibox.target import multibox_target
        self.d = data
        self.conv_f, self.conv_b = dispatch(conv_forward), dispatch(conv_backward)
        self.relu_f, self.relu_b = dispatch(activation_forward), dispatch(activation_backward)
        self.pool_f, self.pool_b = dispatch(pooling_forward), dispatch(pooling_backward)
        self.target, self.detection = dispatch(multibox_target), dispatch(multibox_detection)
        self.nms = dispatch(nms)

    def forward(self, x):
        caches = []
        for layer in BODY:
            if layer[0] == "pool":
                _, k, s, p, convention = layer
                x, cache = self.pool_f(x, kernel=(k, k), stride=(s, s), pad=(p, p),
                                       pool_type="max", pooling_convention=convention)
                caches.append(("pool", cache))
            else:
                name, _, _, _, pad, dilate = layer
                x, conv_cache = self.conv_f(x, self.d[f"{name}_weight"], self.d[f"{name}_bias"],
                                            pad=pad, dilate=dilate)
                x, relu_cache = self.relu_f(x, act_type="relu")
                caches.append((name, (conv_cache, relu_cache)))
        return x, caches

    def backward(self, dy, caches):
        grads = {}
        while caches:
            name, cache = caches.pop()          # each cache is dropped once its backward ran
            if name == "pool":
                dy = self.pool_b(dy, cache)
            else:
                dy = self.relu_b(dy, cache[1])
                # conv1_1's data needs no gradient: MXNet (grad_req null) and PyTorch skip it too
                dy, grads[f"{name}_weight"], grads[f"{name}_bias"] = self.conv_b(
                    dy, cache[0], data_grad=bool(caches))
        return grads

    def run(self, case, reps):
        d = self.d
        kind, _, arg = case.partition(":")
        if kind == "body_fwd":
            x = d[f"body_x{arg}"]
            return timed(lambda: self.forward(x), reps)
        if kind == "body_fwdbwd":
            x, head = d[f"body_x{arg}"], d[f"body_dy{arg}"]
            return timed(lambda: self.backward(head, self.forward(x)[1]), reps)
        if kind == "target":
            args = (d[f"{arg}_anchors"], d[f"{arg}_label"], d[f"{arg}_cls"])
            return timed(lambda: self.target(*args, overlap_threshold=.5, negative_mining_ratio=3,
                                             negative_mining_thresh=.5), reps)
        if kind == "detection":
            args = (d[f"{arg}_prob"], d[f"{arg}_loc"], d[f"{arg}_anchors"])
            topk = int(d[f"{arg}_topk"])
            return timed(lambda: self.detection(*args, nms_threshold=.45, nms_topk=topk), reps)
        if kind == "nms":
            args = (d[f"{arg}_boxes"], d[f"{arg}_scores"], d[f"{arg}_class_ids"])
            return timed(lambda: self.nms(*args, .45, nms_comparator=">"), reps)
        raise KeyError(case)

