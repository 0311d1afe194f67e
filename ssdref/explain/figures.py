"""The figures of `ssdref explain`, one PNG per stage, drawn from a Trace (matplotlib, Agg canvas).

Coordinates are the ops' normalized [0, 1] corners: the image is drawn with extent (0, 1, 1, 0), so a
box [xmin, ymin, xmax, ymax] is drawn as it is. No pyplot: each figure has its own Agg canvas, so
nothing global changes and the same Trace gives the same bytes.
"""
from __future__ import annotations

import os

import numpy as np

from ssdref.explain.trace import DETECTION_THRESHOLD

CLASS_COLOURS = ("#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4")
POSITIVE, NEGATIVE, ANCHOR = "#ffe119", "#ff00ff", "#ffffff"


def _figure(width, height):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure, out, name):
    path = os.path.join(out, name)
    figure.savefig(path, dpi=100, metadata={"Software": None})
    return path


def _show_image(ax, trace, title=None, *, dim=False):
    """The image on [0, 1] x [0, 1]; dim=True pales it so thin boxes drawn over it stay visible."""
    ax.imshow(trace.image, extent=(0, 1, 1, 0), interpolation="nearest", alpha=0.45 if dim else 1.0)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(1.02, -0.02)
    ax.set_xticks([0, 0.5, 1])
    ax.set_yticks([0, 0.5, 1])
    ax.tick_params(labelsize=7)
    if title:
        ax.set_title(title, fontsize=9)


def _box(ax, box, colour, *, width=1.5, style="-", label=None, alpha=1.0):
    from matplotlib.patches import Rectangle

    left, top, right, bottom = (float(v) for v in box)
    ax.add_patch(Rectangle((left, top), right - left, bottom - top, fill=False, edgecolor=colour,
                           linewidth=width, linestyle=style, alpha=alpha))
    if label:
        ax.text(left, top, label, fontsize=6, color="black", va="bottom",
                bbox=dict(facecolor=colour, edgecolor="none", pad=0.5, alpha=0.85))


def _gt_boxes(ax, trace, *, width=2.0, labels=True):
    for g, row in enumerate(trace.gt):
        cls = int(row[0])
        _box(ax, row[1:5], CLASS_COLOURS[cls % len(CLASS_COLOURS)], width=width,
             label=f"gt{g} {trace.class_names[cls]}" if labels else None)


def figure_image(trace, out):
    figure = _figure(4, 4)
    ax = figure.add_subplot()
    _show_image(ax, trace, f"image and ground truth ({len(trace.gt)} objects)")
    _gt_boxes(ax, trace)
    return _save(figure, out, "01_image.png")


def figure_anchors(trace, out):
    """Per layer: every anchor centre (dots) and all anchors of the location nearest gt0's centre."""
    layers = trace.layers
    figure = _figure(3.2 * len(layers), 3.6)
    gx, gy = ((trace.gt[0, 1] + trace.gt[0, 3]) / 2, (trace.gt[0, 2] + trace.gt[0, 4]) / 2) \
        if len(trace.gt) else (0.5, 0.5)
    for k, layer in enumerate(layers):
        ax = figure.add_subplot(1, len(layers), k + 1)
        _show_image(ax, trace, f"{layer.name}\n{layer.height}x{layer.width} x {layer.per_location} "
                               f"= {layer.count} anchors")
        grid = trace.anchors[layer.start:layer.start + layer.count].reshape(
            layer.height, layer.width, layer.per_location, 4)
        centres = (grid[:, :, 0, :2] + grid[:, :, 0, 2:]) / 2
        ax.plot(centres[..., 0].ravel(), centres[..., 1].ravel(), ".", color=ANCHOR, markersize=1.5)
        row = min(int(gy * layer.height), layer.height - 1)
        col = min(int(gx * layer.width), layer.width - 1)
        for slot in range(layer.per_location):
            _box(ax, grid[row, col, slot], CLASS_COLOURS[slot % len(CLASS_COLOURS)], width=1.2)
    figure.tight_layout()
    return _save(figure, out, "02_anchors.png")


def relevant_anchors(trace, max_positives=28, near_misses=8):
    """The bipartite anchors, threshold ones up to max_positives, and the best non-positive anchors
    (highest max IoU: the near misses just under the threshold), in anchor order."""
    chosen = [m.anchor for m in trace.matches if m.stage == "bipartite"]
    chosen += [m.anchor for m in trace.matches if m.stage == "threshold"][: max(0, max_positives - len(chosen))]
    positives = set(int(a) for a in trace.positives)
    best = np.argsort(-trace.iou.max(axis=1), kind="stable") if trace.iou.size else np.array([], int)
    extra = [int(a) for a in best if int(a) not in positives and trace.iou[a].max() > 0]
    return sorted(chosen + extra[:near_misses])


