"""`ssdref.contrib`: MXNet's contrib namespaces, `contrib.symbol` and `contrib.ndarray`.

Mirrors: python/mxnet/contrib/ (1.9.1). The contrib ops (MultiBoxPrior, MultiBoxTarget,
MultiBoxDetection) are the OpDefs registered with `contrib=True`; their JSON names keep the
`_contrib_` prefix (`_contrib_MultiBoxPrior`), their Python names and name hints drop it.
"""
from ssdref.contrib import ndarray, symbol

sym = symbol
nd = ndarray

__all__ = ["symbol", "ndarray", "sym", "nd"]
