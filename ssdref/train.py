"""SSD training pieces that do not need the graph: the example's lr schedule and MXNet-format checkpoints.

Mirrors: example/ssd/train/train_net.py `get_lr_scheduler` and python/mxnet/model.py `save_checkpoint`,
`load_checkpoint`, `callback.do_checkpoint` (MXNet 1.9.1; spec: mxnet-graph-formats.md §5 and §8.3).
Conventions that bite:
  * lr steps are given in epochs and turned into *update counts* (epoch_size = num_example // batch_size);
    MultiFactorScheduler decays once num_update > step, i.e. on the first update of the next epoch.
  * On resume (begin_epoch > 0) the steps already passed are applied to the returned lr and dropped;
    the remaining steps count from the resumed start (epoch_size * (step - begin_epoch)).
  * A factor >= 1 means no schedule at all: (learning_rate, None).
  * Checkpoints: `<prefix>-symbol.json` (symbol.save, when a symbol is given) and `<prefix>-%04d.params`
    with keys 'arg:'+name, then 'aux:'+name; the epoch-end callback saves epoch iter_no + 1.
"""
import os

from ssdref.io.mxnet_params import checkpoint_params_path, load_params, save_params
from ssdref.optimizer import MultiFactorScheduler


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
