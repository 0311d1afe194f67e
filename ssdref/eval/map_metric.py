"""Mean average precision for detection: MApMetric (all-point AP) and VOC07MApMetric (11-point AP).

Mirrors: example/ssd/evaluate/eval_metric.py at MXNet tag 1.9.1 (spec: mxnet-semantics.md §7), run under
NumPy 1.23.5 as MXNet 1.9.1's environment pins it, quirks included. Inputs per image:
labels[0][i] (n, 5|6) = [cls, xmin, ymin, xmax, ymax, (difficult)], padded with cls -1 rows;
preds[pred_idx][i] (m, 6) = [cls, score, xmin, ymin, xmax, ymax], cls -1 for "no detection".

The quirks, each reproduced on purpose (the tests pin every one):
  1. An image with no valid gt (no label row with cls >= 0) is skipped entirely: its detections, all
     false positives, never count.
  2. Class ids are `int()`-truncated toward zero (cls -0.5 counts as class 0); prediction rows whose
     truncated cls is < 0 are dropped. Classes are visited in order of first appearance in the image.
  3. Detections of a class are sorted with `scores.argsort()[::-1]`: NumPy 1.23's introsort (not stable),
     reversed. For up to 16 detections, tied scores come out in *reverse* index order; beyond that, in the
     order the partitioning leaves them (ssdref.eval.legacy_sort reproduces both).
  4. Greedy matching: each detection, best score first, takes the argmax IoU over *all* gts of its class
     (difficult and already-found ones included; first index on ties). IoU has no +1 and is 0 where the
     union is < 1e-12, computed in the inputs' dtype. The test is strict `ovmax > ovp_thresh` and, as
     NumPy 1.23 compares a float32 scalar with a Python float, it is made in double: a float32 IoU of
     0.6 (0.6000000238...) passes ovp_thresh=0.6.
  5. Matched to a difficult gt (use_difficult False, 6 columns): flag 0, ignored. Matched to a gt not yet
     found: TP (the gt is now found). Matched to a found gt: FP (duplicate). ovmax <= threshold: FP.
     A class with no gt in the image: all its detections are FP.
  6. gt_count = number of gts with difficult < 1 (use_difficult False and 6 columns), else all gts.
  7. Flag-0 records are removed; if nothing is left, neither the records nor gt_count are inserted, so
     the class's gt count from that image is lost (its recall can then exceed what it should be).
  8. A class with gts but no detection in the image inserts a dummy record [0, 0] (flag 0, dropped
     before AP) plus gt_count = number of *all* its gts, difficult ones included.
  9. AP per class: records of all images concatenated in insertion order, flag-0 rows dropped, sorted by
     `argsort()[::-1]` again; recall = cumTP / count (all zeros when count <= 0), precision =
     cumTP / (cumTP + cumFP). MApMetric: VOC2010+ all-point AP (recall padded with 0 and 1, precision with
     0 and 0, running max from the right, sum of delta-recall x precision).
 10. mAP = np.mean over every class key inserted (from predictions or gts), in insertion order. A class
     with only FPs and no gts has AP 0 and counts. Per-class values only for class ids < len(class_names)
     (others count only in the mAP); a class never seen reports nan. No records at all: nan.
 11. VOC07MApMetric: t in np.arange(0., 1.1, 0.1), float values such as 0.30000000000000004, so
     `rec >= t` leaves out a recall of exactly 0.3 (also 0.6, 0.7); p = max precision over rec >= t
     (0 if none); ap += p / 11. in that order.
"""
from collections.abc import Sequence

import numpy as np

from ssdref.eval.legacy_sort import argsort_descending

_TP, _FP = 1, 2


def _as_numpy(x):
    return x.asnumpy() if hasattr(x, "asnumpy") else np.asarray(x)


def iou_one_to_many(box, gts):
    """IoU of one [xmin, ymin, xmax, ymax] box with each row of gts (k, 4); no +1; 0 where union < 1e-12."""
    ixmin = np.maximum(gts[:, 0], box[0])
    iymin = np.maximum(gts[:, 1], box[1])
    ixmax = np.minimum(gts[:, 2], box[2])
    iymax = np.minimum(gts[:, 3], box[3])
    inters = np.maximum(ixmax - ixmin, 0.) * np.maximum(iymax - iymin, 0.)
    union = (box[2] - box[0]) * (box[3] - box[1]) + (gts[:, 2] - gts[:, 0]) * (gts[:, 3] - gts[:, 1]) - inters
    with np.errstate(divide="ignore", invalid="ignore"):
        ious = inters / union
    ious[union < 1e-12] = 0   # degenerate boxes
    return ious


