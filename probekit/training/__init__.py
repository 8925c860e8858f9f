"""Training of the tiny V-JEPA 2 reference encoder with the JEPA objective (``probekit train``)."""
