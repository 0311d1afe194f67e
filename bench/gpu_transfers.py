"""Host<->device copy times on a GPU machine: what the `cuda host->host` rows of gpu_bench.py pay.

Run from the repository root with PYTHONPATH=$PWD (bench/gpu.sh runs it after gpu_bench.py).
For each size: numba's cuda.to_device / copy_to_host from pageable NumPy memory, the same from
pinned memory (cuda.pinned_array), and torch's .cuda() / .cpu() where torch is present; then the
SSD300 MultiBoxDetection call host->host split into its copies and its kernels. Median of 20 calls
after one warm-up, wall clock with a synchronize before the clock stops.
"""
import statistics
import time

import numpy as np
from numba import cuda


def median_ms(fn, reps=20):
    fn()
    cuda.synchronize()
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        fn()
        cuda.synchronize()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def main():
    try:
        import torch
        have_torch = torch.cuda.is_available()
    except ImportError:
        have_torch = False
    print(f"{'bytes':>12}  {'path':<34}{'ms':>9}{'MB/s':>10}")
    for nbytes in (8_192, 210_000, 1_000_000, 10_000_000, 100_000_000):
        host = np.ones(nbytes // 4, np.float32)
        pinned = cuda.pinned_array(host.shape, np.float32)
        pinned[:] = host
        dev = cuda.to_device(host)
        cases = [("numba to_device, pageable", lambda: cuda.to_device(host)),
                 ("numba to_device, pinned", lambda: cuda.to_device(pinned)),
                 ("numba copy_to_host, pageable", lambda: dev.copy_to_host()),
                 ("numba copy_to_host, pinned", lambda: dev.copy_to_host(pinned)),
                 ("numba device_array (no copy)", lambda: cuda.device_array(host.shape, np.float32))]
        if have_torch:
            t_host, t_dev = torch.from_numpy(host), torch.from_numpy(host).cuda()
            t_pinned = t_host.pin_memory()
            cases += [("torch .cuda(), pageable", lambda: t_host.cuda()),
                      ("torch .cuda(), pinned", lambda: t_pinned.cuda(non_blocking=False)),
                      ("torch .cpu()", lambda: t_dev.cpu())]
        for name, fn in cases:
            ms = median_ms(fn)
            print(f"{nbytes:>12}  {name:<34}{ms:9.3f}{nbytes / ms / 1e3:10.0f}", flush=True)

    # The detection call of gpu_bench.py (SSD300, batch 1), its copies and its kernels apart.
    from bench.gpu_bench import SSD300, anchors_for
    from ssdref.kernels import cuda_detection
    anchors = anchors_for(SSD300)
    rng = np.random.default_rng(0)
    num_anchors = anchors.shape[1]
    logits = rng.standard_normal((1, 21, num_anchors)).astype(np.float32)
    prob = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    loc = (rng.standard_normal((1, num_anchors * 4)) * 0.5).astype(np.float32)
    kw = dict(nms_threshold=0.45, nms_topk=400)
    d_prob, d_loc, d_anchor = (cuda.to_device(x) for x in (prob, loc, anchors))
    print()
    print(f"detection SSD300 batch 1: host->host "
          f"{median_ms(lambda: cuda_detection.multibox_detection(prob, loc, anchors, **kw)):.2f} ms; "
          f"device->device "
          f"{median_ms(lambda: cuda_detection.multibox_detection(d_prob, d_loc, d_anchor, **kw)):.2f} ms; "
          f"its three uploads "
          f"{median_ms(lambda: [cuda.to_device(x) for x in (prob, loc, anchors)]):.2f} ms; "
          f"its download "
          f"{median_ms(lambda: cuda_detection.multibox_detection(d_prob, d_loc, d_anchor, **kw).copy_to_host()):.2f} ms "
          f"(device->device + copy_to_host)")


if __name__ == "__main__":
    main()
