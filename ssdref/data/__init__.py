"""ssdref.data: the seeded synthetic shapes data set (circles, squares, triangles) with VOC-style labels."""
from ssdref.data.shapes import (CLASS_NAMES, MEAN_RGB, STD, ShapesIter, denormalize, load_split, make_images,
                                normalize, render_image, train_val_split)

__all__ = ["CLASS_NAMES", "MEAN_RGB", "STD", "ShapesIter", "denormalize", "load_split", "make_images",
           "normalize", "render_image", "train_val_split"]
