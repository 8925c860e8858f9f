"""Known truths for tests and demos: the planted-signal encoder."""

from probekit.testing.planted import (
    PLANTED_LAYERS,
    planted_layers,
    synthetic_labels,
    write_planted_store,
)

__all__ = ["PLANTED_LAYERS", "PlantedEncoder", "planted_layers", "synthetic_labels", "write_planted_store"]

from probekit.encoders.registry import register_encoder  # noqa: E402
from probekit.testing.planted_encoder import PlantedEncoder, create_planted_encoder  # noqa: E402

register_encoder("planted", create_planted_encoder, overwrite=True)
