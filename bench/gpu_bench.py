"""GPU benchmark: ssdref's numba.cuda kernels vs its CPU (numba) backend, torchvision and torch.

Run from the repository root with PYTHONPATH=$PWD (ssdref need not be installed): `bench/gpu.sh`.
SSD300 (8732 anchors) and SSD512 (24564 anchors) at batch 1/8/32, 21 classes, the example's settings
(nms_threshold 0.45, nms_topk 400, mining ratio 3). Each row: median wall time of the call
(cuda.synchronize() before the clock stops), and whether the CUDA result equals the CPU backend's
(discrete outputs exactly; `equal` compares every output bit for bit). Failures are reported per row.
`--smoke`: tiny sizes, meant for a CPU machine under NUMBA_ENABLE_CUDASIM=1.
torchvision's nms uses `>` where MultiBoxDetection uses `>=`, and the torch detection pipeline below
is the same work (max class, threshold, decode, top-k, batched_nms), not the same semantics: timing only.
"""
import argparse
import statistics
import sys
import time
import traceback

import numpy as np

SSD300 = dict(maps=[38, 19, 10, 5, 3, 1],
              sizes=[[.1, .141], [.2, .272], [.37, .447], [.54, .619], [.71, .79], [.88, .961]],
              ratios=[[1, 2, .5]] + [[1, 2, .5, 3, 1 / 3]] * 3 + [[1, 2, .5]] * 2)
SSD512 = dict(maps=[64, 32, 16, 8, 4, 2, 1],
              sizes=[[.07, .1025], [.15, .2121], [.3, .3674], [.45, .5196], [.6, .6708], [.75, .8216],
                     [.9, .9721]],
              ratios=[[1, 2, .5]] + [[1, 2, .5, 3, 1 / 3]] * 4 + [[1, 2, .5]] * 2)
SMOKE300 = dict(maps=[4, 2, 1], sizes=SSD300["sizes"][:3], ratios=SSD300["ratios"][:3])
SMOKE512 = dict(maps=[5, 2, 1], sizes=SSD512["sizes"][:3], ratios=SSD512["ratios"][:3])
NUM_CLASSES = 21

ROWS = []


def anchors_for(config):
    from ssdref.multibox.prior import multibox_prior
    parts = [multibox_prior(np.zeros((1, 1, m, m), np.float32), sizes=s, ratios=r)
             for m, s, r in zip(config["maps"], config["sizes"], config["ratios"])]
    return np.concatenate(parts, axis=1)


TORCH = []


def sync():
    from numba import cuda
    cuda.synchronize()
    for torch in TORCH:
        torch.cuda.synchronize()


def timed(fn, reps):
    """(median seconds, last result) over reps calls after one warm-up call; reps 0: the one call
    (the simulator smoke run, where a call takes seconds, times just that)."""
    start = time.perf_counter()
    result = fn()
    sync()
    if reps == 0:
        return time.perf_counter() - start, result
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        result = fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def row(bench, size, batch, impl, fn, reps, check=None):
    """Time fn, record one table row; any failure is recorded, never raised."""
    try:
        seconds, result = timed(fn, reps)
        verdict = ""
        if check is not None:
            try:
                verdict = check(result)
            except Exception as exc:  # a failed comparison is a result, not a crash
                verdict = f"CHECK FAILED: {type(exc).__name__}: {str(exc)[:60]}"
        ROWS.append((bench, size, batch, impl, f"{seconds * 1e3:10.2f}", verdict))
        return result
    except Exception as exc:
        ROWS.append((bench, size, batch, impl, "     error", f"{type(exc).__name__}: {str(exc)[:90]}"))
        traceback.print_exc(file=sys.stderr)
        return None


def equal_all(want):
    def check(got):
        got = got if isinstance(got, tuple) else (got,)
        wants = want if isinstance(want, tuple) else (want,)
        if want is None:
            return "no CPU reference"
        same = all(np.array_equal(np.asarray(g), np.asarray(w)) for g, w in zip(got, wants))
        return "equal" if same else "DIFFERENT"
    return check


def to_host(x):
    return tuple(to_host(v) for v in x) if isinstance(x, tuple) else (
        x.copy_to_host() if hasattr(x, "copy_to_host") else x)


