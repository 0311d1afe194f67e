"""`ssdref demo`: train the seed's SSD on synthetic shapes, evaluate on held-out images, draw the results.

What `make demo` runs. The seed's get_symbol_train (example/ssd symbol_builder.py, run on ssdref) builds
the tiny SSD; ssdref.train.train_ssd trains it with momentum SGD from Xavier initialization; the seed's
get_symbol (MultiBoxDetection, NMS 0.45 as example/ssd's evaluate.py) predicts on held-out images;
MApMetric / VOC07MApMetric score them. Writes into --out: detections.png, loss_curve.png, and the
trained model as an MXNet checkpoint (ssd_tiny-symbol.json, ssd_tiny-%04d.params).

The demo's network and data (documented choices, tuned for a few minutes on 2 CPU cores):
  * tiny body at 64x64, four feature layers (16x16, 8x8, 4x4, 2x2) with ssdref's tiny sizes, but one
    aspect ratio per layer (the shapes' boxes are all square) and no L2 normalization (scale 20 on
    relu3_1 makes a from-scratch net's first logits so large that training collapses to background);
  * SGD lr 0.1 with a linear warm-up, momentum 0.9, wd 5e-4, one step decay by 10; batch 16.
Runs single-threaded (NUMBA/OMP/OPENBLAS threads = 1): this graph's ops are small, and two thread
pools spinning on 2 cores made an update 5-20 times slower than one thread.
"""
from __future__ import annotations

import os
import time

import numpy as np

# The demo's settings: the network config overrides, the data, and the schedule (see the docstring).
DEMO_CONFIG = dict(normalizations=-1, ratios=[1], nms_thresh=0.45)
SETTINGS = {
    "default": dict(num_train=1024, epochs=16, lr_steps=[12], learning_rate=0.1, warmup_steps=100,
                    num_val=256, target=0.8),
    "quick": dict(num_train=768, epochs=8, lr_steps=[6], learning_rate=0.1, warmup_steps=50,
                  num_val=128, target=0.5),
}
DATA_SHAPE = 64
BATCH_SIZE = 16


def predict(symbol, arg_params, aux_params, data, batch_size=32):
    """Run a deploy symbol (get_symbol: MultiBoxDetection output) over data (N, 3, H, W) in batches.

    Returns float32 (N, num_anchors, 6) rows [cls, score, xmin, ymin, xmax, ymax], cls -1 = suppressed.
    A short last batch is padded with copies of the first image and the padding dropped.
    """
    n = data.shape[0]
    batch_size = max(1, min(int(batch_size), n))
    exe = symbol.simple_bind(grad_req="null", data=(batch_size,) + tuple(data.shape[1:]))
    exe.copy_params_from({k: v for k, v in arg_params.items() if k in exe.arg_dict},
                         {k: v for k, v in aux_params.items() if k in exe.aux_dict})
    outs = []
    for start in range(0, n, batch_size):
        chunk = data[start:start + batch_size]
        if chunk.shape[0] < batch_size:
            chunk = np.concatenate([chunk, np.repeat(data[:1], batch_size - chunk.shape[0], axis=0)])
        exe.arg_dict["data"][...] = chunk
        exe.forward(is_train=False)
        outs.append(np.array(exe.outputs[0][:min(batch_size, n - start)]))
    return np.concatenate(outs)


def evaluate(detections, labels, class_names, ovp_thresh=0.5):
    """{'names', 'ap' (MApMetric per class), 'ap07' (VOC07MApMetric), 'mAP', 'mAP07'} of detections."""
    from ssdref.eval import MApMetric, VOC07MApMetric

    results = {"names": list(class_names)}
    for key, metric_cls in (("ap", MApMetric), ("ap07", VOC07MApMetric)):
        metric = metric_cls(ovp_thresh=ovp_thresh, class_names=list(class_names))
        metric.update([labels], [detections])
        _, values = metric.get()
        results[key] = [float(v) for v in values[:-1]]
        results["mAP" if key == "ap" else "mAP07"] = float(values[-1])
    return results


