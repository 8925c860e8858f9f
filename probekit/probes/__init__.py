"""Probe estimators (scikit-learn API) and the readout registry."""

from probekit.probes.attentive import AttentiveClassifierProbe, AttentiveRegressorProbe
from probekit.probes.linear import LogisticProbe, RidgeProbe
from probekit.probes.mlp import MLPClassifierProbe, MLPRegressorProbe
from probekit.probes.registry import READOUTS, Readout, get_readout, register_readout

__all__ = [
    "AttentiveClassifierProbe",
    "AttentiveRegressorProbe",
    "LogisticProbe",
    "MLPClassifierProbe",
    "MLPRegressorProbe",
    "READOUTS",
    "Readout",
    "RidgeProbe",
    "get_readout",
    "register_readout",
]
