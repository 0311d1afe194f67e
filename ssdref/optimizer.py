"""SGD with momentum and weight decay, and its learning-rate schedules, exactly as MXNet 1.9.1 updates.

Mirrors: python/mxnet/optimizer/optimizer.py (`Optimizer`, `SGD`, `Updater`), python/mxnet/lr_scheduler.py
(`FactorScheduler`, `MultiFactorScheduler`) and src/operator/optimizer_op-inl.h (`MultiSGDKernel`, the
kernel `multi_sgd_mom_update` / `multi_sgd_update` run). Spec: mxnet-graph-formats.md §8.

Per parameter and step, in the weight's dtype, with every constant first rounded to float32 (MXNet's
operator parameters are C++ floats, parsed from the Python values):
    lr  = schedule(num_update) * lr_mult          wd = self.wd * wd_mult       (Python double first)
    g   = rescale_grad * grad, clipped to [-clip_gradient, clip_gradient] when clip_gradient is truthy
    mom = momentum*mom - (lr*wd)*weight - (lr*rescale_grad)*grad       no clip
    mom = momentum*mom - (lr*wd)*weight - lr*clip(rescale_grad*grad)   clip
    weight = weight + mom
Conventions that bite:
  * The momentum buffer holds the *negative* step; it starts at zeros. momentum == 0: no state, and the
    same formula with mom = 0 (the aggregated kernel MXNet's Updater uses).
  * Weight decay is inside the step, scaled by lr, never by rescale_grad.
  * wd_mult is 0.0 for every parameter whose name ends neither in `_weight` nor in `_gamma` (biases,
    betas, SSD's `*_scale`), then `__wd_mult__` attributes override; lr_mult comes only from
    `__lr_mult__`. Both read from `sym.attr_dict()` for names in `sym.list_arguments()`.
  * clip_gradient None, 0 and any negative value all mean "no clipping".
  * num_update counts updates per index and is 1 on the first step; the schedulers decay once
    `num_update > step` (MultiFactorScheduler(step=[10]) first decays at update 11) and are stateful,
    multiplying base_lr by the factor in Python double each time.
"""
from collections.abc import Mapping
import math
import numbers

import numpy as np

_OP = "SGD"


def _check_step(op, step):
    if isinstance(step, bool) or not isinstance(step, numbers.Real) or step < 1:
        raise ValueError(f"{op}: step must be >= 1 (Schedule step must be greater or equal than 1 round), "
                         f"got {step!r}")


class LRScheduler:
    """`mx.lr_scheduler.LRScheduler`: base_lr plus MXNet's linear/constant warm-up."""

    def __init__(self, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, int):
            raise TypeError(f"LRScheduler: warmup_steps must be an int, got {warmup_steps!r}")
        if warmup_begin_lr > base_lr:
            raise ValueError(f"LRScheduler: warmup_begin_lr must be <= base_lr ({base_lr}), got {warmup_begin_lr}")
        if warmup_steps < 0:
            raise ValueError(f"LRScheduler: warmup_steps must be >= 0, got {warmup_steps}")
        if warmup_mode not in ("linear", "constant"):
            raise ValueError(f"LRScheduler: warmup_mode must be 'linear' or 'constant', got {warmup_mode!r}")
        self.base_lr = base_lr
        self.warmup_steps = warmup_steps
        # Fixed at construction: an optimizer that later overrides base_lr does not move the warm-up's end.
        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        if self.warmup_mode == "linear":
            increase = (self.warmup_final_lr - self.warmup_begin_lr) * float(num_update) / float(self.warmup_steps)
            return self.warmup_begin_lr + increase
        return self.warmup_begin_lr

    def __call__(self, num_update):
        raise NotImplementedError("LRScheduler: use FactorScheduler or MultiFactorScheduler")


class FactorScheduler(LRScheduler):
    """`mx.lr_scheduler.FactorScheduler`: lr *= factor each time num_update passes another `step` updates."""

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        _check_step("FactorScheduler", step)
        if factor > 1.0:
            raise ValueError(f"FactorScheduler: factor must be <= 1 to make lr reduce, got {factor}")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        # `while`, not `if`: a resumed run jumps several steps at once.
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
        return self.base_lr


class MultiFactorScheduler(LRScheduler):
    """`mx.lr_scheduler.MultiFactorScheduler`: lr *= factor once num_update > step[k], for each k in turn."""

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0, warmup_mode="linear"):
        super().__init__(base_lr, warmup_steps, warmup_begin_lr, warmup_mode)
        if not isinstance(step, list) or len(step) < 1:
            raise ValueError(f"MultiFactorScheduler: step must be a non-empty list of ints, got {step!r}")
        for i, s in enumerate(step):
            _check_step("MultiFactorScheduler", s)
            if i and s <= step[i - 1]:
                raise ValueError(f"MultiFactorScheduler: step must be an increasing list, got {step}")
        if factor > 1.0:
            raise ValueError(f"MultiFactorScheduler: factor must be <= 1 to make lr reduce, got {factor}")
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        while self.cur_step_ind <= len(self.step) - 1:
            if num_update > self.step[self.cur_step_ind]:
                self.count = self.step[self.cur_step_ind]
                self.cur_step_ind += 1
                self.base_lr *= self.factor
            else:
                return self.base_lr
        return self.base_lr