def ap_table(results) -> str:
    from ssdref.report import format_table

    rows = [[name, ap, ap07] for name, ap, ap07 in zip(results["names"], results["ap"], results["ap07"])]
    rows.append(["mAP", results["mAP"], results["mAP07"]])
    return format_table(["class", "AP (MApMetric)", "AP (VOC07 11-point)"], rows, align="lrr")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    import matplotlib.pyplot as plt

    return plt


CLASS_COLOURS = ("tab:red", "tab:blue", "tab:orange", "tab:purple", "tab:cyan")


def plot_detections(path, images, labels, detections, class_names, *, score_thresh=0.5, max_boxes=10,
                    columns=4):
    """A grid of images: true boxes dashed white, the best max_boxes detections with score >=
    score_thresh in class colours (the title counts all of them)."""
    plt = _pyplot()
    from matplotlib.patches import Rectangle

    rows = -(-len(images) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(2.6 * columns, 2.75 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label, det in zip(axes.flat, images, labels, detections):
        height, width = image.shape[:2]
        ax.imshow(image, interpolation="nearest", extent=(0, width, height, 0))
        for cls, x0, y0, x1, y1 in label[label[:, 0] >= 0, :5]:
            ax.add_patch(Rectangle((x0 * width, y0 * height), (x1 - x0) * width, (y1 - y0) * height,
                                   fill=False, edgecolor="white", linestyle="--", linewidth=1.2))
        kept = det[(det[:, 0] >= 0) & (det[:, 1] >= score_thresh)]
        kept = kept[np.argsort(-kept[:, 1], kind="stable")]
        for cls, score, x0, y0, x1, y1 in kept[:max_boxes]:
            colour = CLASS_COLOURS[int(cls) % len(CLASS_COLOURS)]
            ax.add_patch(Rectangle((x0 * width, y0 * height), (x1 - x0) * width, (y1 - y0) * height,
                                   fill=False, edgecolor=colour, linewidth=1.8))
            ax.text(x0 * width, y0 * height, f"{class_names[int(cls)]} {score:.2f}", fontsize=6.5,
                    color="white", va="bottom", bbox=dict(facecolor=colour, edgecolor="none", pad=0.8))
        ax.set_xlim(0, width)
        ax.set_ylim(height, 0)
        ax.set_title(f"{int((label[:, 0] >= 0).sum())} true, {len(kept)} detected", fontsize=8)
    fig.suptitle(f"Validation detections (score >= {score_thresh}); dashed white: ground truth", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _smooth(values, window):
    values = np.asarray(values, np.float64)
    if len(values) < window or window < 2:
        return values
    kernel = np.ones(window) / window
    head = np.cumsum(values[:window - 1]) / np.arange(1, window)
    return np.concatenate([head, np.convolve(values, kernel, mode="valid")])


def plot_loss_curve(path, history, val_curve=()):
    """CrossEntropy and SmoothL1 per update (raw and smoothed), the learning rate, validation mAP."""
    plt = _pyplot()
    it = np.asarray(history["iteration"])
    panels = 3 if val_curve else 2
    fig, axes = plt.subplots(1, panels, figsize=(4.6 * panels, 3.6))
    window = max(1, len(it) // 40)
    for ax, key, title in zip(axes, ("cross_entropy", "smooth_l1"), ("CrossEntropy", "SmoothL1")):
        ax.plot(it, history[key], color="tab:blue", alpha=0.25, linewidth=0.8, label="per batch")
        ax.plot(it, _smooth(history[key], window), color="tab:blue", linewidth=1.6, label=f"mean of {window}")
        ax.set_xlabel("update")
        ax.set_title(f"{title} (MultiBoxMetric)")
        ax.grid(alpha=0.3)
        lr_ax = ax.twinx()
        lr_ax.plot(it, history["lr"], color="tab:gray", linestyle=":", linewidth=1.2, label="learning rate")
        lr_ax.set_ylabel("learning rate", color="tab:gray", fontsize=8)
        lr_ax.tick_params(axis="y", labelsize=7, colors="tab:gray")
        handles = ax.get_legend_handles_labels()[0] + lr_ax.get_legend_handles_labels()[0]
        ax.legend(handles=handles, loc="upper right", fontsize=7)
    if val_curve:
        epochs = [e for e, _ in val_curve]
        ax = axes[2]
        ax.plot(epochs, [r["mAP"] for _, r in val_curve], "o-", label="mAP (MApMetric)")
        ax.plot(epochs, [r["mAP07"] for _, r in val_curve], "s--", label="mAP (VOC07)")
        ax.set_ylim(0, 1)
        ax.set_xlabel("epoch")
        ax.set_title("validation mAP")
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(args) -> int:
    """`ssdref demo [--quick] [--out DIR] [--seed N]`: train, evaluate, print AP, write the pictures.

    args.settings (optional dict, for tests and experiments) overrides SETTINGS[mode] entries.
    """
    from ssdref.data.shapes import CLASS_NAMES, make_images, normalize
    from ssdref.train import build_symbols, save_checkpoint, train_ssd

    mode = "quick" if getattr(args, "quick", False) else "default"
    settings = dict(SETTINGS[mode], **getattr(args, "settings", {}))
    out = getattr(args, "out", None) or "demo-out"
    seed = int(getattr(args, "seed", 0) or 0)
    num_val, target = settings.pop("num_val"), settings.pop("target")
    os.makedirs(out, exist_ok=True)
    started = time.perf_counter()

    val_images, val_labels = make_images(num_val, DATA_SHAPE, seed=seed, split="val")
    val_data = normalize(val_images)
    test_sym, _, builder = build_symbols("tiny", DATA_SHAPE, len(CLASS_NAMES), config=DEMO_CONFIG, train=False)
    val_curve = []

    def validate(epoch, arg_params, aux_params):
        # A few validation points for the loss-curve figure (the last one is the final evaluation).
        every = max(1, settings["epochs"] // 4)
        if (epoch + 1) % every == 0 or epoch + 1 == settings["epochs"]:
            res = evaluate(predict(test_sym, arg_params, aux_params, val_data), val_labels, CLASS_NAMES)
            val_curve.append((epoch + 1, res))

    print(f"ssdref demo ({mode}): SSD 'tiny' on {DATA_SHAPE}x{DATA_SHAPE} synthetic shapes "
          f"({', '.join(CLASS_NAMES)}), seed {seed}")
    print(f"graph: get_symbol_train / get_symbol of {builder}")
    result = train_ssd("tiny", DATA_SHAPE, len(CLASS_NAMES), batch_size=BATCH_SIZE, seed=seed,
                       config=DEMO_CONFIG, epoch_end_callback=validate, **settings)
    history = result.history
    train_seconds = time.perf_counter() - started
    final = val_curve[-1][1]
    print(f"\nValidation: {num_val} held-out images, IoU >= 0.5 "
          f"(after {len(history['iteration'])} updates, {train_seconds:.0f} s)")
    print(ap_table(final))

    detections = predict(test_sym, result.arg_params, result.aux_params, val_data[:16])
    plot_detections(os.path.join(out, "detections.png"), val_images[:16], val_labels[:16], detections,
                    CLASS_NAMES)
    plot_loss_curve(os.path.join(out, "loss_curve.png"), history, val_curve)
    params = save_checkpoint(os.path.join(out, "ssd_tiny"), settings["epochs"], result.symbol,
                             result.arg_params, result.aux_params)
    elapsed = time.perf_counter() - started
    verdict = "reached" if final["mAP"] >= target else "NOT reached"
    print(f"\nmAP {final['mAP']:.4f} (VOC07 {final['mAP07']:.4f}); target {target} {verdict}; "
          f"{elapsed:.0f} s in all")
    print(f"wrote {os.path.join(out, 'detections.png')}, {os.path.join(out, 'loss_curve.png')}, {params}")
    return 0
