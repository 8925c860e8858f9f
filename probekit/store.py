"""The latent store's public names (``probekit.store.Store``, ``write_store``).

The format's one home is :mod:`probekit.formats.store`; this module re-exports its reader and
whole-store writer under the documented names.
"""

from probekit.formats.store import CLIP_COLUMNS, FEATURE_KINDS, Store, write_store

__all__ = ["CLIP_COLUMNS", "FEATURE_KINDS", "Store", "write_store"]
