"""Probe metrics as pure functions (checked against scikit-learn and scipy in the tests)."""

from probekit.metrics.bootstrap import bootstrap_interval, contrast_bootstrap, cross_entropy_bits, paired_bootstrap
from probekit.metrics.classification import accuracy, auprc, auroc, balanced_accuracy, base_rate
from probekit.metrics.regression import mae, r2
from probekit.metrics.rotation import geodesic_deg, rot6d_to_matrix

__all__ = [
    "accuracy",
    "auprc",
    "auroc",
    "balanced_accuracy",
    "base_rate",
    "bootstrap_interval",
    "contrast_bootstrap",
    "cross_entropy_bits",
    "geodesic_deg",
    "mae",
    "paired_bootstrap",
    "r2",
    "rot6d_to_matrix",
]
