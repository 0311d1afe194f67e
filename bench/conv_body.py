"""Time the VGG16-reduced SSD300 body (conv1_1 ... fc7 + relu7) forward and forward+backward, batch 1
(or --batch N).

Built directly from the layer functions (no graph): Convolution + relu per layer, max pools
(pool3 'full', pool5 3x3/1/1), fc6 3x3 pad 6 dilate 6, fc7 1x1. Prints milliseconds and GFLOP/s
(convolution FLOPs only: 2*MACs forward, twice that for backward's dX and dW) next to a measured
numpy float32 GEMM peak on this machine.

    OMP_NUM_THREADS=2 .venv/bin/python bench/conv_body.py [--backend numba|numpy] [--repeat 3]
                                                          [--batch 1]
"""
from __future__ import annotations

import argparse
import math
import time

import numpy as np

from ssdref.backend import dispatch, use_backend
from ssdref.layers.activation import activation_backward, activation_forward
from ssdref.layers.conv import conv_backward, conv_forward
from ssdref.layers.pooling import pooling_backward, pooling_forward

# (name, in, out, kernel, pad, dilate) or ("pool", kwargs)
BODY = [
    ("conv1_1", 3, 64, 3, 1, 1), ("conv1_2", 64, 64, 3, 1, 1), ("pool", dict(kernel=2, stride=2)),
    ("conv2_1", 64, 128, 3, 1, 1), ("conv2_2", 128, 128, 3, 1, 1), ("pool", dict(kernel=2, stride=2)),
    ("conv3_1", 128, 256, 3, 1, 1), ("conv3_2", 256, 256, 3, 1, 1), ("conv3_3", 256, 256, 3, 1, 1),
    ("pool", dict(kernel=2, stride=2, pooling_convention="full")),
    ("conv4_1", 256, 512, 3, 1, 1), ("conv4_2", 512, 512, 3, 1, 1), ("conv4_3", 512, 512, 3, 1, 1),
    ("pool", dict(kernel=2, stride=2)),
    ("conv5_1", 512, 512, 3, 1, 1), ("conv5_2", 512, 512, 3, 1, 1), ("conv5_3", 512, 512, 3, 1, 1),
    ("pool", dict(kernel=3, stride=1, pad=1)),
    ("fc6", 512, 1024, 3, 6, 6), ("fc7", 1024, 1024, 1, 0, 1),
]


def gemm_peak(size=2048, repeat=5):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    a @ b
    best = math.inf
    for _ in range(repeat):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * size**3 / best / 1e9


def make_params(rng):
    params = {}
    for layer in BODY:
        if layer[0] != "pool":
            name, cin, cout, k = layer[:4]
            scale = np.float32(math.sqrt(2 / (cin * k * k)))
            weight = rng.standard_normal((cout, cin, k, k), dtype=np.float32) * scale
            params[name] = (weight, np.zeros(cout, np.float32))
    return params


def forward(x, params, timings):
    caches = []
    for layer in BODY:
        start = time.perf_counter()
        if layer[0] == "pool":
            x, cache = dispatch(pooling_forward)(x, **layer[1])
            caches.append(("pool", cache))
        else:
            name, _, _, _, pad, dilate = layer
            weight, bias = params[name]
            x, conv_cache = dispatch(conv_forward)(x, weight, bias, pad=pad, dilate=dilate)
            x, relu_cache = dispatch(activation_forward)(x, act_type="relu")
            caches.append((name, (conv_cache, relu_cache)))
        timings[caches[-1][0]] = timings.get(caches[-1][0], 0.0) + time.perf_counter() - start
    return x, caches


def backward(dy, caches, timings):
    for name, cache in reversed(caches):
        start = time.perf_counter()
        if name == "pool":
            dy = dispatch(pooling_backward)(dy, cache)
        else:
            dy = dispatch(activation_backward)(dy, cache[1])
            dy, _, _ = dispatch(conv_backward)(dy, cache[0])
        timings[name] = timings.get(name, 0.0) + time.perf_counter() - start
    return dy


def conv_flops():
    flops, size = {}, 300
    for layer in BODY:
        if layer[0] == "pool":
            k, s, p = layer[1]["kernel"], layer[1]["stride"], layer[1].get("pad", 0)
            full = layer[1].get("pooling_convention") == "full"
            size = (-(-(size + 2 * p - k) // s) if full else (size + 2 * p - k) // s) + 1
        else:
            name, cin, cout, k, pad, dilate = layer
            size = (size + 2 * pad - dilate * (k - 1) - 1) + 1
            flops[name] = 2 * cin * cout * k * k * size * size
    return flops


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default="numba", choices=("numba", "numpy"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    params = make_params(rng)
    x = rng.standard_normal((args.batch, 3, 300, 300), dtype=np.float32)
    flops = {name: args.batch * f for name, f in conv_flops().items()}
    total_flops = sum(flops.values())
    peak = gemm_peak()
    with use_backend(args.backend):
        y, caches = forward(x, params, {})          # warm-up (JIT compile)
        backward(np.ones_like(y), caches, {})
        best_fwd = best_fb = math.inf
        layer_fwd, layer_bwd = {}, {}
        for _ in range(args.repeat):
            fwd_t, bwd_t = {}, {}
            start = time.perf_counter()
            y, caches = forward(x, params, fwd_t)
            mid = time.perf_counter()
            backward(np.ones_like(y), caches, bwd_t)
            end = time.perf_counter()
            if end - start < best_fb:
                best_fwd, best_fb, layer_fwd, layer_bwd = mid - start, end - start, fwd_t, bwd_t
    print(f"backend {args.backend}, output {y.shape}, conv GFLOP forward {total_flops / 1e9:.1f}")
    print(f"numpy float32 GEMM peak (2048^3): {peak:.0f} GFLOP/s")
    print(f"forward          {best_fwd * 1e3:8.1f} ms  {total_flops / best_fwd / 1e9:6.1f} GFLOP/s")
    print(f"forward+backward {best_fb * 1e3:8.1f} ms  {3 * total_flops / best_fb / 1e9:6.1f} GFLOP/s")
    print(f"{'layer':8s} {'fwd ms':>8s} {'GF/s':>6s} {'bwd ms':>8s} {'GF/s':>6s}")
    for name in layer_fwd:
        f, b = layer_fwd[name], layer_bwd.get(name, 0.0)
        fl = flops.get(name, 0)
        rate_f, rate_b = (fl / f / 1e9, 2 * fl / b / 1e9) if fl else (0, 0)
        print(f"{name:8s} {f * 1e3:8.1f} {rate_f:6.0f} {b * 1e3:8.1f} {rate_b:6.0f}")


if __name__ == "__main__":
    main()
