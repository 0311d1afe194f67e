"""SSD training as example/ssd's train_net.py does it: seed symbol, Xavier init, momentum SGD, schedule.

Mirrors: example/ssd/train/train_net.py (`get_lr_scheduler`, `train_net`: Module.fit with SGD, the
MultiBoxMetric, `do_checkpoint`) and python/mxnet/model.py `save_checkpoint`, `load_checkpoint`,
`callback.do_checkpoint` (MXNet 1.9.1; spec: mxnet-graph-formats.md §5 and §8.3, mxnet-semantics.md §7).

    result = train_ssd('tiny', 64, 3, epochs=4, batch_size=16, learning_rate=0.02)
    result.arg_params, result.aux_params     # name -> float32 array, as a .params checkpoint holds them
    result.history['cross_entropy']          # one MultiBoxMetric value per update

Conventions that bite:
  * lr steps are given in epochs and turned into *update counts* (epoch_size = num_example // batch_size);
    MultiFactorScheduler decays once num_update > step, i.e. on the first update of the next epoch.
  * On resume (begin_epoch > 0) the steps already passed are applied to the returned lr and dropped;
    the remaining steps count from the resumed start (epoch_size * (step - begin_epoch)).
  * A factor >= 1 means no schedule at all: (learning_rate, None).
  * Checkpoints: `<prefix>-symbol.json` (symbol.save, when a symbol is given) and `<prefix>-%04d.params`
    with keys 'arg:'+name, then 'aux:'+name; the epoch-end callback saves epoch iter_no + 1.
  * As Module.fit: parameters are every argument but data and label, indexed in list_arguments order
    for the optimizer (so wd_mult is 0 for names ending neither in _weight nor _gamma, and the seed's
    `__lr_mult__`/`__wd_mult__` attributes apply); rescale_grad is 1 (the losses normalize themselves,
    'valid'); initialization visits sorted names and honours each variable's `__init__` attribute.
  * The training forward runs the whole seed graph, MultiBoxDetection (det_out) included.
"""
import os
import time
from typing import NamedTuple

import numpy as np

from ssdref.io.mxnet_params import checkpoint_params_path, load_params, save_params
from ssdref.optimizer import SGD, MultiFactorScheduler

INPUT_NAMES = ("data", "label")


def parse_lr_steps(lr_steps) -> list[int]:
    """'80, 160' (the example's --lr-steps string) or a sequence of ints -> [80, 160]."""
    if isinstance(lr_steps, str):
        return [int(s) for s in lr_steps.split(",") if s.strip()]
    return [int(s) for s in lr_steps]


def get_lr_scheduler(learning_rate, lr_steps, lr_factor, num_example, batch_size, begin_epoch=0):
    """(lr, MultiFactorScheduler or None) exactly as example/ssd's get_lr_scheduler computes them."""
    if not lr_factor > 0:
        raise ValueError(f"get_lr_scheduler: lr_factor must be > 0, got {lr_factor}")
    if batch_size < 1 or num_example < batch_size:
        raise ValueError(f"get_lr_scheduler: need 1 <= batch_size <= num_example, got batch_size {batch_size} "
                         f"and num_example {num_example}")
    epochs = parse_lr_steps(lr_steps)
    if lr_factor >= 1:
        return learning_rate, None
    lr = learning_rate
    epoch_size = num_example // batch_size
    for step in epochs:
        if begin_epoch >= step:
            lr *= lr_factor
    steps = [epoch_size * (step - begin_epoch) for step in epochs if step > begin_epoch]
    if not steps:
        return lr, None
    return lr, MultiFactorScheduler(step=steps, factor=lr_factor)


def save_checkpoint(prefix, epoch, symbol, arg_params, aux_params):
    """`mx.model.save_checkpoint`: '<prefix>-symbol.json' (if symbol) and '<prefix>-%04d.params'."""
    if symbol is not None:
        symbol.save(f"{prefix}-symbol.json")
    path = checkpoint_params_path(prefix, epoch)
    save_params(path, arg_params, aux_params)
    return path


def load_checkpoint(prefix, epoch, *, load_symbol=None):
    """(symbol or None, arg_params, aux_params); `load_symbol(path)` reads the JSON when given."""
    symbol = None
    json_path = f"{prefix}-symbol.json"
    if load_symbol is not None and os.path.exists(json_path):
        symbol = load_symbol(json_path)
    arg_params, aux_params = load_params(checkpoint_params_path(prefix, epoch))
    return symbol, arg_params, aux_params


