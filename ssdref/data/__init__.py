"""ssdref.data."""
