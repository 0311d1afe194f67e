"""The SSD system as MXNet example/ssd builds it: base networks, feature layers, heads, losses.

    import ssdref.model as model
    net = model.get_symbol_train(**model.get_config('vgg16_reduced', 300, num_classes=20))

`get_symbol_train` / `get_symbol` have the seed's signatures (symbol_builder.py);
`get_config(network, data_shape, num_classes)` gives their arguments for every configuration of
the example's symbol_factory (plus 'tiny'); `common` holds multi_layer_feature and multibox_layer;
`networks.<name>.get_symbol(num_classes, **kwargs)` the base networks; `init` the initializers;
`seed.load_seed_builder(path)` runs the seed's own symbol_builder.py on ssdref. Every builder takes
`mx=None` (or `using_symbol_module(mxnet)`) to build the identical graph on real MXNet.
"""
from ssdref.model import common, networks
from ssdref.model.config import get_config
from ssdref.model.symbol_api import symbol_module, using_symbol_module
from ssdref.model.symbol_builder import get_symbol, get_symbol_train, import_module
from ssdref.model.test_weights import test_weights

__all__ = ["common", "get_config", "get_symbol", "get_symbol_train", "import_module", "networks",
           "symbol_module", "test_weights", "using_symbol_module"]
