"""ssdref.testing."""
