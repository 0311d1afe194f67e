"""ssdref.multibox."""
