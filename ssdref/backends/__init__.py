"""ssdref.backends."""