class Checkpoint:
    """Epoch-end checkpointing as `mx.callback.do_checkpoint(prefix, period)`: saves epoch iter_no + 1.

    `Checkpoint(prefix, symbol=None, period=1)(iter_no, arg_params, aux_params)` writes the symbol JSON
    (once per save, as MXNet does) and the params when (iter_no + 1) % period == 0; returns the params
    path or None. Creates the prefix's folder if needed.
    """

    def __init__(self, prefix, symbol=None, period=1):
        if int(period) < 1:
            raise ValueError(f"Checkpoint: period must be >= 1, got {period}")
        self.prefix = os.fspath(prefix)
        self.symbol = symbol
        self.period = int(period)
        self.saved = []

    def __call__(self, iter_no, arg_params, aux_params):
        epoch = iter_no + 1
        if epoch % self.period:
            return None
        folder = os.path.dirname(self.prefix)
        if folder:
            os.makedirs(folder, exist_ok=True)
        path = save_checkpoint(self.prefix, epoch, self.symbol, arg_params, aux_params)
        self.saved.append(path)
        return path


class TrainResult(NamedTuple):
    """What train_ssd returns: the training symbol, its trained parameters, and the run's history.

    history: 'iteration', 'epoch', 'lr', 'cross_entropy', 'smooth_l1' (one entry per update: the
    MultiBoxMetric of that batch), 'epoch_cross_entropy', 'epoch_smooth_l1' (per epoch, accumulated
    over the epoch as the example logs them), 'seconds' (wall time per epoch), 'config' (the
    get_symbol_train keyword arguments), 'builder' (which symbol builder built the graph).
    """
    symbol: object
    arg_params: dict
    aux_params: dict
    history: dict


def build_symbols(network="tiny", data_shape=64, num_classes=3, *, config=None, use_seed_builder=True,
                  seed_path=None, train=True):
    """(symbol, config, builder): the seed's get_symbol_train (train) or get_symbol, run on ssdref.

    config: keyword overrides of get_config(network, data_shape, num_classes). With use_seed_builder,
    the seed's symbol_builder.py (seed_path, else $SSDREF_SEED or ../shared/seed/ beside the repository)
    builds the graph; when that file is missing, ssdref.model's own builder (the same graph) does, and
    `builder` says so.
    """
    from ssdref.model import get_config, symbol_builder
    from ssdref.model.seed import default_seed_path, load_seed_builder

    cfg = get_config(network, data_shape, num_classes, **(config or {}))
    builder = "ssdref.model.symbol_builder"
    module = symbol_builder
    if use_seed_builder:
        path = seed_path or default_seed_path()
        if os.path.isfile(path):
            module, builder = load_seed_builder(path), f"seed {path}"
        else:
            builder += f" (seed not found at {path})"
    # get_config returns fresh lists; the builders pop from num_filters, so hand them a copy.
    kwargs = {k: (list(v) if isinstance(v, list) else v) for k, v in cfg.items()}
    sym = module.get_symbol_train(**kwargs) if train else module.get_symbol(**kwargs)
    return sym, cfg, builder


def init_rng(seed):
    """The Generator train_ssd draws its initial parameters from (independent of the data's streams)."""
    return np.random.default_rng([int(seed), 7])


def _progress(total, enabled, desc):
    if not enabled:
        return None
    try:
        from tqdm.auto import tqdm
    except ImportError:  # the 'progress' extra is optional: fall back to a line per epoch
        return None
    return tqdm(total=total, desc=desc, unit="batch", dynamic_ncols=True, leave=True, mininterval=0.5)