def figure_iou(trace, out):
    anchors = relevant_anchors(trace)
    figure = _figure(max(6, 0.42 * len(anchors) + 1.5), 0.5 * max(1, len(trace.gt)) + 1.8)
    ax = figure.add_subplot()
    if not anchors:
        ax.text(0.5, 0.5, "no anchor overlaps a gt", ha="center")
        return _save(figure, out, "03_iou.png")
    values = trace.iou[anchors].T                                      # (G, shown)
    image = ax.imshow(values, cmap="viridis", vmin=0, vmax=1, aspect="auto")
    stage = {(m.gt, m.anchor): m.stage for m in trace.matches}
    for g in range(values.shape[0]):
        for j, a in enumerate(anchors):
            mark = {"bipartite": "B", "threshold": "T"}.get(stage.get((g, a)), "")
            ax.text(j, g, f"{values[g, j]:.2f}\n{mark}", ha="center", va="center", fontsize=6,
                    color="white" if values[g, j] < 0.6 else "black")
    ax.set_xticks(range(len(anchors)), [str(a) for a in anchors], rotation=90, fontsize=6)
    ax.set_yticks(range(values.shape[0]), [f"gt{g}" for g in range(values.shape[0])], fontsize=7)
    ax.set_xlabel("anchor index (positives, and the best non-positive anchors: no mark)", fontsize=8)
    ax.set_title("IoU(gt, anchor); B = bipartite match (best anchor for the gt), "
                 "T = threshold match (IoU > 0.5)", fontsize=8)
    figure.colorbar(image, ax=ax, fraction=0.03, pad=0.01)
    figure.tight_layout()
    return _save(figure, out, "03_iou.png")


def figure_matches(trace, out):
    figure = _figure(4, 4)
    ax = figure.add_subplot()
    _show_image(ax, trace, "positives: solid = bipartite (labelled), dashed = threshold", dim=True)
    _gt_boxes(ax, trace, width=3.0, labels=False)
    for m in sorted(trace.matches, key=lambda m: m.stage == "bipartite"):   # bipartite drawn on top
        cls = int(trace.gt[m.gt, 0])
        bipartite = m.stage == "bipartite"
        _box(ax, trace.anchors[m.anchor], CLASS_COLOURS[cls % len(CLASS_COLOURS)],
             width=1.6 if bipartite else 0.8, style="-" if bipartite else "--",
             label=f"anchor {m.anchor}: IoU {m.iou:.2f}" if bipartite else None)
    return _save(figure, out, "04_matches.png")


