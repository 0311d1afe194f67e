"""ssdref.layers."""
