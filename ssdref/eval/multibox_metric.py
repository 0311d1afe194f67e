"""MultiBoxMetric: the training losses example/ssd prints (CrossEntropy, SmoothL1), accumulated until reset.

Mirrors: example/ssd/train/metric.py at MXNet tag 1.9.1 (spec: mxnet-semantics.md §7), under NumPy 1.23.5.
Reads the train symbol's outputs: preds[0] = cls_prob (B, C, N) softmax over C classes per anchor,
preds[1] = loc_loss (any shape, the smooth-L1 MakeLoss output), preds[2] = cls_label (B, N) the
MultiBoxTarget class targets (-1 = ignored anchor).

    valid        = number of cls_label >= 0   (positives + mined negatives, not positives only)
    CrossEntropy = sum over valid anchors of -log(p[label] + eps) / valid
    SmoothL1     = sum of every loc_loss element / valid
Conventions that bite:
  * SmoothL1 is divided by the number of non-ignored anchors, not by the number of positives.
  * Each batch's sums are taken in the arrays' dtype (np.log, np.sum as the example calls them) and then
    added to a Python double, as NumPy 1.23 promotes `0.0 + np.float32(x)`; counts are integers.
  * Both sums and counts accumulate across update() calls until reset(); get() with nothing counted
    gives nan.
  * Labels are truncated to int64 as `np.int64(label)` does.
"""
import numpy as np


def _as_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


class MultiBoxMetric:
    """`MultiBoxMetric(eps=1e-8)`: get() -> (['CrossEntropy', 'SmoothL1'], [ce, smooth_l1])."""

    def __init__(self, eps=1e-8):
        self.eps = eps
        self.num = 2
        self.name = ["CrossEntropy", "SmoothL1"]
        self.reset()

    def reset(self):
        self.num_inst = [0] * self.num
        self.sum_metric = [0.0] * self.num

    reset_local = reset

    def update(self, labels, preds):
        """Add one batch; `labels` is unused (the targets come from the network's cls_label output)."""
        del labels
        if not isinstance(preds, (list, tuple)) or len(preds) < 3:
            raise ValueError("MultiBoxMetric: preds must be [cls_prob, loc_loss, cls_label, ...], got "
                             f"{type(preds).__name__} of length {len(preds) if hasattr(preds, '__len__') else '?'}")
        cls_prob, loc_loss, cls_label = (_as_numpy(p) for p in preds[:3])
        if cls_prob.ndim != 3:
            raise ValueError("MultiBoxMetric: cls_prob must have shape (batch, classes, anchors), "
                             f"got {cls_prob.shape}")
        batch, num_classes, num_anchors = cls_prob.shape
        if cls_label.size != batch * num_anchors:
            raise ValueError(f"MultiBoxMetric: cls_label must hold batch x anchors = {batch * num_anchors} values "
                             f"(shape ({batch}, {num_anchors})), got shape {cls_label.shape}")
        label = cls_label.flatten()
        mask = np.where(label >= 0)[0]
        indices = np.int64(label[mask])
        if indices.size and indices.max() >= num_classes:
            raise ValueError(f"MultiBoxMetric: cls_label must be < the {num_classes} classes of cls_prob, "
                             f"got {int(indices.max())}")
        valid_count = int(np.sum(cls_label >= 0))
        # (B, C, N) -> (B*N, C): one row of class probabilities per anchor, in cls_label's order.
        prob = np.ascontiguousarray(cls_prob.transpose((0, 2, 1))).reshape((-1, num_classes))[mask, indices]
        self.sum_metric[0] += float((-np.log(prob + self.eps)).sum())
        self.num_inst[0] += valid_count
        self.sum_metric[1] += float(np.sum(np.ascontiguousarray(loc_loss)))
        self.num_inst[1] += valid_count

    def get(self):
        values = [x / y if y != 0 else float("nan") for x, y in zip(self.sum_metric, self.num_inst)]
        return (list(self.name), values)

    def get_name_value(self):
        return list(zip(*self.get()))
