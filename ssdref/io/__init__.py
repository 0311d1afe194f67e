"""ssdref.io: MXNet's file formats: `.params` checkpoints (arg:/aux: keys) and raw `nd.save` files."""
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
           "dumps_ndarrays", "split_params", "checkpoint_params_path"]
