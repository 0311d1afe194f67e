"""ssdref.model."""
