"""Monitor outputs, weights and gradients during training: MXNet's `mx.monitor.Monitor`.

Mirrors: python/mxnet/monitor.py (1.9.1), over ssdref's Executor.set_monitor_callback.
Conventions that bite:
- the default statistic is norm(x) / sqrt(size(x)) (MXNet's docstring calls it "mean absolute
  value"; the code is the root mean square), a shape-(1,) array in the array's dtype, summed in
  float64 here: MXNet sums scaled squares in float32, so the last printed digit may differ;
- tic() counts the batch and arms the monitor only every `interval` batches (step 0, interval,
  2 interval, ...); toc() appends the stats of every argument, then every auxiliary state, of
  each installed executor, matched by `pattern` with re.match (anchored at the start only);
- toc() returns (step, name, text) with step already counted (the first batch is 1), text the
  stats joined by tabs with a trailing tab, a shape-(1,) stat as its scalar (`1.8204666\\t`);
- toc_print() logs `Batch: {step:7d} {name:30s} {text}` at INFO on the root logger.
Stat functions take and return NumPy arrays (MXNet's take and return NDArrays).
"""
from __future__ import annotations

import logging
import re
from math import sqrt

import numpy as np


def norm_stat(array) -> np.ndarray:
    """norm(x) / sqrt(size(x)) as a shape-(1,) array: MXNet's default monitor statistic."""
    array = np.asarray(array)
    dtype = array.dtype if array.dtype.kind == "f" else np.dtype(np.float32)
    # The sum of squares in float64, then rounded: MXNet's own sum order is not specified.
    norm = np.sqrt(np.sum(np.square(array, dtype=np.float64)))
    return np.array([norm], dtype=dtype) / dtype.type(sqrt(array.size))


class Monitor:
    """Collect stat_func(array) of every tensor whose name matches `pattern`, every `interval` batches."""

    def __init__(self, interval, stat_func=None, pattern=".*", sort=False, monitor_all=False):
        self.stat_func = norm_stat if stat_func is None else stat_func
        self.interval = interval
        self.activated = False
        self.queue = []
        self.step = 0
        self.exes = []
        self.re_prog = re.compile(pattern)
        self.sort = sort
        self.monitor_all = monitor_all

    def stat_helper(self, name, array):
        """The executor callback: queue (step, name, stat) while armed and the name matches."""
        if not self.activated or not self.re_prog.match(name):
            return
        self.queue.append((self.step, name, self.stat_func(array)))

    def install(self, exe):
        """Install the callback on an executor (several executors may share one monitor)."""
        exe.set_monitor_callback(self.stat_helper, self.monitor_all)
        self.exes.append(exe)

    def tic(self):
        """Start collecting for this batch (call before forward)."""
        if self.step % self.interval == 0:
            self.queue = []
            self.activated = True
        self.step += 1

    def toc(self):
        """Stop collecting; the list of (step, name, text) since tic, arguments and aux appended."""
        if not self.activated:
            return []
        for exe in self.exes:
            for name, array in zip(exe._symbol.list_arguments(), exe.arg_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
            for name, array in zip(exe._symbol.list_auxiliary_states(), exe.aux_arrays):
                if self.re_prog.match(name):
                    self.queue.append((self.step, name, self.stat_func(array)))
        self.activated = False
        if self.sort:
            self.queue.sort(key=lambda item: item[1])
        res = [(step, name, _format(stats)) for step, name, stats in self.queue]
        self.queue = []
        return res

    def toc_print(self):
        """Stop collecting and log each stat at INFO."""
        for step, name, text in self.toc():
            logging.info("Batch: {:7d} {:30s} {:s}".format(step, name, text))


def _format(stats) -> str:
    """MXNet's text: each stat then a tab; a shape-(1,) stat as its scalar, others as str(array)."""
    if not isinstance(stats, list):
        stats = [stats]
    text = ""
    for stat in stats:
        stat = np.asarray(stat)
        text += (str(stat[0]) if stat.shape == (1,) else str(stat)) + "\t"
    return text
