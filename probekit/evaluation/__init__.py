"""Honest evaluation: targets from store labels, grouped folds, controls, the sweep, run dirs."""

from probekit.evaluation.run import run_probe

__all__ = ["run_probe"]
