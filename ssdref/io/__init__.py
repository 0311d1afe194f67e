"""ssdref.io: MXNet's file formats: `.params` checkpoints (arg:/aux: keys) and raw `nd.save` files, and
running an MXNet SSD checkpoint (`ssdref.io.checkpoint`: `run-checkpoint`)."""
from ssdref.io.checkpoint import deploy_symbol, run_checkpoint
from ssdref.io.mxnet_params import (
    checkpoint_params_path,
    dumps_ndarrays,
    load_ndarrays,
    load_params,
    loads_ndarrays,
    save_ndarrays,
    save_params,
    split_params,
)

__all__ = ["load_params", "save_params", "load_ndarrays", "save_ndarrays", "loads_ndarrays",
           "dumps_ndarrays", "split_params", "checkpoint_params_path", "deploy_symbol", "run_checkpoint"]
