"""Record MXNet 1.9.1's SGD updates for tests/test_optimizer.py (run in .venv-mxnet, from the repo root):

    .venv-mxnet/bin/python tests/data/sgd/make_sgd_cases.py

Builds a small symbol whose variables carry lr_mult / wd_mult (directly and through an op's attrs),
creates `mx.optimizer.create('sgd', sym=..., param_idx2name=..., ...)` as Module.init_optimizer does,
and runs a few steps through `mx.optimizer.get_updater` (the aggregated multi_sgd(_mom)_update path)
for several settings and dtypes. Writes `sgd_cases.npz` (weights before, grads, weights after every
step) and `sgd_cases.json` (settings, attr_dict, list_arguments, lr_mult / wd_mult MXNet derived).
"""
import json
import os

import mxnet as mx
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

SETTINGS = [
    {"name": "ssd_defaults", "momentum": 0.9, "wd": 0.0005, "learning_rate": 0.002, "rescale_grad": 1.0,
     "clip_gradient": None, "steps": [2, 4], "factor": 0.1, "dtype": "float32"},
    {"name": "clip_rescale", "momentum": 0.9, "wd": 0.01, "learning_rate": 0.1, "rescale_grad": 1.0 / 3,
     "clip_gradient": 0.05, "steps": None, "factor": None, "dtype": "float32"},
    {"name": "no_momentum", "momentum": 0.0, "wd": 0.01, "learning_rate": 0.1, "rescale_grad": 0.5,
     "clip_gradient": None, "steps": None, "factor": None, "dtype": "float32"},
    {"name": "no_momentum_clip", "momentum": 0.0, "wd": 0.003, "learning_rate": 0.7, "rescale_grad": 1.0,
     "clip_gradient": 0.3, "steps": None, "factor": None, "dtype": "float32"},
    {"name": "clip_zero_means_none", "momentum": 0.5, "wd": 0.0, "learning_rate": 0.3, "rescale_grad": 1.0,
     "clip_gradient": 0, "steps": None, "factor": None, "dtype": "float32"},
    {"name": "float64", "momentum": 0.9, "wd": 0.0005, "learning_rate": 0.002, "rescale_grad": 1.0 / 7,
     "clip_gradient": 0.2, "steps": [1], "factor": 0.5, "dtype": "float64"},
]
NUM_STEPS = 5


def build_symbol():
    data = mx.sym.Variable("data")
    scale = mx.sym.Variable("relu4_3_scale", shape=(1, 3, 1, 1), lr_mult=2, wd_mult=0.1)
    net = mx.sym.Convolution(data, num_filter=3, kernel=(3, 3), pad=(1, 1), name="conv1",
                             attr={"__lr_mult__": "0.5"})
    net = mx.sym.broadcast_mul(scale, net)
    net = mx.sym.BatchNorm(net, name="bn")
    net = mx.sym.FullyConnected(net, num_hidden=2, name="fc")
    return mx.sym.SoftmaxOutput(net, name="softmax")


def main():
    sym = build_symbol()
    arg_shapes, _, _ = sym.infer_shape(data=(2, 3, 4, 4))
    names = [n for n in sym.list_arguments() if n not in ("data", "softmax_label")]
    shapes = dict(zip(sym.list_arguments(), arg_shapes))
    idx2name = dict(enumerate(names))
    rng = np.random.default_rng(99)
    npz, meta = {}, {"mxnet": mx.__version__, "attr_dict": sym.attr_dict(),
                     "list_arguments": sym.list_arguments(), "param_names": names, "cases": []}
    for setting in SETTINGS:
        kwargs = {k: setting[k] for k in ("momentum", "wd", "learning_rate", "rescale_grad", "clip_gradient")}
        if setting["steps"]:
            kwargs["lr_scheduler"] = mx.lr_scheduler.MultiFactorScheduler(step=setting["steps"],
                                                                          factor=setting["factor"])
        opt = mx.optimizer.create("sgd", sym=sym, param_idx2name=idx2name, **kwargs)
        updater = mx.optimizer.get_updater(opt)
        dtype = setting["dtype"]
        weights = [mx.nd.array(rng.standard_normal(shapes[n]), dtype=dtype) for n in names]
        for i, n in enumerate(names):
            npz[f"{setting['name']}/w0/{n}"] = weights[i].asnumpy()
        lrs = []
        for step in range(1, NUM_STEPS + 1):
            grads = [mx.nd.array(rng.standard_normal(shapes[n]) * 0.3, dtype=dtype) for n in names]
            for i, n in enumerate(names):
                npz[f"{setting['name']}/g{step}/{n}"] = grads[i].asnumpy()
            # Module._update_params: one call with every index, grad before weight.
            updater(list(range(len(names))), grads, weights)
            lrs.append(opt.lr_scheduler.base_lr if opt.lr_scheduler else opt.lr)
            for i, n in enumerate(names):
                npz[f"{setting['name']}/w{step}/{n}"] = weights[i].asnumpy()
        meta["cases"].append({**setting, "lr_mult": opt.lr_mult, "wd_mult": opt.wd_mult,
                              "num_update": opt.num_update, "base_lr_after_each_step": lrs})
    np.savez(os.path.join(HERE, "sgd_cases.npz"), **npz)
    with open(os.path.join(HERE, "sgd_cases.json"), "w") as f:
        json.dump(meta, f, indent=1, sort_keys=True)
    print("recorded", [c["name"] for c in meta["cases"]], "params", names)


if __name__ == "__main__":
    main()
