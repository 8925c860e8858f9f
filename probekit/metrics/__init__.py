"""Probe metrics as pure functions (checked against scikit-learn and scipy in the tests)."""

from probekit.metrics.bootstrap import bootstrap_interval, contrast_bootstrap, cross_entropy_bits, paired_bootstrap
from probekit.metrics.classification import accuracy, auprc, auroc, balanced_accuracy, base_rate
from probekit.metrics.regression import mae, r2
from probekit.metrics.rotation import geodesic_deg, rot6d_to_matrix
from probekit.metrics.specs import METRIC_SPECS, MetricSpec, get_metric, register_metric

__all__ = [
    "METRIC_SPECS",
    "MetricSpec",
    "accuracy",
    "auprc",
    "auroc",
    "balanced_accuracy",
    "base_rate",
    "bootstrap_interval",
    "contrast_bootstrap",
    "cross_entropy_bits",
    "geodesic_deg",
    "get_metric",
    "mae",
    "paired_bootstrap",
    "r2",
    "register_metric",
    "rot6d_to_matrix",
]