def sgd_update(weight, grad, mom, *, lr, wd, momentum=0.0, rescale_grad=1.0, clip_gradient=None):
    """One `multi_sgd_mom_update` / `multi_sgd_update` step; returns (new_weight, new_mom), inputs untouched.

    weight, grad: same shape, float32 or float64 (same dtype); mom: same, or None when momentum == 0.
    lr, wd, momentum, rescale_grad, clip_gradient: Python numbers; each is rounded to float32 and then
    used in the weight's dtype, as MXNet's C++ float parameters are. new_mom is None when mom is None.
    """
    for name, a in (("weight", weight), ("grad", grad)):
        if not isinstance(a, np.ndarray) or a.dtype not in (np.float32, np.float64):
            raise TypeError(f"{_OP}: {name} must be a float32 or float64 numpy array, got "
                            f"{getattr(a, 'dtype', type(a).__name__)}")
    if grad.dtype != weight.dtype:
        raise TypeError(f"{_OP}: grad must have the weight's dtype {weight.dtype}, got {grad.dtype}")
    if grad.shape != weight.shape:
        raise ValueError(f"{_OP}: grad must have the weight's shape {weight.shape}, got {grad.shape}")
    if mom is not None and (not isinstance(mom, np.ndarray) or mom.shape != weight.shape
                            or mom.dtype != weight.dtype):
        raise ValueError(f"{_OP}: momentum state must be a {weight.dtype} array of shape {weight.shape}, "
                         f"got {getattr(mom, 'dtype', type(mom).__name__)} {getattr(mom, 'shape', '')}")
    dtype = weight.dtype.type

    def const(value):
        return dtype(np.float32(value))

    lr_, wd_, rescale_ = const(lr), const(wd), const(rescale_grad)
    step_decay = (lr_ * wd_) * weight
    if clip_gradient and clip_gradient >= 0:
        bound = const(clip_gradient)
        scaled = rescale_ * grad
        # mshadow_op::clip: x > bound -> bound, x < -bound -> -bound, else x (NaN passes through).
        clipped = np.where(scaled > bound, bound, np.where(scaled < -bound, -bound, scaled))
        step_grad = lr_ * clipped
    else:
        step_grad = (lr_ * rescale_) * grad
    previous = const(momentum) * mom if mom is not None else dtype(0) * dtype(0)
    new_mom = (previous - step_decay) - step_grad
    new_weight = weight + new_mom
    return new_weight.astype(weight.dtype, copy=False), (new_mom if mom is not None else None)


def _attr_dict_and_arguments(sym):
    """(attr_dict, argument names) from a Symbol, or from a plain {name: {attr: str}} dict."""
    if sym is None:
        return {}, []
    if isinstance(sym, Mapping):
        return dict(sym), list(sym)
    if hasattr(sym, "attr_dict") and hasattr(sym, "list_arguments"):
        return sym.attr_dict(), list(sym.list_arguments())
    raise TypeError(f"{_OP}: sym must be a Symbol (attr_dict, list_arguments) or a dict of name to attrs, "
                    f"got {type(sym).__name__}")


