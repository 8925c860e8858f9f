"""Known truths for tests and demos: the planted-signal encoder."""

from probekit.testing.planted import (
    PLANTED_LAYERS,
    planted_layers,
    synthetic_labels,
    write_planted_store,
)

__all__ = ["PLANTED_LAYERS", "planted_layers", "synthetic_labels", "write_planted_store"]
