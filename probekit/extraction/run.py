"""``probekit extract`` as a library call: stream clips through an encoder into a latent store."""

from __future__ import annotations

import os
import sys
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from probekit.encoders import Encoder, create_encoder, resolve_layers
from probekit.encoders.base import TokenLayout
from probekit.devices import DEVICES, pick_device  # noqa: F401  (re-exported: the extraction's --device)
from probekit.errors import BadOptionError
from probekit.extraction.align import align_world_labels
from probekit.extraction.pooling import GRID_CELLS, parse_pool, pool_tokens
from probekit.extraction.surprise import WindowSurprise
from probekit.sources import PER_CLIP_OBJECTS, ClipBatch, open_source
from probekit.extraction.writer import UnitWriter
from probekit.formats.store import FRAME_MID, FRAME_ORDER, TOKEN_FRAMES, feature_dataset, label_dataset

DTYPES = ("float16", "float32")
COMPRESSIONS = ("none", "gzip", "lzf")


@dataclass
class ExtractConfig:
    """Options of one extraction (the CLI flags and recipe keys have the same names)."""

    data: str
    out: str
    encoder: str = "tiny-vjepa2"
    init: str = "pretrained"
    layers: str = "all"
    pool: str = "mean,time,object"
    dtype: str = "float16"
    batch_size: int = 8
    device: str = "auto"
    precision: str = "auto"
    compression: str = "none"
    resume: bool = False
    overwrite: bool = False
    shuffle_frames: int | None = None
    frame_step: int = 1
    window: int | None = None
    stride: int | None = None
    on_bad_video: str = "skip"
    trust_remote_code: bool = False
    seed: int = 0
    threads: int | None = None
    max_clips: int | None = None
    progress: bool = True
    encoder_options: dict[str, Any] = field(default_factory=dict)
    label: str | None = None
    recipe: str | None = None
    surprise: bool = False
    format: str | None = None


def distributed_rank() -> tuple[int, int]:
    """(rank, world size) from torchrun's ``RANK`` and ``WORLD_SIZE`` (0, 1 otherwise)."""
    return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))


def shard_path(out: str | os.PathLike, rank: int, world: int) -> Path:
    """File written by ``rank`` of ``world`` ranks: ``latents.rank0-of2.h5`` beside ``latents.h5``."""
    out = Path(out)
    return out.with_name(f"{out.stem}.rank{rank}-of{world}{out.suffix or '.h5'}")


