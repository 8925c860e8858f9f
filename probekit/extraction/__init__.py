"""Streaming, resumable, shardable extraction of layer-wise latents into a latent store."""

from probekit.extraction.merge import merge_stores
from probekit.extraction.pooling import POOL_KINDS, parse_pool, pool_tokens
from probekit.extraction.run import ExtractConfig, run_extract, shard_path
from probekit.sources import VideoFolderSource, WorldSource, open_source
from probekit.extraction.writer import UnitWriter, parts_dir_for

__all__ = [
    "POOL_KINDS",
    "ExtractConfig",
    "UnitWriter",
    "VideoFolderSource",
    "WorldSource",
    "merge_stores",
    "open_source",
    "parse_pool",
    "parts_dir_for",
    "pool_tokens",
    "run_extract",
    "shard_path",
]