def train_ssd(network="tiny", data_shape=64, num_classes=3, *, epochs=8, batch_size=16, num_train=1024,
              learning_rate=0.02, momentum=0.9, wd=0.0005, lr_steps=(), lr_factor=0.1, warmup_steps=0,
              clip_gradient=None, seed=0, progress=True, use_seed_builder=True, seed_path=None,
              config=None, data_kwargs=None, train_iter=None, initializer=None, checkpoint_prefix=None,
              checkpoint_period=1, epoch_end_callback=None, log=print):
    """Train SSD on the synthetic shapes (or `train_iter`) and return a TrainResult.

    network/data_shape/num_classes/config: the graph (see build_symbols). Data: ssdref.data.shapes
    ShapesIter(num_train, batch_size, data_shape, seed=seed, **data_kwargs), reshuffled each epoch; or
    any re-iterable `train_iter` of (data (B, 3, S, S), label (B, M, 6)) float32 batches with a
    `reset()` (called after each epoch when present). Optimizer: SGD(learning_rate, momentum, wd,
    clip_gradient) with MultiFactorScheduler steps at the epochs `lr_steps` (get_lr_scheduler) and a
    linear warm-up over `warmup_steps` updates. initializer: default the example's
    Xavier(rnd_type='gaussian', factor_type='out', magnitude=2), drawn from a Generator seeded by
    `seed`. checkpoint_prefix: MXNet checkpoints every `checkpoint_period` epochs.
    epoch_end_callback(epoch, arg_params, aux_params) runs after each epoch.
    """
    from ssdref.data.shapes import ShapesIter
    from ssdref.eval import MultiBoxMetric
    from ssdref.model.init import Xavier, init_params

    if int(epochs) < 1:
        raise ValueError(f"train_ssd: epochs must be >= 1, got {epochs}")
    if train_iter is None:
        train_iter = ShapesIter(num_train, batch_size, data_shape, seed=seed, split="train",
                                **(data_kwargs or {}))
    data_shape_4d = tuple(train_iter.provide_data[0][1])
    label_shape = tuple(train_iter.provide_label[0][1])
    batch_size = data_shape_4d[0]
    num_example = len(train_iter) * batch_size
    sym, cfg, builder = build_symbols(network, data_shape, num_classes, config=config,
                                      use_seed_builder=use_seed_builder, seed_path=seed_path)
    if use_seed_builder and "seed not found" in builder and log:
        log(f"train_ssd: {builder}; using ssdref's own get_symbol_train (the same graph)")
    param_names = [n for n in sym.list_arguments() if n not in INPUT_NAMES]
    exe = sym.simple_bind(grad_req={n: "write" for n in param_names}, data=data_shape_4d, label=label_shape)
    arg_params = {n: exe.arg_dict[n] for n in param_names}
    aux_params = dict(exe.aux_dict)
    init = initializer or Xavier(rnd_type="gaussian", factor_type="out", magnitude=2)
    init_params(init, arg_params, aux_params, sym.attr_dict(), rng=init_rng(seed))

    lr, scheduler = get_lr_scheduler(learning_rate, list(lr_steps), lr_factor, num_example, batch_size)
    if warmup_steps:
        scheduler = MultiFactorScheduler(step=scheduler.step if scheduler else [10 ** 9],
                                         factor=lr_factor if scheduler else 1, base_lr=lr,
                                         warmup_steps=int(warmup_steps))
    optimizer = SGD(learning_rate=lr, momentum=momentum, wd=wd, clip_gradient=clip_gradient,
                    lr_scheduler=scheduler, param_idx2name=dict(enumerate(param_names)), sym=sym)
    states = [optimizer.create_state(i, arg_params[n]) for i, n in enumerate(param_names)]
    checkpoint = Checkpoint(checkpoint_prefix, sym, checkpoint_period) if checkpoint_prefix else None

    history = {k: [] for k in ("iteration", "epoch", "lr", "cross_entropy", "smooth_l1",
                               "epoch_cross_entropy", "epoch_smooth_l1", "seconds")}
    history.update(config=cfg, builder=builder)
    batch_metric, epoch_metric = MultiBoxMetric(), MultiBoxMetric()
    bar = _progress(int(epochs) * len(train_iter), progress, f"train {network} {data_shape}px")
    iteration = 0
    try:
        for epoch in range(int(epochs)):
            start = time.perf_counter()
            epoch_metric.reset()
            for data, label in train_iter:
                exe.arg_dict["data"][...] = data
                exe.arg_dict["label"][...] = label
                try:
                    exe.forward(is_train=True)
                    exe.backward()
                except ValueError as exc:  # an op refusing NaN/inf inputs: the weights blew up
                    if "finite" not in str(exc):
                        raise
                    raise FloatingPointError(f"train_ssd: training diverged at update {iteration + 1} ({exc}); "
                                             f"learning_rate must be lower, got {learning_rate}") from exc
                for i, name in enumerate(param_names):
                    optimizer.update(i, arg_params[name], exe.grad_dict[name], states[i])
                current_lr = optimizer.learning_rate  # the schedule at this update's num_update
                outputs = exe.outputs
                batch_metric.reset()
                for metric in (batch_metric, epoch_metric):
                    metric.update([label], outputs)
                (_, (ce, sl1)) = batch_metric.get()
                iteration += 1
                for key, value in (("iteration", iteration), ("epoch", epoch), ("lr", float(current_lr)),
                                   ("cross_entropy", float(ce)), ("smooth_l1", float(sl1))):
                    history[key].append(value)
                bad = [n for n in param_names if not np.isfinite(arg_params[n]).all()]
                if bad or not (np.isfinite(ce) and np.isfinite(sl1)):
                    raise FloatingPointError(
                        f"train_ssd: training diverged at update {iteration} (loss {ce} / {sl1}, non-finite "
                        f"{bad[:3]}); learning_rate must be lower, got {learning_rate}")
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(epoch=epoch, CrossEntropy=f"{ce:.3f}", SmoothL1=f"{sl1:.3f}",
                                    lr=f"{current_lr:.3g}", refresh=False)
            if hasattr(train_iter, "reset"):
                train_iter.reset()
            (_, (ce, sl1)) = epoch_metric.get()
            history["epoch_cross_entropy"].append(float(ce))
            history["epoch_smooth_l1"].append(float(sl1))
            history["seconds"].append(time.perf_counter() - start)
            if bar is None and progress and log:
                log(f"epoch {epoch}: CrossEntropy {ce:.4f} SmoothL1 {sl1:.4f} ({history['seconds'][-1]:.1f} s)")
            if checkpoint is not None:
                checkpoint(epoch, arg_params, aux_params)
            if epoch_end_callback is not None:
                epoch_end_callback(epoch, arg_params, aux_params)
    finally:
        if bar is not None:
            bar.close()
    return TrainResult(sym, {n: a.copy() for n, a in arg_params.items()},
                       {n: a.copy() for n, a in aux_params.items()}, history)