class MApMetric:
    """`MApMetric(ovp_thresh=0.5, use_difficult=False, class_names=None, pred_idx=0)`: all-point mAP.

    update(labels, preds) buffers per-class records; get() computes AP. get() returns ('mAP', value), or
    with class_names (names + ['mAP'], per-class APs + [mAP]). See the module docstring for the quirks.
    """

    def __init__(self, ovp_thresh=0.5, use_difficult=False, class_names=None, pred_idx=0):
        name = type(self).__name__
        if class_names is None:
            self.num = None
            self.name = "mAP"
        else:
            # MXNet asserts list or tuple (then fails on a tuple at `class_names + ['mAP']`); both work here.
            if not isinstance(class_names, (list, tuple)) or not all(isinstance(c, str) for c in class_names):
                raise TypeError(f"{name}: class_names must be a list of str, got {class_names!r}")
            self.name = list(class_names) + ["mAP"]
            self.num = len(class_names) + 1
        self.ovp_thresh = float(ovp_thresh)
        self.use_difficult = bool(use_difficult)
        self.class_names = class_names
        self.pred_idx = int(pred_idx)
        self.reset()

    def reset(self):
        """Forget every record (and the cached per-class values)."""
        if self.num is None:
            self.num_inst, self.sum_metric = 0, 0.0
        else:
            self.num_inst, self.sum_metric = [0] * self.num, [0.0] * self.num
        self.records = {}     # class id -> (k, 2) [score, flag] with flag 0 unset, 1 TP, 2 FP
        self.counts = {}      # class id -> number of gts counted

    def update(self, labels, preds):
        """Add a batch: labels[0] (B, n, 5|6), preds[pred_idx] (B, m, 6); NumPy or MXNet-like arrays."""
        op = type(self).__name__
        if not isinstance(labels, Sequence) or not isinstance(preds, Sequence):
            raise TypeError(f"{op}: labels and preds must be lists of arrays (labels[0], preds[{self.pred_idx}]), "
                            f"got {type(labels).__name__} and {type(preds).__name__}")
        if len(preds) <= self.pred_idx or len(labels) < 1:
            raise ValueError(f"{op}: preds must have an entry at pred_idx={self.pred_idx} and labels at 0, got "
                             f"{len(preds)} preds and {len(labels)} labels")
        label_batch, pred_batch = _as_numpy(labels[0]), _as_numpy(preds[self.pred_idx])
        if label_batch.ndim != 3 or label_batch.shape[2] < 5:
            raise ValueError(f"{op}: labels[0] must have shape (batch, objects, 5 or 6), got {label_batch.shape}")
        if pred_batch.ndim != 3 or pred_batch.shape[2] < 6:
            raise ValueError(f"{op}: preds[{self.pred_idx}] must have shape (batch, detections, 6), got "
                             f"{pred_batch.shape}")
        if pred_batch.shape[0] != label_batch.shape[0]:
            raise ValueError(f"{op}: preds[{self.pred_idx}] must have the labels' batch size "
                             f"{label_batch.shape[0]}, got {pred_batch.shape[0]}")
        for what, arr in (("labels[0]", label_batch), (f"preds[{self.pred_idx}]", pred_batch)):
            if arr.dtype.kind != "f":
                raise TypeError(f"{op}: {what} must be a float array, got dtype {arr.dtype}")
            if not np.all(np.isfinite(arr)):
                raise ValueError(f"{op}: {what} must be finite, got "
                                 f"{int(arr.size - np.isfinite(arr).sum())} NaN/inf values")
        for i in range(label_batch.shape[0]):
            self._update_image(label_batch[i], pred_batch[i])

    def _update_image(self, label, pred):
        if np.sum(label[:, 0] >= 0) < 1:
            return                                           # quirk 1: no gt, image skipped
        while pred.shape[0] > 0:
            cid = int(pred[0, 0])
            indices = np.where(pred[:, 0].astype(int) == cid)[0]
            dets = pred[indices]
            pred = np.delete(pred, indices, axis=0)
            if cid < 0:
                continue                                     # quirk 2: "no detection" rows
            dets = dets[argsort_descending(dets[:, 1])]      # quirk 3: reversed introsort order
            records = np.hstack((dets[:, 1][:, np.newaxis], np.zeros((dets.shape[0], 1))))
            label_indices = np.where(label[:, 0].astype(int) == cid)[0]
            gts = label[label_indices, :]
            label = np.delete(label, label_indices, axis=0)
            has_difficult = not self.use_difficult and gts.shape[1] >= 6
            if gts.size > 0:
                found = [False] * gts.shape[0]
                for j in range(dets.shape[0]):
                    ious = iou_one_to_many(dets[j, 2:], gts[:, 1:5])
                    best = int(np.argmax(ious))
                    if float(ious[best]) > self.ovp_thresh:  # quirk 4: strict, in double
                        if has_difficult and gts[best, 5] > 0:
                            pass                             # quirk 5: difficult -> flag 0
                        elif not found[best]:
                            records[j, -1] = _TP
                            found[best] = True
                        else:
                            records[j, -1] = _FP             # duplicate
                    else:
                        records[j, -1] = _FP
            else:
                records[:, -1] = _FP
            gt_count = np.sum(gts[:, 5] < 1) if has_difficult else gts.shape[0]   # quirk 6
            records = records[np.where(records[:, -1] > 0)[0], :]
            if records.size > 0:                             # quirk 7: else the gt count is lost
                self._insert(cid, records, gt_count)
        while label.shape[0] > 0:                            # quirk 8: classes nobody detected
            cid = int(label[0, 0])
            label_indices = np.where(label[:, 0].astype(int) == cid)[0]
            label = np.delete(label, label_indices, axis=0)
            if cid < 0:
                continue
            self._insert(cid, np.array([[0, 0]]), label_indices.size)

    def _insert(self, key, records, count):
        if key not in self.records:
            self.records[key] = records
            self.counts[key] = count
        else:
            self.records[key] = np.vstack((self.records[key], records))
            self.counts[key] += count

    def _recall_prec(self, record, count):
        """(recall, precision) along the class's records sorted by score (quirk 9)."""
        record = np.delete(record, np.where(record[:, 1].astype(int) == 0)[0], axis=0)
        sorted_records = record[argsort_descending(record[:, 0])]
        tp = np.cumsum(sorted_records[:, 1].astype(int) == _TP)
        fp = np.cumsum(sorted_records[:, 1].astype(int) == _FP)
        recall = tp * 0.0 if count <= 0 else tp / float(count)
        prec = tp.astype(float) / (tp + fp)
        return recall, prec

    def _average_precision(self, rec, prec):
        """VOC2010+ all-point AP: area under the precision envelope (running max from the right)."""
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        mpre = np.maximum.accumulate(mpre[::-1])[::-1]
        i = np.where(mrec[1:] != mrec[:-1])[0]
        return np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])

    def _update(self):
        """Recompute every class's AP and the mean (what MXNet's get() does first)."""
        aps = []
        for key, records in self.records.items():
            ap = self._average_precision(*self._recall_prec(records, self.counts[key]))
            aps.append(ap)
            if self.num is not None and key < self.num - 1:
                self.sum_metric[key] = ap
                self.num_inst[key] = 1
        mean_ap = np.mean(aps) if aps else float("nan")   # MXNet: np.mean([]) -> nan with a warning
        if self.num is None:
            self.num_inst, self.sum_metric = 1, mean_ap
        else:
            self.num_inst[-1], self.sum_metric[-1] = 1, mean_ap

    def get(self):
        """('mAP', value), or (class_names + ['mAP'], per-class APs + [mAP]); nan where nothing was seen."""
        self._update()
        if self.num is None:
            return (self.name, float("nan") if self.num_inst == 0 else self.sum_metric / self.num_inst)
        values = [x / y if y != 0 else float("nan") for x, y in zip(self.sum_metric, self.num_inst)]
        return (list(self.name), values)

    def get_name_value(self):
        """[(name, value), ...] as mx.metric.EvalMetric.get_name_value."""
        names, values = self.get()
        if not isinstance(names, list):
            names, values = [names], [values]
        return list(zip(names, values))


class VOC07MApMetric(MApMetric):
    """MApMetric with PASCAL VOC 2007's 11-point AP (quirk 11: float thresholds from np.arange)."""

    def _average_precision(self, rec, prec):
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            p = 0 if np.sum(rec >= t) == 0 else np.max(prec[rec >= t])
            ap += p / 11.
        return ap
