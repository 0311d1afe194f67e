"""explain.md: the numbers of a Trace as Markdown tables, one section per SSD stage, with its figure."""
from __future__ import annotations

import os

from ssdref.explain.trace import DETECTION_THRESHOLD, SSD_TARGET


def anchor_position(trace, anchor):
    """(layer name, row, column, slot) of a global anchor index (layer-major, then y, x, slot)."""
    for layer in trace.layers:
        if layer.start <= anchor < layer.start + layer.count:
            local = anchor - layer.start
            cell, slot = divmod(local, layer.per_location)
            row, col = divmod(cell, layer.width)
            return layer.name, row, col, slot
    raise ValueError(f"anchor_position: anchor must be < {trace.anchors.shape[0]}, got {anchor}")


def slot_shape(layer, slot):
    """(size, ratio) of an anchor slot: sizes with ratios[0] first, then ratios[1:] with sizes[0]."""
    if slot < len(layer.sizes):
        return layer.sizes[slot], layer.ratios[0]
    return layer.sizes[0], layer.ratios[slot - len(layer.sizes) + 1]


def _table(headers, rows):
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _f(value, digits=4):
    return f"{float(value):.{digits}f}"


def _box(box):
    return "[" + ", ".join(_f(v, 3) for v in box) + "]"


def _figure(figures, name, caption):
    if name not in figures:
        return ""
    return f"\n![{caption}]({os.path.basename(figures[name])})\n"


def _config_text(trace, context):
    if context.get("own_symbol"):
        return "the checkpoint's symbol as saved (its anchors, classes and NMS settings)"
    overrides = context.get("config") or {}
    base = f"get_config('{trace.network}', {trace.data_shape}, {trace.num_classes})"
    if not overrides:
        return f"{base} as is"
    return f"{base} with " + ", ".join(f"{k}={v!r}" for k, v in overrides.items())


def _image_text(context):
    if context.get("image") is not None:
        name = os.path.basename(str(context["image"]))
        return (f"Image file `{name}` (no ground truth: every label row is -1; normalized with std "
                f"{context.get('std', 58.0):g})")
    return (f"Image {context['image_index']} of the synthetic shapes `{context['split']}` split (seed "
            f"{context['seed']})")


def summary(trace, params_source=""):
    """A few lines for the terminal."""
    return "\n".join([
        f"explain: {trace.network} at {trace.data_shape} px, {params_source}",
        f"  anchors {trace.anchors.shape[0]} = " + " + ".join(str(l.count) for l in trace.layers),
        f"  gt {len(trace.gt)}, positives {trace.num_positive} "
        f"({sum(m.stage == 'bipartite' for m in trace.matches)} bipartite), "
        f"mined negatives {trace.num_negative} of {len(trace.candidates)} candidates",
        f"  L_cls = {trace.cls_loss_sum:.4f} / {trace.num_cls} = {trace.cls_loss:.4f}   "
        f"L_loc = {trace.loc_loss_sum:.4f} / {trace.num_loc} = {trace.loc_loss:.4f}",
        f"  detections: {len(trace.before_nms)} before NMS, {len(trace.after_nms)} after"])


