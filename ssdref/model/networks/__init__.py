"""ssdref.model.networks."""
