"""Attribution maps: where in space and time an encoder gets what a probe reads (captum).

``probekit attribute RUN --data worlds.h5`` explains each clip with the outer-fold probe that held
its family out, composed with the encoder up to the probe's layer, and scores the maps against the
objects' masks (energy pointing game, pointing game, leakage) with the randomisation sanity check.
"""

from probekit.attribution.run import ATTRIBUTION_FILE, AttributeConfig, run_attribute

__all__ = ["ATTRIBUTION_FILE", "AttributeConfig", "run_attribute"]