def inputs(rng, num_anchors, batch):
    logits = rng.standard_normal((batch, NUM_CLASSES, num_anchors)).astype(np.float32)
    logits[:, 0] += 3.0                                   # background dominates, as in a trained net
    prob = np.exp(logits - logits.max(axis=1, keepdims=True))
    prob = (prob / prob.sum(axis=1, keepdims=True)).astype(np.float32)
    loc = (rng.standard_normal((batch, num_anchors * 4)) * 0.5).astype(np.float32)
    label = np.full((batch, 16, 5), -1, np.float32)
    for b in range(batch):
        k = int(rng.integers(1, 9))
        label[b, :k, 0] = rng.integers(0, NUM_CLASSES - 1, k)
        label[b, :k, 1:3] = rng.uniform(0, 0.7, (k, 2))
        label[b, :k, 3:5] = label[b, :k, 1:3] + rng.uniform(0.05, 0.3, (k, 2))
    return logits, prob, loc, label


def torch_detection(torch, tv, prob, loc, anchors, threshold=0.01, nms_threshold=0.45, topk=400):
    """The same work in torch: max class, threshold, decode, top-k by score, batched_nms."""
    out = []
    a = anchors[0]
    aw, ah = a[:, 2] - a[:, 0], a[:, 3] - a[:, 1]
    ax, ay = (a[:, 0] + a[:, 2]) * 0.5, (a[:, 1] + a[:, 3]) * 0.5
    for b in range(prob.shape[0]):
        score, cls = prob[b, 1:].max(dim=0)
        p = loc[b].view(-1, 4)
        ox, oy = p[:, 0] * 0.1 * aw + ax, p[:, 1] * 0.1 * ah + ay
        hw, hh = torch.exp(p[:, 2] * 0.2) * aw / 2, torch.exp(p[:, 3] * 0.2) * ah / 2
        boxes = torch.stack([ox - hw, oy - hh, ox + hw, oy + hh], 1).clamp(0, 1)
        keep = score >= threshold
        s, c, bx = score[keep], cls[keep], boxes[keep]
        order = torch.argsort(s, descending=True, stable=True)[:topk]
        out.append(tv.ops.batched_nms(bx[order], s[order], c[order], nms_threshold))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (simulator on a CPU machine)")
    args = parser.parse_args()

    from numba import cuda

    import ssdref.backend as backend
    from ssdref.kernels import cuda_conv, cuda_detection, cuda_nms, cuda_prior, cuda_target
    from ssdref.layers import conv as conv_spec
    from ssdref.multibox import detection, nms, prior, target

    try:
        import torch
        import torchvision as tv
        have_torch = torch.cuda.is_available() and not args.smoke
        if have_torch:
            TORCH.append(torch)
    except Exception:
        torch = tv = None
        have_torch = False

    sizes = [("SSD300", SMOKE300 if args.smoke else SSD300), ("SSD512", SMOKE512 if args.smoke else SSD512)]
    batches = [1, 2] if args.smoke else [1, 8, 32]
    reps = 0 if args.smoke else 5
    rng = np.random.default_rng(0)
    cpu_detection = backend.dispatch(detection.multibox_detection, "numba")
    cpu_target = backend.dispatch(target.multibox_target, "numba")
    cpu_nms = backend.dispatch(nms.nms, "numba")
    cpu_prior = backend.dispatch(prior.multibox_prior, "numba")
    det_kw = dict(nms_threshold=0.45, nms_topk=400)
    tgt_kw = dict(overlap_threshold=0.5, negative_mining_ratio=3, negative_mining_thresh=0.5)
    print(f"device: {cuda.get_current_device().name if not args.smoke else 'CUDA simulator'}; "
          f"torch: {'yes' if have_torch else 'no'}", flush=True)

    for name, config in sizes:
        anchors = anchors_for(config)
        num_anchors = anchors.shape[1]
        label_size = f"{name} A={num_anchors}"
        d_anchor = cuda.to_device(anchors)
        # Prior: every feature map of the config (batch does not matter).
        want = row("prior", label_size, 1, "cpu-numba",
                   lambda: [cpu_prior(np.zeros((1, 1, m, m), np.float32), sizes=s, ratios=r)
                            for m, s, r in zip(config["maps"], config["sizes"], config["ratios"])], reps)
        row("prior", label_size, 1, "cuda",
            lambda: [cuda_prior.multibox_prior(np.zeros((1, 1, m, m), np.float32), sizes=s, ratios=r)
                     for m, s, r in zip(config["maps"], config["sizes"], config["ratios"])], reps,
            lambda got: "equal" if want is not None and all(np.array_equal(g, w) for g, w in zip(got, want))
            else "DIFFERENT")
        for batch in batches:
            logits, prob, loc, label = inputs(rng, num_anchors, batch)
            cpu_reps = 1 if batch > 1 or not args.smoke else reps
            # MultiBoxDetection
            want = row("detection", label_size, batch, "cpu-numba",
                       lambda: cpu_detection(prob, loc, anchors, **det_kw), cpu_reps)
            row("detection", label_size, batch, "cuda host->host",
                lambda: cuda_detection.multibox_detection(prob, loc, anchors, **det_kw), reps, equal_all(want))
            d_prob, d_loc = cuda.to_device(prob), cuda.to_device(loc)
            row("detection", label_size, batch, "cuda device->device",
                lambda: cuda_detection.multibox_detection(d_prob, d_loc, d_anchor, **det_kw), reps,
                lambda got: equal_all(want)(to_host(got)))
            if have_torch:
                t_prob, t_loc, t_anchor = (torch.from_numpy(x).cuda() for x in (prob, loc, anchors))
                row("detection", label_size, batch, "torch+torchvision",
                    lambda: torch_detection(torch, tv, t_prob, t_loc, t_anchor), reps)
            # MultiBoxTarget
            want = row("target", label_size, batch, "cpu-numba",
                       lambda: cpu_target(anchors, label, logits, **tgt_kw), cpu_reps)
            row("target", label_size, batch, "cuda host->host",
                lambda: cuda_target.multibox_target(anchors, label, logits, **tgt_kw), reps, equal_all(want))
            d_label, d_logits = cuda.to_device(label), cuda.to_device(logits)
            row("target", label_size, batch, "cuda device->device",
                lambda: cuda_target.multibox_target(d_anchor, d_label, d_logits, **tgt_kw), reps,
                lambda got: equal_all(want)(to_host(got)))
        # NMS on all anchors of one image (decoded boxes), per class and class-agnostic.
        _, prob, loc, _ = inputs(rng, num_anchors, 1)
        from ssdref.multibox.boxes import clip_boxes, decode
        boxes = clip_boxes(decode(anchors[0], loc[0].reshape(-1, 4)))
        scores = prob[0, 1:].max(axis=0)
        classes = prob[0, 1:].argmax(axis=0).astype(np.float32)
        for topk in (400, -1):
            n = num_anchors if topk < 0 else topk
            for force in (False, True):
                impl = f"topk={topk} {'agnostic' if force else 'per-class'}"
                want = row("nms", label_size, 1, f"cpu-numba {impl}",
                           lambda: cpu_nms(boxes, scores, classes, 0.45, force, topk), 1)
                row("nms", label_size, 1, f"cuda {impl}",
                    lambda: cuda_nms.nms(boxes, scores, classes, 0.45, force, topk), reps, equal_all(want))
                if have_torch:
                    order = np.argsort(-scores, kind="stable")[:n]
                    tb, ts, tc = (torch.from_numpy(np.ascontiguousarray(x[order])).cuda()
                                  for x in (boxes, scores, classes))
                    fn = (lambda: tv.ops.nms(tb, ts, 0.45)) if force else \
                        (lambda: tv.ops.batched_nms(tb, ts, tc.long(), 0.45))
                    row("nms", label_size, 1, f"torchvision {impl}", fn, reps)
    # One VGG conv layer (conv4_3-like: 512 -> 512, 3x3, 38x38).
    shape = (2, 8, 6, 6) if args.smoke else (8, 512, 38, 38)
    x = rng.standard_normal(shape).astype(np.float32)
    w = (rng.standard_normal((shape[1], shape[1], 3, 3)) * 0.05).astype(np.float32)
    bias = rng.standard_normal(shape[1]).astype(np.float32)
    cpu_conv = backend.dispatch(conv_spec.conv_forward, "numba")
    want = row("conv3x3", f"{shape}", shape[0], "cpu-numba", lambda: cpu_conv(x, w, bias, pad=1)[0], 1)
    row("conv3x3", f"{shape}", shape[0], "cuda im2col+gemm", lambda: cuda_conv.conv_forward(x, w, bias, pad=1)[0],
        reps, lambda got: "max rel err %.1e" % (np.abs(got - want).max() / np.abs(want).max()))
    if have_torch:
        tx, tw, tbias = (torch.from_numpy(v).cuda() for v in (x, w, bias))
        row("conv3x3", f"{shape}", shape[0], "torch (cuDNN)",
            lambda: torch.nn.functional.conv2d(tx, tw, tbias, padding=1), reps)

    print(f"\n{'bench':<10} {'size':<24} {'batch':>5}  {'implementation':<28} {'ms':>10}  result")
    for bench, size, batch, impl, ms, verdict in ROWS:
        print(f"{bench:<10} {size:<24} {batch:>5}  {impl:<28} {ms}  {verdict}")
    failures = [r for r in ROWS if "error" in r[4] or "DIFFERENT" in r[5] or "FAILED" in r[5]]
    print(f"\n{len(ROWS)} rows, {len(failures)} failed or different")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
