"""ssdref.eval."""