def render(trace, figures, context):
    """The whole explain.md text."""
    out = [f"# SSD on one image, stage by stage\n",
           f"{_image_text(context)}, network `{trace.network}` at {trace.data_shape} px, "
           f"{trace.num_classes} classes + background. Config: {_config_text(trace, context)}. "
           f"Symbol: {context['builder']}; parameters: "
           f"{context['params_source']}. Every number below is checked against the graph's own outputs "
           f"(`cls_prob`, `loc_loss`, `cls_label`, `det_out`). Boxes are normalized "
           f"[xmin, ymin, xmax, ymax].\n"]

    out.append("## 1. The image and its ground truth\n")
    out.append(f"The label has {trace.label.shape[0]} rows [class, xmin, ymin, xmax, ymax, difficult]; "
               f"the first row with class -1 ends the list, so {len(trace.gt)} gts are used.\n")
    out.append(_table(["gt", "class", "box"], [[g, f"{int(r[0])} ({trace.class_names[int(r[0])]})",
                                                 _box(r[1:5])] for g, r in enumerate(trace.gt)]))
    out.append(_figure(figures, "image", "image and ground truth"))

    out.append("## 2. Anchors (MultiBoxPrior)\n")
    out.append("Each feature layer puts S + R - 1 anchors at every cell: one per size with ratios[0], "
               "then one per extra ratio with sizes[0]; half-width = size·sqrt(ratio)/2, half-height = "
               "size/sqrt(ratio)/2 (square maps), centre ((col + 0.5)/W, (row + 0.5)/H).\n")
    rows = [[l.name, f"{l.height}x{l.width}", l.sizes, tuple(round(r, 4) for r in l.ratios),
             f"{len(l.sizes)} + {len(l.ratios)} - 1 = {l.per_location}",
             f"{l.height}·{l.width}·{l.per_location} = {l.count}", l.start] for l in trace.layers]
    rows.append(["**total**", "", "", "", "", f"**{trace.anchors.shape[0]}**", ""])
    out.append(_table(["layer", "H x W", "sizes", "ratios", "per location", "anchors", "first index"],
                      rows))
    out.append(_figure(figures, "anchors", "anchors per layer"))

    out.append("## 3. IoU matrix and matching (MultiBoxTarget steps 3-4)\n")
    out.append("Bipartite stage: repeatedly take the (anchor, gt) pair with the largest IoU among unmatched "
               "anchors and gts (IoU > 1e-6; ties: lowest anchor, then lowest gt), so every gt gets its "
               "best anchor even when that IoU is low. Threshold stage: every other anchor whose best IoU "
               f"is > {SSD_TARGET['overlap_threshold']} (strictly) becomes positive too.\n")
    rows = []
    for m in trace.matches:
        name, row, col, slot = anchor_position(trace, m.anchor)
        layer = next(l for l in trace.layers if l.name == name)
        size, ratio = slot_shape(layer, slot)
        why = "best anchor left for this gt" if m.stage == "bipartite" else \
            f"IoU {_f(m.iou)} > {SSD_TARGET['overlap_threshold']}"
        rows.append([m.anchor, f"{name} ({row},{col}) s={size} r={round(ratio, 3)}", f"gt{m.gt}",
                     _f(m.iou), m.stage, why])
    out.append(_table(["anchor", "layer (row,col) size ratio", "gt", "IoU", "stage", "why"], rows))
    out.append(f"\n{trace.num_positive} positives: "
               f"{sum(m.stage == 'bipartite' for m in trace.matches)} bipartite, "
               f"{sum(m.stage == 'threshold' for m in trace.matches)} threshold.\n")
    out.append(_figure(figures, "iou", "IoU heat map"))
    out.append(_figure(figures, "matches", "positive anchors"))

    out.append("## 4. Hard negative mining (step 5)\n")
    out.append(f"num_negative = min(int(float32({trace.num_positive}) · 3), A - {trace.num_positive}) = "
               f"**{trace.num_negative}**. Candidates: the {len(trace.candidates)} non-positive anchors whose "
               f"max IoU is < {SSD_TARGET['negative_mining_thresh']}. They are ranked by the softmax "
               "probability of background, lowest first (the anchors the net most wrongly calls an "
               "object); the first num_negative become negatives (target 0). All other anchors are "
               "ignored (target -1).\n")
    first = set(range(min(10, trace.num_negative))) | set(range(max(0, trace.num_negative - 3),
                                                                trace.num_negative + 5))
    rows, previous = [], -1
    for c in trace.candidates:
        if c.rank not in first:
            continue
        if c.rank != previous + 1:
            rows.append(["...", "", "", "", "", ""])
        rows.append([c.rank, c.anchor, anchor_position(trace, c.anchor)[0], f"{c.bg_prob:.4g}",
                     _f(c.max_iou, 3), "yes" if c.picked else "no"])
        previous = c.rank
    out.append(_table(["rank", "anchor", "layer", "P(background)", "max IoU", "picked"], rows))
    out.append(_figure(figures, "mining", "hard negative mining"))

    v = SSD_TARGET["variances"]
    out.append("## 5. Encoded targets of the positives (step 6)\n")
    out.append(f"cls_target = gt class + 1. loc_target = [((gx-ax)/aw)/{v[0]}, ((gy-ay)/ah)/{v[1]}, "
               f"log(gw/aw)/{v[2]}, log(gh/ah)/{v[3]}] from centre-size forms (variances {v}); "
               "loc_mask = 1 on the 4 slots.\n")
    out.append(_table(["anchor", "gt", "cls_target", "anchor (cx, cy, w, h)", "gt (cx, cy, w, h)",
                       "loc_target", "loc_pred"],
                      [[t.anchor, f"gt{t.gt}", t.cls_target, _box(t.anchor_cxcywh), _box(t.gt_cxcywh),
                        _box(t.loc_target), _box(t.loc_pred)] for t in trace.targets]))
    out.append(_figure(figures, "targets", "encoded targets"))

    out.append("## 6. The two losses and their normalizers\n")
    out.append(_table(["loss", "sum", "normalizer", "value", "gradient factor"], [
        ["L_cls: SoftmaxOutput(normalization='valid')", _f(trace.cls_loss_sum),
         f"N_cls = {trace.num_cls} non-ignored anchors ({trace.num_positive} pos + {trace.num_negative} neg)",
         _f(trace.cls_loss), f"(p - onehot) · {_f(trace.cls_grad_scale, 6)}"],
        ["L_loc: MakeLoss(smooth_l1(mask·(pred-target)), 'valid')", _f(trace.loc_loss_sum),
         f"N_loc = {trace.num_loc} smooth-L1 elements > 0 (4·{trace.num_positive} = "
         f"{4 * trace.num_positive} minus exact zeros)", _f(trace.loc_loss),
         f"smooth_l1' · {_f(trace.loc_grad_scale, 6)}"]]))
    out.append("\nWith mining ratio 3, N_cls = P + 3P = 4P and N_loc = 4P (minus residuals that are exactly "
               "0), so the two normalizers usually agree; they part when the negatives are capped at "
               "A - P or a residual is exactly zero. "
               "The paper divides both by the number of positives; MXNet's symbol divides each by its "
               "own count (spec §4.4). MXNet never forms these scalars: SoftmaxOutput and MakeLoss emit "
               "the gradients directly. The training monitor (MultiBoxMetric) shows CrossEntropy = "
               f"{_f(trace.metric_cross_entropy)} and SmoothL1 = {_f(trace.metric_smooth_l1)} (the latter "
               f"divided by N_cls = {trace.num_cls}, not by N_loc).\n")
    out.append(_figure(figures, "losses", "losses"))

    out.append("## 7. Decoding and NMS (MultiBoxDetection)\n")
    out.append(f"Per anchor: class = argmax over the object classes, background if its score < "
               f"{DETECTION_THRESHOLD}; box = decode(anchor, loc_pred) clipped to [0, 1]. Then a stable "
               f"sort by score, the best nms_topk = {trace.nms_topk}, and greedy NMS per class: a box is "
               f"suppressed when its IoU with a kept, better box is >= {trace.nms_threshold}.\n")
    out.append(f"{len(trace.before_nms)} detections before NMS (best 10):\n")
    out.append(_table(["anchor", "class", "score", "box"],
                      [[d.anchor, trace.class_names[d.class_id], _f(d.score), _box(d.box)]
                       for d in trace.before_nms[:10]]))
    out.append(f"\n{len(trace.after_nms)} after NMS (best 10):\n")
    out.append(_table(["anchor", "class", "score", "box"],
                      [[d.anchor, trace.class_names[d.class_id], _f(d.score), _box(d.box)]
                       for d in trace.after_nms[:10]]))
    out.append(_figure(figures, "detections", "detections before and after NMS"))
    return "\n".join(out) + "\n"


def write_markdown(trace, out, figures, context) -> str:
    path = os.path.join(out, "explain.md")
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(render(trace, figures, context))
    return path


