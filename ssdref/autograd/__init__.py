"""ssdref.autograd."""