def plan_units(start: int, stop: int, batch_size: int, sizes: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Contiguous clip ranges of at most ``batch_size`` clips, never mixing frame sizes."""
    units, begin = [], start
    for i in range(start + 1, stop + 1):
        if i == stop or i - begin == batch_size or sizes[i] != sizes[begin]:
            units.append((begin, i))
            begin = i
    return units


def _validate(config: ExtractConfig) -> None:
    if config.dtype not in DTYPES:
        raise BadOptionError(f"--dtype {config.dtype!r}: use one of {', '.join(DTYPES)}")
    if config.compression not in COMPRESSIONS:
        raise BadOptionError(f"--compression {config.compression!r}: use one of {', '.join(COMPRESSIONS)}")
    if config.batch_size < 1:
        raise BadOptionError(f"--batch-size {config.batch_size}: use a positive integer")
    if config.max_clips is not None and config.max_clips < 1:
        raise BadOptionError(f"--max-clips {config.max_clips}: use a positive integer")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def estimate_bytes_per_clip(layout: TokenLayout, width: int, n_layers: int, pool: tuple[str, ...], k_max: int,
                            itemsize: int, n_special: int = 0) -> int:
    """Bytes one clip's features take in the store (labels not counted)."""
    t, h, w = layout.grid
    cells = min(h, GRID_CELLS) * min(w, GRID_CELLS)
    per_layer = {"mean": width, "time": t * width, "object": t * k_max * width, "grid": t * cells * width, "tokens": t * h * w * width}
    total = sum(per_layer[k] for k in pool) + n_special * width * (t if layout.per_frame else 1)
    return int(total * n_layers * itemsize)


def _human(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def shuffle_order(seed: int, clip_index: int, n_frames: int) -> np.ndarray:
    """The frame permutation of one clip under ``--shuffle-frames seed``."""
    return np.random.default_rng([int(seed), int(clip_index)]).permutation(n_frames).astype(np.int32)


def _apply_order(batch: ClipBatch, order: np.ndarray) -> ClipBatch:
    """Permute the frames of each clip, and every per-frame label the same way."""
    rows = np.arange(len(order))[:, None]
    labels = None
    if batch.labels is not None:
        n_frames = batch.video.shape[1]
        labels = {}
        for key, values in batch.labels.items():
            name = key.split("/", 1)[1]
            per_frame = (key in ("video/segmentation", "masks/amodal") or (
                key.startswith("objects/") and values.ndim >= 3 and values.shape[1] == n_frames and name not in PER_CLIP_OBJECTS))
            labels[key] = values[rows, order] if per_frame else values
    return ClipBatch(batch.start, batch.stop, batch.video[rows, order], labels)


def run_extract(config: ExtractConfig, encoder: Encoder | None = None) -> Path:
    """Extract latents as ``config`` says; returns the path of the complete store.

    Parameters
    ----------
    config
        The options.
    encoder
        Use this encoder instead of ``create_encoder(config.encoder, ...)`` (Python API: any
        :class:`~probekit.encoders.Encoder`, e.g. a :class:`~probekit.encoders.ModuleEncoder`).
    """
    from probekit import __version__

    _validate(config)
    rank, world = distributed_rank()
    pool = parse_pool(config.pool)
    out = Path(config.out) if world == 1 else shard_path(config.out, rank, world)
    if world > 1 and Path(config.out).exists() and not (config.overwrite or config.resume):
        raise BadOptionError(f"--out {config.out}: file exists; pass --overwrite to replace it or choose another path")
    source = open_source(config.data, frame_step=config.frame_step, window=config.window, stride=config.stride,
                         on_bad_video=config.on_bad_video, format=config.format)
    try:
        if encoder is None:
            encoder = create_encoder(config.encoder, init=config.init, seed=config.seed,
                                     trust_remote_code=config.trust_remote_code, **config.encoder_options)
        layers = resolve_layers(config.layers, encoder.n_layers)
        encoder.check_layers(layers)
        surprise = WindowSurprise(encoder) if config.surprise else None
        if surprise is not None:
            surprise.windows.starts(source.n_frames)
        n_total = source.n_clips if config.max_clips is None else min(config.max_clips, source.n_clips)
        sizes = source.frame_sizes()
        height, width = sizes[0]
        layout = encoder.layout(source.n_frames, height, width)
        for other in set(sizes[:n_total]):
            if encoder.layout(source.n_frames, *other).grid != layout.grid:
                raise BadOptionError(f"--data {config.data}: videos of {other} px give another token grid than {sizes[0]} px; "
                                     f"extract them separately")
        per_rank = -(-n_total // world)
        start, stop = min(rank * per_rank, n_total), min((rank + 1) * per_rank, n_total)
        units = plan_units(start, stop, config.batch_size, sizes) if stop > start else []

        if config.threads:
            torch.set_num_threads(int(config.threads))
        device = pick_device(config.device)
        hash_ = encoder.weight_hash()
        source_attrs = source.attrs()
        sampling = dict(source.sampling)
        signature = {
            "encoder": encoder.name, "init": encoder.init, "weight_hash": hash_, "layers": layers, "pool": list(pool),
            "dtype": config.dtype, "batch_size": config.batch_size, "source_hash": source_attrs["source_hash"],
            "sampling": sampling, "shuffle_frames": config.shuffle_frames, "clips": [start, stop], "world": world,
            "rank": rank, "device": device.type, "precision": config.precision, "compression": config.compression,
            **({"surprise": surprise.windows.describe()} if surprise is not None else {}),
        }
        writer = UnitWriter(out, {**signature, "threads": torch.get_num_threads()}, resume=config.resume, overwrite=config.overwrite)
        attrs = {
            "encoder": encoder.name, "label": display_label(encoder, config), "init": encoder.init, "weights": encoder.weights, "weight_hash": hash_,
            "config": encoder.config, "layer_indices": [int(i) for i in layers],
            "layer_names": [encoder.layer_names[i] for i in layers], "n_encoder_layers": encoder.n_layers,
            "final_norm": bool(encoder.final_norm), "dtype": config.dtype,
            "token_grid": [int(v) for v in layout.grid], "patch": [int(v) for v in layout.patch],
            "per_frame": bool(layout.per_frame), "probekit_version": __version__, "pool": list(pool),
            "sampling": sampling, "preprocessing": {**encoder.preprocessing(), "geometry": encoder.geometry(height, width).as_dict()},
            "shuffle_frames_seed": -1 if config.shuffle_frames is None else int(config.shuffle_frames),
            "batch_size": config.batch_size, "compression": config.compression, "precision": config.precision, "recipe": config.recipe or "",
            "rank": rank, "world_size": world, "clip_range": [start, stop], "n_source_clips": source.n_clips,
            **source_attrs, **{f"encoder_{k}": v for k, v in encoder.extra_attrs.items()},
            **({"surprise": surprise.windows.describe()} if surprise is not None else {}),
        }
        if "object" in pool and "masks" not in getattr(source, "provides", {"masks"}):
            why = (getattr(source, "unavailable", None) or {}).get("masks", f"{config.data} has no object masks")
            _log(f"extract: object pooling not available: {why} (object readouts will be skipped)")
        writer.open(attrs)
        if writer.already_complete:
            _log(f"{out}: already complete; nothing to resume")
        else:
            _run_units(source, encoder, writer, units, layers, pool, layout, config, device, attrs, start, stop, surprise)
    finally:
        source.close()
    if world > 1:
        _merge_ranks(config.out, rank, world)
    return out if world == 1 else Path(config.out)


def display_label(encoder: Encoder, config: ExtractConfig) -> str:
    """The store's name in tables and figures: ``--label``, else the encoder's label, its weights
    and ``shuffled`` for a shuffled-frame control (``hf:vjepa2_tiny:pretrained``)."""
    if config.label:
        return str(config.label)
    label = f"{encoder.label or encoder.name}:{encoder.weights}"
    return f"{label}:shuffled" if config.shuffle_frames is not None else label


def _run_units(source: Any, encoder: Encoder, writer: UnitWriter, units: list[tuple[int, int]], layers: list[int],
               pool: tuple[str, ...], layout: TokenLayout, config: ExtractConfig, device: torch.device,
               attrs: dict[str, Any], start: int, stop: int, surprise: WindowSurprise | None = None) -> None:
    """Encode and commit every unit not committed yet, then assemble the store."""
    if config.resume:
        recorded = writer.recorded_signature.get("threads")
        if recorded and recorded != torch.get_num_threads():
            torch.set_num_threads(int(recorded))  # same thread count as the interrupted run: same bytes
    encoder.precision = config.precision
    encoder.to(device)
    itemsize = np.dtype(config.dtype).itemsize
    width_guess = int(getattr(encoder, "width", 0) or encoder.config.get("hidden_size", 0) or 0)
    if width_guess:
        per_clip = estimate_bytes_per_clip(layout, width_guess, len(layers), pool, source.k_max, itemsize)
        _log(f"extract: {stop - start} clips x {len(layers)} layers ({', '.join(pool)}) -> about "
             f"{_human(per_clip * (stop - start))} of features in {writer.out} ({_human(per_clip)} per clip, {config.dtype})")
    else:
        _log(f"extract: {stop - start} clips x {len(layers)} layers ({', '.join(pool)}) -> {writer.out}")

    static = {TOKEN_FRAMES: layout.token_frames.astype(np.int32), FRAME_MID: layout.frame_mid}
    if surprise is not None:  # per-window predictor surprise: surprise/predictor per clip, window frames once
        static.update(surprise.static_arrays(getattr(source, "frames", np.arange(source.n_frames))))
    clip_strings = {k: v[start:stop] for k, v in source.clip_table().items()}
    writer.start_assembly(stop - start, attrs=attrs, clip_strings=clip_strings, static=static,
                          compression=config.compression, offset=start)
    for unit, (a, b) in enumerate(units):  # units committed before an interruption: labels are recomputed
        if writer.is_done(unit):
            writer.append(unit, _label_arrays(_load_unit(source, encoder, layout, config, a, b)))
    todo = [(u, a, b) for u, (a, b) in enumerate(units) if not writer.is_done(u)]
    done_clips = sum(b - a for u, (a, b) in enumerate(units) if writer.is_done(u))
    from probekit.progress import progress

    bar = progress(total=stop - start, initial=done_clips, unit="clip", desc=f"extract {encoder.name}",
                   enabled=config.progress)
    # Reading the next batch and writing the last one run in two background threads while the
    # current batch is encoded; at most one batch is being written, so memory stays bounded.
    pending: deque[Future] = deque()
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="probekit-writer") as writer_thread, \
                ThreadPoolExecutor(max_workers=1, thread_name_prefix="probekit-reader") as reader_thread:
            load = lambda a, b: reader_thread.submit(_load_unit, source, encoder, layout, config, a, b)  # noqa: E731
            upcoming = load(*todo[0][1:]) if todo else None
            for k, (unit, a, b) in enumerate(todo):
                loaded = upcoming.result()
                upcoming = load(*todo[k + 1][1:]) if k + 1 < len(todo) else None
                arrays = _encode_unit(loaded, encoder, layers, pool, config)
                if surprise is not None:
                    arrays["surprise/predictor"] = surprise(loaded.batch.video)
                derived = _label_arrays(loaded)
                while pending:  # the previous batch finished writing while this one was encoded
                    pending.popleft().result()
                pending.append(writer_thread.submit(writer.commit, unit, a, b, arrays, derived))
                pending[-1].add_done_callback(lambda _f, n=b - a: bar.update(n))
            while pending:
                pending.popleft().result()
        writer.finish(range(len(units)))
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()


@dataclass
class _LoadedUnit:
    batch: ClipBatch
    labels: dict[str, np.ndarray]
    frame_order: np.ndarray


def _load_unit(source: Any, encoder: Encoder, layout: TokenLayout, config: ExtractConfig, start: int, stop: int) -> _LoadedUnit:
    """Read clips ``start .. stop - 1``, shuffle them if asked, and align their labels."""
    batch = source.read(start, stop)
    n_frames = batch.video.shape[1]
    if config.shuffle_frames is not None:
        order = np.stack([shuffle_order(config.shuffle_frames, i, n_frames) for i in range(start, stop)])
        batch = _apply_order(batch, order)
    else:
        order = np.tile(np.arange(n_frames, dtype=np.int32), (stop - start, 1))
    height, width = batch.video.shape[2:4]
    geometry = encoder.geometry(height, width)
    labels = align_world_labels(batch.labels, geometry, layout, source.k_max) if batch.labels is not None else {}
    frames = getattr(source, "frames", None)  # world files: source frame indices; videos: sampled frames from the window start
    frame_order = frames[order] if frames is not None else order * source.frame_step
    return _LoadedUnit(batch, labels, frame_order.astype(np.int32))


def _encode_unit(loaded: _LoadedUnit, encoder: Encoder, layers: list[int], pool: tuple[str, ...],
                 config: ExtractConfig) -> dict[str, np.ndarray]:
    """Run the encoder on a loaded unit; the arrays to commit."""
    coverage = loaded.labels.get("token_coverage")
    if coverage is not None:  # converted once for all layers
        coverage = torch.from_numpy(coverage.astype(np.float32))
    if encoder.reads_labels:  # known-answer encoders of probekit.testing build tokens from labels
        output = encoder.encode_labelled(loaded.batch.video, loaded.batch.labels, layers)
    else:
        output = encoder.encode(loaded.batch.video, layers)
    arrays: dict[str, np.ndarray] = {FRAME_ORDER: loaded.frame_order}  # committed: features and frame order
    for i in layers:
        for kind, values in pool_tokens(output.tokens[i], pool, coverage, config.dtype).items():
            arrays[feature_dataset(i, kind)] = values.astype(config.dtype, copy=False)
        if i in output.special:
            arrays[feature_dataset(i, "special")] = output.special[i].detach().float().cpu().numpy().astype(config.dtype)
    return arrays


def _label_arrays(loaded: _LoadedUnit) -> dict[str, np.ndarray]:
    """The aligned labels of a unit, as store datasets (recomputed on resume, not kept in units)."""
    return {label_dataset(name): values for name, values in loaded.labels.items()}


def _merge_ranks(out: str, rank: int, world: int) -> None:
    import torch.distributed as dist

    initialised_here = False
    if not dist.is_initialized():
        dist.init_process_group("gloo")
        initialised_here = True
    try:
        dist.barrier()
        if rank == 0:
            from probekit.extraction.merge import merge_stores

            merge_stores([shard_path(out, r, world) for r in range(world)], out, overwrite=True)
            _log(f"merged {world} shards into {out}")
        dist.barrier()
    finally:
        if initialised_here:
            dist.destroy_process_group()
