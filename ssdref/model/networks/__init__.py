"""SSD base networks, each `get_symbol(num_classes, *, mx=None, **kwargs)` with MXNet's layer names.

vgg16_reduced, resnet (resnet50/resnet101 configs) and inceptionv3 mirror MXNet example/ssd/symbol
at tag 1.9.1; tiny is ssdref's own small body for fast tests and the demo.
"""
from ssdref.model.networks import inceptionv3, resnet, tiny, vgg16_reduced

NETWORKS = {"vgg16_reduced": vgg16_reduced, "resnet": resnet, "inceptionv3": inceptionv3,
            "tiny": tiny}

__all__ = ["NETWORKS", "inceptionv3", "resnet", "tiny", "vgg16_reduced"]