class SGD:
    """`mx.optimizer.SGD`: momentum SGD with per-parameter lr_mult / wd_mult (see the module docstring).

    update(index, weight, grad, state) changes `weight` and `state` in place, as MXNet's does; index is a
    parameter index (looked up in param_idx2name) or a parameter name.
    """

    def __init__(self, learning_rate=None, momentum=0.0, wd=0.0, rescale_grad=1.0, clip_gradient=None,
                 lr_scheduler=None, param_idx2name=None, sym=None, begin_num_update=0, lazy_update=True,
                 multi_precision=False):
        if multi_precision:
            raise ValueError(f"{_OP}: multi_precision must be False (float16 master copies are not "
                             "implemented), got True")
        for name, value in (("momentum", momentum), ("wd", wd), ("rescale_grad", rescale_grad)):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value):
                raise TypeError(f"{_OP}: {name} must be a number, got {value!r}")
        if param_idx2name is None:
            param_idx2name = {}
        if not isinstance(param_idx2name, Mapping):
            raise TypeError(f"{_OP}: param_idx2name must be a dict of index to name, got "
                            f"{type(param_idx2name).__name__}")
        self.rescale_grad = rescale_grad
        self.lr_scheduler = lr_scheduler
        if lr_scheduler is None and learning_rate is None:
            learning_rate = 0.01
        self.lr = learning_rate
        if lr_scheduler is not None and learning_rate is not None and lr_scheduler.base_lr != learning_rate:
            # MXNet prints (does not raise or warn) this message and then overrides the scheduler's base_lr.
            print(UserWarning("learning rate from ``lr_scheduler`` has been overwritten by "
                              "``learning_rate`` in optimizer."))
            lr_scheduler.base_lr = learning_rate
        self.momentum = momentum
        self.wd = wd
        self.clip_gradient = clip_gradient
        self.lazy_update = lazy_update
        self.begin_num_update = begin_num_update
        self.num_update = begin_num_update
        self._index_update_count = {}
        self.idx2name = dict(param_idx2name)
        self.sym_info = _attr_dict_and_arguments(sym)
        self.set_lr_mult({})
        self.set_wd_mult({})

    @property
    def learning_rate(self):
        return self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr

    def set_learning_rate(self, lr):
        if self.lr_scheduler is not None:
            raise UserWarning("LRScheduler of the optimizer has already been defined. Note that "
                              "set_learning_rate can mutate the value of the learning rate of the optimizer "
                              "only when the LRScheduler of the optimizer is undefined.")
        self.lr = lr

    def set_lr_mult(self, args_lr_mult):
        """lr_mult = float(`__lr_mult__`) for each argument that has one, then `args_lr_mult` overrides."""
        attrs, arg_names = self.sym_info
        self.lr_mult = {n: float(attrs[n]["__lr_mult__"]) for n in arg_names
                        if n in attrs and "__lr_mult__" in attrs[n]}
        self.lr_mult.update(args_lr_mult)

    def set_wd_mult(self, args_wd_mult):
        """wd_mult = 0 unless the name ends in _weight/_gamma; `__wd_mult__` and `args_wd_mult` override."""
        self.wd_mult = {n: 0.0 for n in self.idx2name.values()
                        if not (n.endswith("_weight") or n.endswith("_gamma"))}
        attrs, arg_names = self.sym_info
        self.wd_mult.update({n: float(attrs[n]["__wd_mult__"]) for n in arg_names
                             if n in attrs and "__wd_mult__" in attrs[n]})
        self.wd_mult.update(args_wd_mult)

    def _update_count(self, index):
        count = self._index_update_count.get(index, self.begin_num_update) + 1
        self._index_update_count[index] = count
        self.num_update = max(count, self.num_update)

    def _get_lr(self, index):
        lr = self.lr_scheduler(self.num_update) if self.lr_scheduler is not None else self.lr
        if index in self.lr_mult:
            return lr * self.lr_mult[index]
        if index in self.idx2name:
            return lr * self.lr_mult.get(self.idx2name[index], 1.0)
        return lr

    def _get_wd(self, index):
        if index in self.wd_mult:
            return self.wd * self.wd_mult[index]
        if index in self.idx2name:
            return self.wd * self.wd_mult.get(self.idx2name[index], 1.0)
        return self.wd

    def create_state(self, index, weight):
        """The momentum buffer (zeros like weight), or None when momentum == 0."""
        return np.zeros_like(weight) if self.momentum != 0.0 else None

    def update(self, index, weight, grad, state):
        """One step for one parameter: `weight` (and `state`) are updated in place."""
        self._update_count(index)
        lr, wd = self._get_lr(index), self._get_wd(index)
        new_weight, new_mom = sgd_update(
            weight, grad, state if self.momentum > 0 else None, lr=lr, wd=wd,
            momentum=self.momentum if self.momentum > 0 else 0.0, rescale_grad=self.rescale_grad,
            clip_gradient=self.clip_gradient)
        weight[...] = new_weight
        if new_mom is not None:
            state[...] = new_mom


class Updater:
    """`mx.optimizer.get_updater(opt)`: keeps one state per index; called as updater(index, grad, weight).

    Note MXNet's argument order: grad before weight. Lists of indices/grads/weights update together.
    """

    def __init__(self, optimizer):
        self.optimizer = optimizer
        self.states = {}

    def __call__(self, index, grad, weight):
        if not isinstance(index, (list, tuple)):
            index, grad, weight = [index], [grad], [weight]
        for i, g, w in zip(index, grad, weight):
            if i not in self.states:
                self.states[i] = self.optimizer.create_state(i, w)
            self.optimizer.update(i, w, g, self.states[i])


def get_updater(optimizer):
    return Updater(optimizer)


_REGISTRY = {"sgd": SGD}


def create(name, **kwargs):
    """`mx.optimizer.create(name, **kwargs)`; only 'sgd' (any case) exists here."""
    if not isinstance(name, str) or name.lower() not in _REGISTRY:
        raise ValueError(f"optimizer.create: name must be one of {sorted(_REGISTRY)}, got {name!r}")
    return _REGISTRY[name.lower()](**kwargs)
