"""Benchmark worker for bench/run.py: times one framework (MXNet 1.9.1 or PyTorch) on the inputs that
run.py saved to an .npz, on request, so that run.py can alternate ssdref / MXNet / PyTorch rounds.

Protocol (one JSON object per line): run.py writes {"case": name, "reps": k}; the worker answers
{"case": name, "times": [seconds, ...]} or {"case": name, "error": "..."} ("unsupported" when the
framework has no such operator). {"quit": true} ends it. Nothing but answers goes to stdout.

    .venv-mxnet/bin/python bench/worker.py mxnet inputs.npz      (OMP_NUM_THREADS=2)
    .venv/bin/python bench/worker.py torch inputs.npz
    .venv-torchvision/bin/python bench/worker.py torchvision inputs.npz   (`make bench-venvs`)
    .venv/bin/python bench/worker.py ssdref inputs.npz   (run.py's plain process: no thread variables)
{"info": true} answers {"info": {...}}: what the worker's process runs on (ssdref: its thread pools).
Only the ssdref side imports ssdref (and numba): the others run in MXNet's or torchvision's own
environment.
"""
from __future__ import annotations

import json
import sys
import time

import numpy as np

# The VGG16-reduced SSD300 body (conv1_1 ... relu7), as bench/body.py declares it.
BODY = [
    ("conv1_1", 3, 64, 3, 1, 1), ("conv1_2", 64, 64, 3, 1, 1), ("pool", 2, 2, 0, "valid"),
    ("conv2_1", 64, 128, 3, 1, 1), ("conv2_2", 128, 128, 3, 1, 1), ("pool", 2, 2, 0, "valid"),
    ("conv3_1", 128, 256, 3, 1, 1), ("conv3_2", 256, 256, 3, 1, 1), ("conv3_3", 256, 256, 3, 1, 1),
    ("pool", 2, 2, 0, "full"),
    ("conv4_1", 256, 512, 3, 1, 1), ("conv4_2", 512, 512, 3, 1, 1), ("conv4_3", 512, 512, 3, 1, 1),
    ("pool", 2, 2, 0, "valid"),
    ("conv5_1", 512, 512, 3, 1, 1), ("conv5_2", 512, 512, 3, 1, 1), ("conv5_3", 512, 512, 3, 1, 1),
    ("pool", 3, 1, 1, "valid"),
    ("fc6", 512, 1024, 3, 6, 6), ("fc7", 1024, 1024, 1, 0, 1),
]


def timed(fn, reps):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


class MXNetCases:
    def __init__(self, data):
        import mxnet as mx
        self.mx, self.data, self.executors = mx, data, {}

    def body(self, batch):
        if batch not in self.executors:
            mx = self.mx
            net = mx.sym.Variable("data")
            for layer in BODY:
                if layer[0] == "pool":
                    _, k, s, p, convention = layer
                    net = mx.sym.Pooling(net, kernel=(k, k), stride=(s, s), pad=(p, p),
                                         pool_type="max", pooling_convention=convention)
                else:
                    name, _, cout, k, pad, dilate = layer
                    net = mx.sym.Convolution(net, num_filter=cout, kernel=(k, k), pad=(pad, pad),
                                             dilate=(dilate, dilate), name=name)
                    net = mx.sym.Activation(net, act_type="relu")
            grad_req = {n: ("null" if n == "data" else "write") for n in net.list_arguments()}
            exe = net.simple_bind(mx.cpu(), grad_req=grad_req, data=(batch, 3, 300, 300))
            for name in exe.arg_dict:
                if name != "data":
                    exe.arg_dict[name][:] = self.data[name]
            exe.arg_dict["data"][:] = self.data[f"body_x{batch}"]
            head = mx.nd.array(self.data[f"body_dy{batch}"])
            self.executors[batch] = (exe, head)
        return self.executors[batch]

    def run(self, case, reps):
        mx, d = self.mx, self.data
        kind, _, arg = case.partition(":")
        if kind == "body_fwd":
            exe, _ = self.body(int(arg))
            return timed(lambda: exe.forward(is_train=False)[0].wait_to_read(), reps)
        if kind == "body_fwdbwd":
            exe, head = self.body(int(arg))

            def step():
                exe.forward(is_train=True)
                exe.backward(head)
                mx.nd.waitall()
            return timed(step, reps)
        if kind == "target":
            anchors, label, cls = (mx.nd.array(d[f"{arg}_{k}"]) for k in ("anchors", "label", "cls"))
            return timed(lambda: [o.wait_to_read() for o in mx.nd.contrib.MultiBoxTarget(
                anchors, label, cls, overlap_threshold=.5, negative_mining_ratio=3,
                negative_mining_thresh=.5)], reps)
        if kind == "detection":
            prob, loc, anchors = (mx.nd.array(d[f"{arg}_{k}"]) for k in ("prob", "loc", "anchors"))
            topk = int(d[f"{arg}_topk"])
            return timed(lambda: mx.nd.contrib.MultiBoxDetection(
                prob, loc, anchors, nms_threshold=.45, nms_topk=topk).wait_to_read(), reps)
        if kind == "nms":
            # box_nms rows [class, score, x0, y0, x1, y1]; per class (id_index 0), IoU `>`
            rows = mx.nd.array(np.concatenate([d[f"{arg}_class_ids"][:, None].astype(np.float32),
                                               d[f"{arg}_scores"][:, None], d[f"{arg}_boxes"]], 1))
            return timed(lambda: mx.nd.contrib.box_nms(
                rows, overlap_thresh=.45, topk=-1, coord_start=2, score_index=1, id_index=0,
                force_suppress=False).wait_to_read(), reps)
        raise KeyError("unsupported")


