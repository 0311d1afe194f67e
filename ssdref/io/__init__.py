"""ssdref.io."""