def figure_mining(trace, out):
    figure = _figure(9, 3.8)
    ax = figure.add_subplot(1, 2, 1)
    _show_image(ax, trace, f"{trace.num_negative} mined negatives (magenta), positives (yellow)", dim=True)
    for c in trace.candidates[: trace.num_negative]:
        _box(ax, trace.anchors[c.anchor], NEGATIVE, width=0.8, alpha=0.8)
    for a in trace.positives:
        _box(ax, trace.anchors[a], POSITIVE, width=1.2)
    ax = figure.add_subplot(1, 2, 2)
    shown = trace.candidates[: max(3 * trace.num_negative, 10)]
    ranks = [c.rank for c in shown]
    ax.bar(ranks, [c.bg_prob for c in shown],
           color=[NEGATIVE if c.picked else "#bbbbbb" for c in shown], width=0.9)
    ax.axvline(trace.num_negative - 0.5, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel(f"rank among {len(trace.candidates)} candidates (max IoU < 0.5), "
                  f"lowest background probability first", fontsize=7)
    ax.set_ylabel("softmax probability of background", fontsize=7)
    ax.set_title(f"num_negative = int(3 x {trace.num_positive}) = {trace.num_negative}: "
                 f"the first {trace.num_negative} are picked", fontsize=8)
    ax.tick_params(labelsize=7)
    figure.tight_layout()
    return _save(figure, out, "05_mining.png")


def figure_targets(trace, out):
    """Each bipartite positive: the anchor, its gt and the centre offset the target encodes."""
    figure = _figure(4, 4)
    ax = figure.add_subplot()
    _show_image(ax, trace, "bipartite anchor (dashed) -> its gt, and the target", dim=True)
    for t in trace.targets:
        cls = t.cls_target - 1
        colour = CLASS_COLOURS[cls % len(CLASS_COLOURS)]
        match = next(m for m in trace.matches if m.anchor == t.anchor)
        if match.stage != "bipartite":
            continue
        _box(ax, trace.anchors[t.anchor], colour, width=1.2, style="--")
        _box(ax, trace.gt[t.gt, 1:5], colour, width=2.0)
        (ax_, ay), (gx, gy) = t.anchor_cxcywh[:2], t.gt_cxcywh[:2]
        ax.annotate("", xy=(gx, gy), xytext=(ax_, ay),
                    arrowprops=dict(arrowstyle="->", color="black", linewidth=1.2))
        ax.text(gx, gy, f"[{', '.join(f'{v:.2f}' for v in t.loc_target)}]", fontsize=6,
                ha="right" if gx > 0.5 else "left", va="bottom",
                bbox=dict(facecolor="white", edgecolor=colour, pad=0.8, alpha=0.9))
    return _save(figure, out, "06_targets.png")


def figure_losses(trace, out):
    figure = _figure(9, 3.4)
    counted = np.flatnonzero(trace.cls_target >= 0)
    target = trace.cls_target[counted].astype(np.int64)
    nll = trace.neg_log_p
    ax = figure.add_subplot(1, 2, 1)
    ax.bar(range(len(counted)), nll, color=[POSITIVE if t > 0 else NEGATIVE for t in target])
    if len(counted) <= 30:
        ax.set_xticks(range(len(counted)), [str(a) for a in counted], rotation=90, fontsize=6)
    else:
        ax.set_xticks([])
    ax.set_title(f"-log p(target): {len(counted)} non-ignored anchors; L_cls = {trace.cls_loss_sum:.3f} / "
                 f"{trace.num_cls} = {trace.cls_loss:.4f}", fontsize=8)
    ax.set_xlabel("non-ignored anchors in index order (yellow positive, magenta mined negative)",
                  fontsize=7)
    ax.tick_params(labelsize=7)
    ax = figure.add_subplot(1, 2, 2)
    positives = trace.positives
    elements = trace.loc_loss_elements[positives]                      # (P, 4)
    for j, name in enumerate(("x", "y", "w", "h")):
        ax.bar(np.arange(len(positives)) + 0.2 * (j - 1.5), elements[:, j], width=0.2, label=name)
    ax.set_xticks(range(len(positives)), [str(a) for a in positives], rotation=90, fontsize=6)
    ax.legend(fontsize=6)
    ax.set_title(f"smooth L1 per coordinate of the positives; L_loc = {trace.loc_loss_sum:.3f} / "
                 f"{trace.num_loc} = {trace.loc_loss:.4f}", fontsize=8)
    ax.tick_params(labelsize=7)
    figure.tight_layout()
    return _save(figure, out, "07_losses.png")


def shown_detections(trace, limit=8, min_score=0.3):
    """After NMS: those with score >= min_score (at most limit), or at least the best 3 (an untrained
    net is unsure of everything)."""
    sure = [d for d in trace.after_nms if d.score >= min_score][:limit]
    return sure if len(sure) >= 3 else list(trace.after_nms[:3])


def figure_detections(trace, out, before_limit=40):
    figure = _figure(8, 4.2)
    before = trace.before_nms[:before_limit]
    ax = figure.add_subplot(1, 2, 1)
    _show_image(ax, trace, f"before NMS: best {len(before)} of {len(trace.before_nms)}\n"
                           f"(score >= {DETECTION_THRESHOLD})", dim=True)
    for d in before:
        _box(ax, d.box, CLASS_COLOURS[d.class_id % len(CLASS_COLOURS)], width=0.8, alpha=0.7)
    ax = figure.add_subplot(1, 2, 2)
    shown = shown_detections(trace)
    _show_image(ax, trace, f"after NMS (IoU >= {trace.nms_threshold} suppresses):\n"
                           f"{len(trace.after_nms)} kept, best {len(shown)} drawn", dim=True)
    _gt_boxes(ax, trace, width=1.0, labels=False)
    for d in shown:
        _box(ax, d.box, CLASS_COLOURS[d.class_id % len(CLASS_COLOURS)], width=2.0,
             label=f"{trace.class_names[d.class_id]} {d.score:.2f}")
    figure.tight_layout()
    return _save(figure, out, "08_detections.png")


def write_figures(trace, out) -> dict:
    """Every figure -> {name: path}."""
    makers = {"image": figure_image, "anchors": figure_anchors, "iou": figure_iou,
              "matches": figure_matches, "mining": figure_mining, "targets": figure_targets,
              "losses": figure_losses, "detections": figure_detections}
    return {name: maker(trace, out) for name, maker in makers.items()}