class TorchCases:
    def __init__(self, data):
        import torch
        torch.set_num_threads(2)
        self.torch, self.data, self.params = torch, data, {}

    def forward(self, x):
        F = self.torch.nn.functional
        for layer in BODY:
            if layer[0] == "pool":
                _, k, s, p, convention = layer
                x = F.max_pool2d(x, k, s, p, ceil_mode=convention == "full")
            else:
                name, _, _, _, pad, dilate = layer
                weight, bias = self.params[name]
                x = F.relu(F.conv2d(x, weight, bias, padding=pad, dilation=dilate))
        return x

    def run(self, case, reps):
        torch, d = self.torch, self.data
        kind, _, arg = case.partition(":")
        if kind not in ("body_fwd", "body_fwdbwd"):
            raise KeyError("unsupported")
        if not self.params:
            for layer in BODY:
                if layer[0] != "pool":
                    self.params[layer[0]] = tuple(torch.from_numpy(d[f"{layer[0]}_{k}"]).requires_grad_()
                                                  for k in ("weight", "bias"))
        x = torch.from_numpy(d[f"body_x{arg}"])
        head = torch.from_numpy(d[f"body_dy{arg}"])
        if kind == "body_fwd":
            def fwd():
                with torch.no_grad():
                    self.forward(x)
            return timed(fwd, reps)

        def step():
            for weight, bias in self.params.values():
                weight.grad = bias.grad = None
            self.forward(x).backward(head)
        return timed(step, reps)


class TorchvisionCases:
    """torchvision.ops.batched_nms on CPU tensors (the reference fast NMS of issue 7).

    torchvision ships only CUDA builds of its operators next to a CUDA torch, so it lives in its
    own environment (a CUDA torch runs on a CPU machine; only CPU tensors are used here)."""

    def __init__(self, data):
        import torch
        import torchvision
        torch.set_num_threads(2)
        self.torch, self.ops, self.data = torch, torchvision.ops, data

    def run(self, case, reps):
        kind, _, arg = case.partition(":")
        if kind != "nms":
            raise KeyError("unsupported")
        torch, d = self.torch, self.data
        boxes = torch.from_numpy(d[f"{arg}_boxes"])
        scores = torch.from_numpy(d[f"{arg}_scores"])
        classes = torch.from_numpy(d[f"{arg}_class_ids"])
        # batched_nms: per class (coordinate-offset trick), suppress IoU > threshold, score order
        return timed(lambda: self.ops.batched_nms(boxes, scores, classes, .45), reps)


def process_info(framework):
    """The thread pools this worker runs on (ssdref only: the others are reported by version)."""
    if framework != "ssdref":
        return {}
    from ssdref.kernels import threads
    return threads.describe()


def main():
    framework, path = sys.argv[1], sys.argv[2]
    data = dict(np.load(path))
    if framework == "ssdref":
        from ssdref_cases import SsdrefCases
        cases = SsdrefCases(data)
    else:
        cases = {"mxnet": MXNetCases, "torch": TorchCases,
                 "torchvision": TorchvisionCases}[framework](data)
    out = sys.stdout
    sys.stdout = sys.stderr               # framework chatter must not corrupt the protocol
    for line in sys.stdin:
        request = json.loads(line)
        if request.get("quit"):
            break
        if request.get("info"):
            out.write(json.dumps({"info": process_info(framework)}) + "\n")
            out.flush()
            continue
        case = request["case"]
        try:
            answer = {"case": case, "times": cases.run(case, int(request["reps"]))}
        except KeyError as error:
            answer = {"case": case, "error": str(error).strip("'")}
        except Exception as error:        # reported in the table, not fatal to the whole run
            answer = {"case": case, "error": f"{type(error).__name__}: {error}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()


if __name__ == "__main__":
    main()
