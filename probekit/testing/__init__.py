"""Known truths for tests and demos: the planted-signal encoder and planted failure modes."""

from probekit.testing.failure_modes import FAILURE_MODES, failure_mode_layers, write_failure_mode_store

from probekit.testing.planted import (
    PLANTED_LAYERS,
    planted_layers,
    synthetic_labels,
    write_planted_store,
)

__all__ = ["FAILURE_MODES", "failure_mode_layers", "write_failure_mode_store", "PLANTED_LAYERS", "PlantedEncoder", "planted_layers", "synthetic_labels", "write_planted_store"]

from probekit.encoders.registry import register_encoder  # noqa: E402
from probekit.testing.planted_encoder import PlantedEncoder, create_planted_encoder  # noqa: E402

register_encoder("planted", create_planted_encoder, overwrite=True)
